package store

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin/internal/apptest"
	"github.com/otlogin/otlogin/internal/tcpproxy"
	"github.com/otlogin/otlogin/transmit"
	"github.com/otlogin/otlogin/transmit/transmittest"
)

// Instances of the two-instance deployments.
const (
	instA = 0
	instB = 1
)

// outage describes how a test takes a store's server away and brings it back.
type outage struct {
	down, up func()
	// persistent is true when the data survives (PostgreSQL behind a stopped proxy), false
	// when it is lost (Redis without persistence, killed).
	persistent bool
	// pooled returns the number of idle pooled connections.
	pooled func() int
}

// TestOutageRedis kills a private redis-server under two running app instances and starts it
// again on the same port, without restarting the app.
func TestOutageRedis(t *testing.T) {
	t.Parallel()
	srv := startRedisServer(t)
	st := open(t, srv.URL())
	runOutage(t, st, outage{down: srv.stop, up: srv.start, persistent: false,
		pooled: func() int { return int(st.b.(*redisBackend).client.PoolStats().IdleConns) }})
}

// TestOutagePostgres makes PostgreSQL refuse connections (the app reaches it through a TCP
// proxy that is stopped, which also cuts every pooled connection) and lets it back.
func TestOutagePostgres(t *testing.T) {
	t.Parallel()
	raw, proxy := tcpproxy.InFront(t, postgresURL(t))
	st := open(t, raw)
	runOutage(t, st, outage{down: proxy.Stop, up: func() { proxy.Start(t) }, persistent: true,
		pooled: func() int { return int(st.b.(*postgresBackend).pool.Stat().IdleConns()) }})
}

// runOutage checks the failure behaviour of README "When the store is down" (docs/SECURITY.md
// S7) on two instances sharing st: while the
// store is down, protected routes answer 503 (HTML and JSON, never "signed in"), public
// routes 200, and sign-in routes 503 without calling Mosaic (no code sent or spent); once it
// is back, the same app signs users in again.
func runOutage(t *testing.T, st *Store, o outage) {
	t.Helper()
	c := apptest.New(t, apptest.Options{Store: st})
	emails := c.CreateUsers("outage", 3)
	signed := c.SignedIn(instA, instB, emails[0])
	pending := c.NewClient() // has a code on its way when the store goes
	require.Equal(t, http.StatusAccepted, pending.SendOTP(instA, emails[1]).Status)
	code, ok := c.Emu.LastCode(emails[1])
	require.True(t, ok)
	warmApp(t, signed, 8)
	pooled := o.pooled()
	sends := c.Emu.Calls(transmittest.EndpointSendOTP)
	auths := c.Emu.Calls(transmittest.EndpointAuthenticateOTP)

	o.down()
	downStart, downRequests := time.Now(), 0
	for _, inst := range []int{instA, instB} {
		downRequests += 8
		anon := c.NewClient()
		r := anon.Get(inst, "/")
		assert.Equal(t, http.StatusOK, r.Status, "public route: %s", r)
		assert.Equal(t, "home", r.Body)
		assert.Equal(t, http.StatusOK, anon.Get(inst, "/healthz").Status, "public route")

		r = signed.Get(inst, "/api/me", "Accept", "application/json")
		assert.Equal(t, http.StatusServiceUnavailable, r.Status, "protected JSON route fails closed: %s", r)
		assert.Equal(t, "unavailable", r.JSON()["error"], "%s", r)
		r = signed.Get(inst, "/dashboard")
		assert.Equal(t, http.StatusServiceUnavailable, r.Status, "protected page fails closed: %s", r)
		assert.NotContains(t, r.Body, "dashboard of", "never the signed-in page")
		r = signed.Get(inst, "/auth/me", "Accept", "application/json")
		assert.Equal(t, http.StatusServiceUnavailable, r.Status, "%s", r)

		r = anon.SendOTP(inst, emails[2])
		assert.Equal(t, http.StatusServiceUnavailable, r.Status, "no code is sent that could not be stored: %s", r)
		r = anon.PostForm(inst, "/auth/link/email/send", url.Values{"email": {emails[2]}})
		assert.Equal(t, http.StatusServiceUnavailable, r.Status, "HTML form too: %s", r)
		r = pending.PostJSON(inst, "/auth/otp/authenticate", map[string]string{"passcode": code})
		assert.Equal(t, http.StatusServiceUnavailable, r.Status, "the code is not spent: %s", r)
	}
	t.Logf("outage: %d requests answered in %s (%s each on average; figures, not assertions)",
		downRequests, time.Since(downStart).Round(time.Millisecond), (time.Since(downStart) / time.Duration(downRequests)).Round(time.Millisecond))
	assert.Equal(t, sends, c.Emu.Calls(transmittest.EndpointSendOTP), "no Mosaic send while the store is down")
	assert.Zero(t, c.Emu.Calls(transmittest.EndpointSendMagicLink), "no Mosaic send while the store is down")
	assert.Equal(t, auths, c.Emu.Calls(transmittest.EndpointAuthenticateOTP), "no Mosaic authenticate while the store is down")

	o.up()
	// Requests made right after the server returns may still fail (go-redis refuses to dial
	// for up to a second once its dial circuit breaker has opened); count them, then require
	// a clean run.
	failed := 0
	require.Eventually(t, func() bool {
		r := signed.Get(instA, "/api/me", "Accept", "application/json")
		if r.Status == http.StatusServiceUnavailable {
			failed++
			return false
		}
		return true
	}, 15*time.Second, 10*time.Millisecond, "the app recovers without a restart")
	const probes = 20
	after := 0
	for i := range probes {
		r := signed.Get(i%2, "/api/me", "Accept", "application/json")
		if r.Status != http.StatusOK && r.Status != http.StatusUnauthorized {
			after++
		}
	}
	t.Logf("recovery: %d requests failed (503) before the first success, then %d of %d failed (%d idle pooled connections before the outage)",
		failed, after, probes, pooled)
	assert.Zero(t, after, "once recovered, every request succeeds")

	r := signed.Get(instA, "/api/me", "Accept", "application/json")
	if o.persistent {
		assert.Equal(t, http.StatusOK, r.Status, "the session survived: %s", r)
		assert.Equal(t, emails[0], r.JSON()["email"])
		r = pending.PostJSON(instB, "/auth/otp/authenticate", map[string]string{"passcode": code})
		assert.Equal(t, http.StatusOK, r.Status, "the pending flow survived and its code still works: %s", r)
	} else {
		assert.Equal(t, http.StatusUnauthorized, r.Status, "the session was lost with the store's data: signed out, not an error: %s", r)
		r = pending.PostJSON(instB, "/auth/otp/authenticate", map[string]string{"passcode": code})
		assert.Equal(t, http.StatusBadRequest, r.Status, "the pending flow was lost: %s", r)
		assert.Equal(t, "no_pending_login", r.JSON()["error"])
		assert.Equal(t, auths, c.Emu.Calls(transmittest.EndpointAuthenticateOTP), "still no Mosaic authenticate")
		assertCodeUnspent(t, c.Emu, emails[1], code)
	}

	fresh := c.NewClient()
	require.True(t, fresh.SignInOTP(instB, instA, emails[2]), "a new sign-in works without restarting the app")
	for _, inst := range []int{instA, instB} {
		r := fresh.Get(inst, "/api/me", "Accept", "application/json")
		assert.Equal(t, http.StatusOK, r.Status, "%s", r)
		assert.Equal(t, emails[2], r.JSON()["email"])
	}
}

// warmApp makes n browsers' worth of concurrent reads so the store's pool holds several
// connections.
func warmApp(t *testing.T, cl *apptest.Client, n int) {
	t.Helper()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for range 5 {
				r := cl.Get(apptest.Any, "/api/me", "Accept", "application/json")
				assert.Equal(t, http.StatusOK, r.Status, "%s", r)
			}
		})
	}
	wg.Wait()
}

// assertCodeUnspent redeems code at Mosaic directly: it works, so the app never spent it.
func assertCodeUnspent(t *testing.T, emu *transmittest.Server, email, code string) {
	t.Helper()
	client, err := transmit.New(transmit.Config{BaseURL: emu.BaseURL(), ClientID: emu.ClientID, ClientSecret: emu.ClientSecret})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tok, err := client.AuthenticateOTP(ctx, transmit.AuthenticateOTPRequest{Passcode: code,
		IdentifierType: transmit.IdentifierEmail, Identifier: email})
	require.NoError(t, err, "the code the app refused to use during the outage is still valid at Mosaic")
	assert.NotEmpty(t, tok.IDToken)
}
