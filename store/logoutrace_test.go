package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
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
)

// raceSessions is the number of signed-in browsers of TestLogoutRaceTwoInstances.
const raceSessions = 240

// TestLogoutRaceTwoInstances signs in raceSessions browsers, then for each one logs out on
// instance A while instance B, holding the same cookie, writes the session: half send a
// passcode (which saves a new flow in the session), half make a plain GET whose activity
// record is due (the clock moved past the idle step). The two requests start a random
// 0–3 ms apart, in either order. A save of a session that a logout deleted meanwhile must
// not bring it back: afterwards no old cookie may be signed in anywhere.
func TestLogoutRaceTwoInstances(t *testing.T) {
	t.Parallel()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			st := b.open(t)
			clock := safe.NewClock()
			many := otlogin.Rate{N: 100000, Per: time.Hour}
			opts := apptest.Options{Store: st, Config: func(cfg *otlogin.Config) {
				cfg.Now = clock.Now
				cfg.Limits = otlogin.Limits{SendsPerIdentifier: many, SendsPerIP: many, AttemptsPerIdentifier: many}
			}}
			if b.name == "memory" {
				// An in-process store answers in microseconds; give each call the latency of a
				// store across the network, as Redis and PostgreSQL have.
				opts.WrapStore = func(_ int, s scs.Store) scs.Store { return latencyStore{s.(*store.Store), time.Millisecond} }
				cfg := opts.Config
				opts.Config = func(c *otlogin.Config) {
					cfg(c)
					c.AllowLocalLimits = true // the wrapper hides the memory store; limits are not under test
				}
			}
			c := apptest.New(t, opts)
			emails := c.CreateUsers("race-"+b.name, raceSessions)
			cookies := make([]string, raceSessions)
			sem := make(chan struct{}, 16)
			var wg sync.WaitGroup
			for i, email := range emails {
				wg.Add(1)
				go func() {
					defer wg.Done()
					sem <- struct{}{}
					defer func() { <-sem }()
					cl := c.NewClient()
					if cl.SignInOTP(instA, instA, email) {
						cookies[i] = cl.SessionCookie()
					}
				}()
			}
			wg.Wait()
			for i := range cookies {
				require.NotEmpty(t, cookies[i], "browser %d is signed in", i)
			}
			clock.Advance(2 * time.Minute) // every session's activity record is now due

			var logoutsOK atomic.Int64
			start := make(chan struct{})
			for i := range cookies {
				wg.Add(2)
				d1 := time.Duration(rand.IntN(3000)) * time.Microsecond
				d2 := time.Duration(rand.IntN(3000)) * time.Microsecond
				go func() {
					defer wg.Done()
					<-start
					time.Sleep(d1)
					r := c.WithCookie(cookies[i]).PostJSON(instA, "/auth/logout", map[string]string{})
					if r.Status == http.StatusNoContent {
						logoutsOK.Add(1)
					}
				}()
				go func() {
					defer wg.Done()
					<-start
					time.Sleep(d2)
					cl := c.WithCookie(cookies[i])
					if i%2 == 0 {
						cl.SendOTP(instB, emails[i])
					} else {
						cl.Get(instB, "/api/me", "Accept", "application/json")
					}
				}()
			}
			close(start)
			wg.Wait()
			require.EqualValues(t, raceSessions, logoutsOK.Load(), "every logout answered 204")

			resurrected := 0
			for i := range cookies {
				for _, inst := range []int{instA, instB} {
					r := c.WithCookie(cookies[i]).Get(inst, "/api/me", "Accept", "application/json")
					if r.Status != http.StatusUnauthorized {
						resurrected++
						break
					}
				}
			}
			t.Logf("%s: resurrected sessions after logout: %d of %d", b.name, resurrected, raceSessions)
			assert.Zero(t, resurrected, fmt.Sprintf("%d sessions were still signed in after a successful logout", resurrected))
		})
	}
}

// latencyStore delays every call to a Store by d.
type latencyStore struct {
	s *store.Store
	d time.Duration
}

func (l latencyStore) Find(token string) ([]byte, bool, error) {
	return l.FindCtx(context.Background(), token)
}

func (l latencyStore) Commit(token string, b []byte, expiry time.Time) error {
	return l.CommitCtx(context.Background(), token, b, expiry)
}

func (l latencyStore) Delete(token string) error { return l.DeleteCtx(context.Background(), token) }

func (l latencyStore) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	time.Sleep(l.d)
	return l.s.FindCtx(ctx, token)
}

func (l latencyStore) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	time.Sleep(l.d)
	return l.s.CommitCtx(ctx, token, b, expiry)
}

func (l latencyStore) DeleteCtx(ctx context.Context, token string) error {
	time.Sleep(l.d)
	return l.s.DeleteCtx(ctx, token)
}

func (l latencyStore) UpdateCtx(ctx context.Context, token string, b []byte, expiry time.Time) (bool, error) {
	time.Sleep(l.d)
	return l.s.UpdateCtx(ctx, token, b, expiry)
}
