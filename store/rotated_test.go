package store_test

import (
	"context"
	"net/http"
	"strings"
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

// rotatedGate is a Store whose next write of a rotated-tokens record (once armed) waits
// until released.
type rotatedGate struct {
	*store.Store
	armed   atomic.Bool
	arrived chan struct{}
	release chan struct{}
}

func (g *rotatedGate) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	if strings.HasPrefix(token, "otlogin-rotated-") && g.armed.CompareAndSwap(true, false) {
		close(g.arrived)
		<-g.release
	}
	return g.Store.CommitCtx(ctx, token, b, expiry)
}

// TestRefreshAfterLogoutLeavesNoRecord: on every backend, a token refresh whose record of
// rotated tokens is written after a logout deleted the session and ran its cleanup leaves no
// record behind (it would hold the session's revoked tokens until the sign-in's lifetime
// ends), and the old cookie stays signed out.
func TestRefreshAfterLogoutLeavesNoRecord(t *testing.T) {
	t.Parallel()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			st := b.open(t)
			gate := &rotatedGate{Store: st, arrived: make(chan struct{}), release: make(chan struct{})}
			clock := safe.NewClock()
			c := apptest.New(t, apptest.Options{Store: st, Instances: 1,
				WrapStore: func(int, scs.Store) scs.Store { return gate },
				Config: func(cfg *otlogin.Config) {
					cfg.Now = clock.Now
					cfg.IdleTimeout = 2 * time.Hour // the clock jumps to the access token's expiry
					cfg.RevalidateEvery = -1
					cfg.StoreTimeout = time.Minute // the gate holds one write while the logout runs
				},
			})
			email := "ada-" + b.name + "@example.com"
			c.Emu.CreateUser(email, "")
			cookie := c.SignedIn(0, 0, email).SessionCookie()
			clock.Advance(59*time.Minute + 45*time.Second) // the access token is due

			gate.armed.Store(true)
			slow := make(chan apptest.Response, 1)
			go func() { slow <- c.WithCookie(cookie).Get(0, "/api/token") }()
			<-gate.arrived // refreshed at Mosaic; its record not written yet
			require.Equal(t, http.StatusNoContent, c.WithCookie(cookie).PostJSON(0, "/auth/logout", map[string]string{}).Status)
			require.NoError(t, c.Auths[0].Shutdown(context.Background()), "the logout's cleanup ran")
			close(gate.release)
			r := <-slow
			assert.Equal(t, 1, c.Emu.Calls(transmittest.EndpointRefresh), "the refresh happened: %s", r)

			all, err := st.AllCtx(context.Background())
			require.NoError(t, err)
			for k := range all {
				assert.False(t, strings.HasPrefix(k, "otlogin-rotated-"), "a record of the logged-out session's tokens: %s", k)
			}
			assert.NotContains(t, all, cookie, "the session stays deleted")
			assert.Equal(t, http.StatusUnauthorized, c.WithCookie(cookie).Get(0, "/api/me").Status)
		})
	}
}
