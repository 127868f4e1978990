package store_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin"
	"github.com/otlogin/otlogin/internal/apptest"
	"github.com/otlogin/otlogin/internal/apptest/safe"
	"github.com/otlogin/otlogin/store"
	"github.com/otlogin/otlogin/transmit/transmittest"
)

// Instances of the two-instance deployments.
const (
	instA = 0
	instB = 1
)

// backend opens a session store for a scale-out test.
type backend struct {
	name string
	open func(t *testing.T) *store.Store
	// shared is true when the store also shares rate limits (Store.Limiter is not nil).
	shared bool
}

func backends() []backend {
	return []backend{
		// One in-process store given to both instances: sessions are shared (same process),
		// rate limits are not (each otlogin.New falls back to its own memory limiter).
		{"memory", func(t *testing.T) *store.Store { return store.OpenForTest(t, "memory") }, false},
		{"redis", func(t *testing.T) *store.Store { return store.OpenForTest(t, store.RedisURLForTest(t)) }, true},
		{"postgres", func(t *testing.T) *store.Store { return store.OpenForTest(t, store.PostgresURLForTest(t)) }, true},
	}
}

// TestScaleOut runs two instances of the app on one store and one emulator, behind a load
// balancer, and moves each browser between them.
func TestScaleOut(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		run  func(t *testing.T, c *apptest.Cluster)
	}{
		{"SignInOnAServedByB", testSignInOnAServedByB},
		{"LinkSentByACompletedByB", testLinkSentByACompletedByB},
		{"OTPSentByAAuthenticatedByB", testOTPSentByAAuthenticatedByB},
		{"LogoutOnBEndsSessionOnA", testLogoutOnBEndsSessionOnA},
	}
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			st := b.open(t)
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.run(t, apptest.New(t, apptest.Options{Store: st}))
				})
			}
		})
	}
}

// signedInAs asserts that instance inst sees the browser signed in as email.
func signedInAs(t *testing.T, cl *apptest.Client, inst int, email string) {
	t.Helper()
	r := cl.Get(inst, "/api/me", "Accept", "application/json")
	require.Equal(t, http.StatusOK, r.Status, "%s", r)
	assert.Equal(t, email, r.JSON()["email"], "%s", r)
	assert.Equal(t, itoa(inst), r.ServedBy, "answered by the instance asked for")
	r = cl.Get(inst, "/dashboard")
	require.Equal(t, http.StatusOK, r.Status, "%s", r)
	assert.Equal(t, "dashboard of "+email, r.Body)
}

func itoa(i int) string { return string(rune('0' + i)) }

func testSignInOnAServedByB(t *testing.T, c *apptest.Cluster) {
	email := c.CreateUsers("ab", 1)[0]
	cl := c.SignedIn(instA, instA, email)
	signedInAs(t, cl, instB, email)
	signedInAs(t, cl, instA, email)
}

func testLinkSentByACompletedByB(t *testing.T, c *apptest.Cluster) {
	email := c.CreateUsers("link", 1)[0]
	cl := c.NewClient()
	r := cl.PostForm(instA, "/auth/link/email/send", url.Values{"email": {email}, "next": {"/dashboard"}})
	require.Equal(t, http.StatusOK, r.Status, "%s", r)
	require.Equal(t, "0", r.ServedBy)
	link, ok := c.Emu.LastLink(email)
	require.True(t, ok, "a link was emailed")
	require.True(t, strings.HasPrefix(link, c.PublicURL+"/auth/link/email/callback?"), "the link points at the public URL: %s", link)
	u, err := url.Parse(link)
	require.NoError(t, err)

	r = cl.Get(instB, u.RequestURI())
	require.Equal(t, http.StatusSeeOther, r.Status, "instance B finds A's pending flow and redeems the link: %s", r)
	assert.Equal(t, "/dashboard", r.Header.Get("Location"))
	assert.Equal(t, 1, c.Emu.Calls(transmittest.EndpointAuthenticateMagicLink))
	signedInAs(t, cl, instA, email)
	signedInAs(t, cl, instB, email)
}

func testOTPSentByAAuthenticatedByB(t *testing.T, c *apptest.Cluster) {
	email := c.CreateUsers("otp", 1)[0]
	cl := c.NewClient()
	r := cl.SendOTP(instA, email)
	require.Equal(t, http.StatusAccepted, r.Status, "%s", r)
	require.Equal(t, "0", r.ServedBy)
	r = cl.AuthenticateOTP(instB, email)
	require.Equal(t, http.StatusOK, r.Status, "instance B finds A's pending OTP flow: %s", r)
	require.Equal(t, "1", r.ServedBy)
	signedInAs(t, cl, instA, email)
}

func testLogoutOnBEndsSessionOnA(t *testing.T, c *apptest.Cluster) {
	email := c.CreateUsers("logout", 1)[0]
	cl := c.SignedIn(instA, instA, email)
	old := cl.SessionCookie()
	require.NotEmpty(t, old)

	r := cl.PostJSON(instB, "/auth/logout", map[string]string{})
	require.Equal(t, http.StatusNoContent, r.Status, "%s", r)
	require.NoError(t, c.Auths[instB].Shutdown(t.Context()), "the background revocation ends")
	assert.Equal(t, 1, c.Emu.Calls(transmittest.EndpointLogout), "the Mosaic session is revoked")

	stale := c.WithCookie(old) // a copy of the cookie taken before the logout
	r = stale.Get(instA, "/api/me", "Accept", "application/json")
	assert.Equal(t, http.StatusUnauthorized, r.Status, "A refuses the old cookie: %s", r)
	r = stale.Get(instA, "/dashboard", "Sec-Fetch-Mode", "navigate") // a browser opening the page
	assert.Equal(t, http.StatusSeeOther, r.Status, "%s", r)
	assert.True(t, strings.HasPrefix(r.Header.Get("Location"), "/auth/login?"), "%s", r)
	r = cl.Get(instA, "/api/me", "Accept", "application/json")
	assert.Equal(t, http.StatusUnauthorized, r.Status, "the browser itself is signed out everywhere: %s", r)
}

// TestScaleOutRateLimitShared sends to one address through both instances: the per-address
// limit counts every send, whichever instance took it, and Mosaic sees exactly the limit.
// It guards against limiter key names that differ between instances (as when they were an
// HMAC under a random key drawn by each otlogin.New: 6 of 6 sends reached Mosaic with limit 4).
func TestScaleOutRateLimitShared(t *testing.T) {
	t.Parallel()
	const limit = 4
	for _, b := range backends() {
		if !b.shared {
			continue // the memory store has no shared limiter: nothing to show
		}
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			c := apptest.New(t, apptest.Options{Store: b.open(t), Config: func(cfg *otlogin.Config) {
				cfg.Limits.SendsPerIdentifier = otlogin.Rate{N: limit}
			}})
			email := c.CreateUsers("limit", 1)[0]
			cl := c.NewClient()
			for i := range limit {
				r := cl.SendOTP(i%2, email)
				require.Equal(t, http.StatusAccepted, r.Status, "send %d through instance %d: %s", i+1, i%2, r)
			}
			for _, inst := range []int{instA, instB} {
				r := cl.SendOTP(inst, email)
				assert.Equal(t, http.StatusTooManyRequests, r.Status, "send %d through instance %d is over the shared limit: %s", limit+1, inst, r)
				assert.NotEmpty(t, r.Header.Get("Retry-After"))
			}
			assert.Equal(t, limit, c.Emu.Calls(transmittest.EndpointSendOTP), "Mosaic was asked exactly limit times")
		})
	}
}

// TestScaleOutConcurrentSignIns signs 200 users in at once, each sending through one instance
// and authenticating through the other, then checks that every browser still sees its own
// identity on both instances: no lost session, no cross-user read.
func TestScaleOutConcurrentSignIns(t *testing.T) {
	t.Parallel()
	const users, parallel = 200, 32
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			c := apptest.New(t, apptest.Options{Store: b.open(t), Config: func(cfg *otlogin.Config) {
				cfg.Limits.SendsPerIP = otlogin.Rate{N: -1} // every test browser is 127.0.0.1
			}})
			emails := c.CreateUsers("conc", users)
			clients := make([]*apptest.Client, users)
			var signedIn, lost, crossed, failedChecks atomic.Int64
			sem := make(chan struct{}, parallel)
			var wg sync.WaitGroup
			for i, email := range emails {
				clients[i] = c.NewClient()
				wg.Go(func() {
					sem <- struct{}{}
					defer func() { <-sem }()
					if clients[i].SignInOTP(i%2, (i+1)%2, email) {
						signedIn.Add(1)
					}
				})
			}
			wg.Wait()
			for i, email := range emails {
				wg.Go(func() {
					sem <- struct{}{}
					defer func() { <-sem }()
					for _, inst := range []int{instA, instB} {
						r := clients[i].Get(inst, "/api/me", "Accept", "application/json")
						switch {
						case r.Status == http.StatusUnauthorized:
							lost.Add(1)
						case r.Status != http.StatusOK:
							failedChecks.Add(1)
						case r.JSON()["email"] != email:
							crossed.Add(1)
						}
					}
				})
			}
			wg.Wait()
			t.Logf("%s: %d users, %d signed in, %d lost sessions, %d cross-user reads, %d other failures (%d reads of /api/me)",
				b.name, users, signedIn.Load(), lost.Load(), crossed.Load(), failedChecks.Load(), 2*users)
			assert.Equal(t, int64(users), signedIn.Load(), "every sign-in succeeded")
			assert.Zero(t, lost.Load(), "no lost sessions")
			assert.Zero(t, crossed.Load(), "no browser sees another user")
			assert.Zero(t, failedChecks.Load())
			assert.Equal(t, users, c.Emu.Calls(transmittest.EndpointAuthenticateOTP), "one Mosaic authenticate per user")
		})
	}
}

// signedInWithTokenTTL starts two instances on b whose Mosaic tokens last a minute and
// whose clock is clk, with wrap as Options.WrapStore, and signs one new user (named for
// prefix) in through instance A.
func signedInWithTokenTTL(t *testing.T, b backend, prefix string, wrap func(int, scs.Store) scs.Store) (
	c *apptest.Cluster, cl *apptest.Client, clk *safe.Clock) {
	t.Helper()
	clk = safe.NewClock()
	emu := transmittest.NewTestServer(t, transmittest.Options{TokenTTL: time.Minute})
	c = apptest.New(t, apptest.Options{Store: b.open(t), Emulator: emu, WrapStore: wrap,
		Config: func(cfg *otlogin.Config) { cfg.Now = clk.Now }})
	email := c.CreateUsers(prefix, 1)[0]
	cl = c.SignedIn(instA, instA, email)
	return c, cl, clk
}

// TestScaleOutAccessTokenRefresh has one browser ask both instances at once for its Mosaic
// access token when it is about to expire: both must answer with a valid token, although
// Mosaic's refresh tokens are single-use.
//
// Coalescing refreshes inside one process (singleflight, a cache of recent results) is not
// enough: two instances that loaded the session before either saved the rotated token both
// present the same refresh token, Mosaic refuses the second, and without re-reading the
// store that instance answered 502 (3 of 3 runs on every backend before otlogin's fix).
func TestScaleOutAccessTokenRefresh(t *testing.T) {
	t.Parallel()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			c, cl, clk := signedInWithTokenTTL(t, b, "refresh", nil)
			emu := c.Emu
			r := cl.Get(instA, "/api/token")
			require.Equal(t, http.StatusOK, r.Status, "%s", r)
			first := r.Body

			clk.Advance(45 * time.Second) // within 30s of the 1m expiry: the next call refreshes
			emu.SetLatency(200 * time.Millisecond)
			var rA, rB apptest.Response
			var wg sync.WaitGroup
			wg.Go(func() { rA = cl.Get(instA, "/api/token") })
			wg.Go(func() { rB = cl.Get(instB, "/api/token") })
			wg.Wait()
			emu.SetLatency(0)
			t.Logf("%s: A %d, B %d; %d refresh calls", b.name, rA.Status, rB.Status, c.Emu.Calls(transmittest.EndpointRefresh))
			assert.Equal(t, http.StatusOK, rA.Status, "instance A")
			assert.Equal(t, http.StatusOK, rB.Status, "instance B: %s", rB)
			r = cl.Get(instB, "/api/token")
			assert.Equal(t, http.StatusOK, r.Status, "afterwards: %s", r)
			assert.NotEqual(t, first, r.Body, "a refreshed token")
		})
	}
}

// readGate holds instance B's first session read once armed: B has loaded the session
// (loaded is closed) but the read returns only when release is closed, like a request whose
// handler works for a while between loading the session and saving it.
type readGate struct {
	armed   atomic.Bool
	once    sync.Once
	loaded  chan struct{}
	release chan struct{}
}

// gatedReads is a store whose reads pass through a readGate.
type gatedReads struct {
	*store.Store
	gate *readGate
}

func (s gatedReads) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	b, found, err := s.Store.FindCtx(ctx, token)
	if s.gate.armed.Load() {
		first := false
		s.gate.once.Do(func() { first = true })
		if first {
			close(s.gate.loaded)
			<-s.gate.release
		}
	}
	return b, found, err
}

// TestScaleOutStaleWriteKeepsRotatedTokens has instance B save a session it loaded before
// instance A refreshed the tokens in it (B records the user's activity, which it does at most
// once a minute). Afterwards the user must still get an access token: B's write must not
// bring back the refresh token Mosaic has rotated away. (Without otlogin re-reading the stored
// signed-in state before such a save, B answered 502 on every backend: the lost update.)
func TestScaleOutStaleWriteKeepsRotatedTokens(t *testing.T) {
	t.Parallel()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			gate := &readGate{loaded: make(chan struct{}), release: make(chan struct{})}
			c, cl, clk := signedInWithTokenTTL(t, b, "stale", func(i int, s scs.Store) scs.Store {
				if i == instB {
					return gatedReads{Store: s.(*store.Store), gate: gate}
				}
				return s
			})

			clk.Advance(61 * time.Second) // the access token has expired and B will record activity
			gate.armed.Store(true)
			var rB apptest.Response
			bDone := make(chan struct{})
			go func() {
				defer close(bDone)
				rB = cl.Get(instB, "/api/me", "Accept", "application/json")
			}()
			select {
			case <-gate.loaded: // B has read the session and is still working
			case <-time.After(10 * time.Second):
				close(gate.release)
				t.Fatal("instance B never read the session")
			}
			rA := cl.Get(instA, "/api/token") // A refreshes and saves the rotated tokens
			close(gate.release)               // only now does B go on to save its stale copy
			<-bDone
			require.Equal(t, http.StatusOK, rB.Status, "%s", rB)
			require.Equal(t, http.StatusOK, rA.Status, "A refreshed: %s", rA)

			// B first: A would heal the store from its in-process cache of recent refreshes.
			for _, inst := range []int{instB, instA} {
				r := cl.Get(inst, "/api/token")
				assert.Equal(t, http.StatusOK, r.Status, "instance %d still gets an access token after B's stale write: %s", inst, r)
			}
			t.Logf("%s: %d refresh calls", b.name, c.Emu.Calls(transmittest.EndpointRefresh))
		})
	}
}
