package store

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin"
	"github.com/otlogin/otlogin/internal/apptest"
	"github.com/otlogin/otlogin/internal/tcpproxy"
)

func TestStallRedis(t *testing.T) {
	t.Parallel()
	raw, p := tcpproxy.InFront(t, redisURL(t))
	runStall(t, raw, p)
}

func TestStallPostgres(t *testing.T) {
	t.Parallel()
	raw, p := tcpproxy.InFront(t, postgresURL(t))
	runStall(t, raw, p)
}

// runStall stalls the store's server under a running app: every request that needs the
// store answers 503 within Config.StoreTimeout (plus a margin), the way it does when the
// store is down, instead of waiting for the stall to end.
func runStall(t *testing.T, raw string, p *tcpproxy.Proxy) {
	t.Helper()
	const storeTimeout = time.Second
	st := open(t, raw)
	c := apptest.New(t, apptest.Options{Store: st, Instances: 1, Config: func(cfg *otlogin.Config) {
		cfg.StoreTimeout = storeTimeout
	}})
	emails := c.CreateUsers("stall", 2)
	signed := c.SignedIn(0, 0, emails[0])
	require.Equal(t, http.StatusOK, signed.Get(0, "/api/me", "Accept", "application/json").Status)

	p.Hold()
	t.Cleanup(p.Release) // before the proxy closes: the store's Close must not hang
	bound := storeTimeout + 3*time.Second
	for _, step := range []struct {
		name string
		do   func() apptest.Response
	}{
		{"signed-in request (session load)", func() apptest.Response {
			return signed.Get(0, "/api/me", "Accept", "application/json")
		}},
		{"send (store probe)", func() apptest.Response {
			return c.NewClient().SendOTP(0, emails[1])
		}},
	} {
		start := time.Now()
		r := step.do()
		took := time.Since(start)
		t.Logf("%s while the store stalls: %d in %s", step.name, r.Status, took.Round(time.Millisecond))
		assert.Less(t, took, bound, "%s: answered after %s (StoreTimeout %s)", step.name, took, storeTimeout)
		assert.Equal(t, http.StatusServiceUnavailable, r.Status, "%s: %s", step.name, r)
	}
}
