package otlogin

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin/transmit/transmittest"
)

// TestRevalidateSignsOutGoneUsers: a user disabled or deleted at Mosaic is signed out at the
// first request after one revalidation period, and not before; Mosaic is asked once.
func TestRevalidateSignsOutGoneUsers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		gone func(emu *transmittest.Server, id string) bool
	}{
		{"disabled", (*transmittest.Server).DisableUser},
		{"deleted", (*transmittest.Server).DeleteUser},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			id := h.emu.CreateUser("ada@example.com", "")
			c := h.newClient()
			require.Equal(t, http.StatusSeeOther, h.signInLink(c, "ada@example.com", "/").StatusCode)
			require.True(t, tc.gone(h.emu, id))

			// Within the period nothing asks Mosaic: the user is still served.
			h.clock.Advance(defaultRevalidateEvery - time.Minute)
			assert.Equal(t, http.StatusOK, h.get(c, "/dashboard").StatusCode)
			assert.Equal(t, 0, h.emu.Calls(transmittest.EndpointRefresh))

			h.clock.Advance(2 * time.Minute)
			r := h.get(c, "/dashboard")
			assert.Equal(t, http.StatusSeeOther, r.StatusCode, "signed out after one period: %s", r.body)
			assert.Equal(t, 1, h.emu.Calls(transmittest.EndpointRefresh))
			assert.Equal(t, http.StatusUnauthorized, h.get(c, "/api/me", "Accept", "application/json").StatusCode)
			assert.Contains(t, h.logs.String(), `"outcome":"user_gone"`)
		})
	}
}

// TestRevalidateOncePerPeriod: an active user's session is revalidated once per period,
// however many requests it makes, and stays signed in.
func TestRevalidateOncePerPeriod(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.RevalidateEvery = 10 * time.Minute })
	h.emu.CreateUser("ada@example.com", "")
	c := h.newClient()
	require.Equal(t, http.StatusSeeOther, h.signInLink(c, "ada@example.com", "/").StatusCode)
	for period := 1; period <= 3; period++ {
		h.clock.Advance(10*time.Minute + time.Second)
		for range 5 {
			require.Equal(t, http.StatusOK, h.get(c, "/dashboard").StatusCode)
			h.clock.Advance(time.Minute)
		}
		assert.Equal(t, period, h.emu.Calls(transmittest.EndpointRefresh), "one Mosaic call in period %d", period)
	}
	// The refreshed tokens were saved: the access token is the newest one.
	r := h.get(c, "/token")
	assert.Equal(t, http.StatusOK, r.StatusCode)
	assert.Equal(t, 3, h.emu.Calls(transmittest.EndpointRefresh), "no extra refresh for the access token")
}

// TestRevalidateMosaicDown: while Mosaic is down revalidation signs nobody out and is not
// retried on every request; it is retried the next period.
func TestRevalidateMosaicDown(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.emu.CreateUser("ada@example.com", "")
	h.emu.CreateUser("bob@example.com", "")
	ada, bob := h.newClient(), h.newClient()
	require.Equal(t, http.StatusSeeOther, h.signInLink(ada, "ada@example.com", "/").StatusCode)
	require.Equal(t, http.StatusSeeOther, h.signInLink(bob, "bob@example.com", "/").StatusCode)

	h.emu.Force(transmittest.EndpointRefresh, transmittest.FaultUnavailable())
	h.clock.Advance(defaultRevalidateEvery + time.Minute)
	for range 3 {
		assert.Equal(t, http.StatusOK, h.get(ada, "/dashboard").StatusCode, "Mosaic down signs nobody out")
		assert.Equal(t, http.StatusOK, h.get(bob, "/api/me", "Accept", "application/json").StatusCode)
	}
	assert.Equal(t, 2, h.emu.Calls(transmittest.EndpointRefresh), "one attempt per session, not one per request")
	assert.Contains(t, h.logs.String(), `"outcome":"unavailable"`)

	h.emu.ClearForced()
	h.clock.Advance(defaultRevalidateEvery + time.Minute)
	assert.Equal(t, http.StatusOK, h.get(ada, "/dashboard").StatusCode)
	assert.Equal(t, 3, h.emu.Calls(transmittest.EndpointRefresh), "retried the next period")
}

// TestRevalidateOff: a negative RevalidateEvery never asks Mosaic.
func TestRevalidateOff(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.RevalidateEvery = -1 })
	id := h.emu.CreateUser("ada@example.com", "")
	c := h.newClient()
	require.Equal(t, http.StatusSeeOther, h.signInLink(c, "ada@example.com", "/").StatusCode)
	require.True(t, h.emu.DisableUser(id))
	h.clock.Advance(defaultRevalidateEvery + time.Minute)
	assert.Equal(t, http.StatusOK, h.get(c, "/dashboard").StatusCode)
	assert.Equal(t, 0, h.emu.Calls(transmittest.EndpointRefresh))
}

// noRevalidate turns revalidation off, for tests that count the refreshes AccessToken makes.
func noRevalidate(c *Config) { c.RevalidateEvery = -1 }

// TestAccessTokenRefreshCoalesces: parallel requests of one session share one refresh.
func TestAccessTokenRefreshCoalesces(t *testing.T) {
	t.Parallel()
	h := newHarness(t, noRevalidate)
	h.emu.CreateUser("ada@example.com", "")
	c := h.newClient()
	require.Equal(t, http.StatusSeeOther, h.signInLink(c, "ada@example.com", "/").StatusCode)
	token := h.sessionCookie(c)
	h.clock.Advance(29 * time.Minute)
	h.get(c, "/dashboard")
	h.clock.Advance(29 * time.Minute)
	h.get(c, "/dashboard")
	h.clock.Advance(3 * time.Minute)
	h.emu.SetLatency(50 * time.Millisecond)
	results := make(chan string, 8)
	for i := 0; i < 8; i++ {
		go func() {
			resp, err := h.clientWithCookie(token).Get(h.url("/token"))
			if err != nil {
				results <- "error"
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			results <- string(b)
		}()
	}
	first := <-results
	for i := 1; i < 8; i++ {
		assert.Equal(t, first, <-results)
	}
	assert.Equal(t, 1, h.emu.Calls(transmittest.EndpointRefresh))
}

// TestRefreshAcrossInstances: two instances sharing a store refresh one session at once;
// Mosaic honours one refresh token use, and the other instance picks up the rotated tokens
// from the store instead of failing.
func TestRefreshAcrossInstances(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.emu.CreateUser("ada@example.com", "")
	second, err := New(h.auth.cfg)
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("GET /token", second.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, err := second.AccessToken(r.Context())
		if err != nil {
			http.Error(w, "no token", http.StatusBadGateway)
			return
		}
		_, _ = io.WriteString(w, tok)
	})))
	srv2 := httptest.NewServer(second.Middleware(mux))
	defer srv2.Close()

	c := h.newClient()
	require.Equal(t, http.StatusSeeOther, h.signInLink(c, "ada@example.com", "/").StatusCode)
	cookie := h.sessionCookie(c)
	h.outlastAccessToken(t, c)
	h.emu.SetLatency(100 * time.Millisecond)
	type result struct {
		status int
		body   string
	}
	results := make(chan result, 2)
	for _, base := range []string{h.srv.URL, srv2.URL} {
		go func() {
			resp, err := h.clientWithCookie(cookie).Get(base + "/token")
			if err != nil {
				results <- result{}
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			results <- result{resp.StatusCode, string(b)}
		}()
	}
	r1, r2 := <-results, <-results
	h.emu.SetLatency(0)
	assert.Equal(t, http.StatusOK, r1.status, r1.body)
	assert.Equal(t, http.StatusOK, r2.status, r2.body)
	after := h.get(h.clientWithCookie(cookie), "/token")
	assert.Equal(t, http.StatusOK, after.StatusCode)
	assert.Contains(t, []string{r1.body, r2.body}, after.body, "the stored token is one of the refreshed ones")
}

// TestStaleWriteKeepsRotatedTokens: a slow request that loaded the session before a token
// refresh saves it afterwards; the rotated refresh token survives.
func TestStaleWriteKeepsRotatedTokens(t *testing.T) {
	t.Parallel()
	h := newHarness(t, noRevalidate)
	h.emu.CreateUser("ada@example.com", "")
	c := h.newClient()
	require.Equal(t, http.StatusSeeOther, h.signInLink(c, "ada@example.com", "/").StatusCode)
	cookie := h.sessionCookie(c)
	h.outlastAccessToken(t, c)
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := h.clientWithCookie(cookie).Get(h.url("/slow"))
		if err == nil {
			resp.Body.Close()
		}
	}()
	<-h.slowStarted
	first := h.get(c, "/token")
	require.Equal(t, http.StatusOK, first.StatusCode)
	close(h.slowRelease)
	<-done
	for i := 0; i < 2; i++ {
		r := h.get(c, "/token")
		assert.Equal(t, http.StatusOK, r.StatusCode)
		assert.Equal(t, first.body, r.body)
	}
	assert.Equal(t, 1, h.emu.Calls(transmittest.EndpointRefresh))
}

// TestAccessTokenRefresh: an expired access token is refreshed through Mosaic once, and the
// rotated refresh token is stored (a second refresh works).
func TestAccessTokenRefresh(t *testing.T) {
	t.Parallel()
	h := newHarness(t, noRevalidate)
	h.emu.CreateUser("ada@example.com", "")
	c := h.newClient()
	require.Equal(t, http.StatusSeeOther, h.signInLink(c, "ada@example.com", "/").StatusCode)
	t1 := h.get(c, "/token")
	require.Equal(t, http.StatusOK, t1.StatusCode)
	assert.Equal(t, t1.body, h.get(c, "/token").body)
	assert.Equal(t, 0, h.emu.Calls(transmittest.EndpointRefresh))

	for i := 1; i <= 2; i++ {
		for _, d := range []time.Duration{25 * time.Minute, 25 * time.Minute} {
			h.clock.Advance(d)
			require.Equal(t, http.StatusOK, h.get(c, "/dashboard").StatusCode) // stay within the idle timeout
		}
		h.clock.Advance(15 * time.Minute)
		updates := h.store.updates.Load()
		t2 := h.get(c, "/token")
		require.Equal(t, http.StatusOK, t2.StatusCode, "refresh %d", i)
		assert.Equal(t, int64(1), h.store.updates.Load()-updates,
			"a refresh before the answer is saved with the answer, once (not again after it)")
		assert.NotEqual(t, t1.body, t2.body)
		assert.Equal(t, i, h.emu.Calls(transmittest.EndpointRefresh))
		assert.Equal(t, t2.body, h.get(c, "/token").body, "the new token is stored")
		assert.Equal(t, i, h.emu.Calls(transmittest.EndpointRefresh))
		t1 = t2
	}
	_, err := h.auth.AccessToken(context.Background())
	assert.ErrorIs(t, err, ErrNotSignedIn)
}

// TestCookieCannotNameRotatedRecord: after a token refresh the store holds a record of the
// session's newest tokens; a cookie naming that record signs nobody in and is not looked up.
func TestCookieCannotNameRotatedRecord(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.emu.CreateUser("ada@example.com", "")
	c := h.newClient()
	require.Equal(t, http.StatusSeeOther, h.signInLink(c, "ada@example.com", "/").StatusCode)
	h.outlastAccessToken(t, c)
	require.Equal(t, http.StatusOK, h.get(c, "/token").StatusCode)
	key := h.rotatedRecordKey(t, c)

	r := h.get(h.clientWithCookie(key), "/api/me", "Accept", "application/json")
	assert.Equal(t, http.StatusUnauthorized, r.StatusCode, r.body)
	_, found, err := h.auth.storeFindKey(context.Background(), key)
	require.NoError(t, err)
	assert.True(t, found, "the record was not even read as a session (which would have destroyed it)")
}

// TestTimeoutDeletesRotatedRecord: a session ended by the idle or absolute timeout is
// destroyed together with the record of its rotated tokens.
func TestTimeoutDeletesRotatedRecord(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		steps []time.Duration // clock steps after the refresh; the last one ends the session
	}{
		{"idle", []time.Duration{31 * time.Minute}},
		{"absolute", []time.Duration{25 * time.Minute, 25 * time.Minute, 10 * time.Minute}}, // 65m + 60m > 2h
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, func(c *Config) { c.SessionLifetime = 2 * time.Hour })
			h.emu.CreateUser("ada@example.com", "")
			c := h.newClient()
			require.Equal(t, http.StatusSeeOther, h.signInLink(c, "ada@example.com", "/").StatusCode)
			h.outlastAccessToken(t, c)
			require.Equal(t, http.StatusOK, h.get(c, "/token").StatusCode)
			key := h.rotatedRecordKey(t, c)

			for i, d := range tc.steps {
				h.clock.Advance(d)
				want := http.StatusOK
				if i == len(tc.steps)-1 {
					want = http.StatusSeeOther
				}
				require.Equal(t, want, h.get(c, "/dashboard").StatusCode, "step %d", i)
			}
			_, found, err := h.auth.storeFindKey(context.Background(), key)
			require.NoError(t, err)
			assert.False(t, found, "the rotated record went with the session")
		})
	}
}

// TestLogoutForgetsRecentRefreshes: logout drops the session's entries from the in-process
// cache of recent refresh results; other sessions' entries stay.
func TestLogoutForgetsRecentRefreshes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, noRevalidate)
	h.emu.CreateUser("ada@example.com", "")
	h.emu.CreateUser("bob@example.com", "")
	ada, bob := h.newClient(), h.newClient()
	require.Equal(t, http.StatusSeeOther, h.signInLink(ada, "ada@example.com", "/").StatusCode)
	require.Equal(t, http.StatusSeeOther, h.signInLink(bob, "bob@example.com", "/").StatusCode)
	h.outlastAccessToken(t, ada, bob)
	require.Equal(t, http.StatusOK, h.get(ada, "/token").StatusCode)
	require.Equal(t, http.StatusOK, h.get(bob, "/token").StatusCode)
	recent := func() int {
		h.auth.recent.mu.Lock()
		defer h.auth.recent.mu.Unlock()
		return len(h.auth.recent.m)
	}
	require.Equal(t, 2, recent())
	require.Equal(t, http.StatusSeeOther, h.postForm(ada, "/auth/logout", nil).StatusCode)
	assert.Equal(t, 1, recent(), "ada's refresh result is forgotten, bob's stays")
}

// TestAccessTokenReadsSessionInPlace: a valid access token is read from the session as
// loaded, without having scs decode the session (nothing is saved either); once the request
// has touched the session, AccessToken reads the session's current value (here an app's Put
// of a state with another token); with another codec the session is decoded as before.
func TestAccessTokenReadsSessionInPlace(t *testing.T) {
	t.Parallel()
	for _, codec := range []scs.Codec{Codec{}, scs.GobCodec{}} {
		t.Run(fmt.Sprintf("%T", codec), func(t *testing.T) {
			t.Parallel()
			app := newSignedInApp(t, nil)
			a := app.auth
			a.sm.Codec = codec
			stored := decodeStored(t, app)
			rewriteSession(t, app, stored)
			s, err := decodeAuth(stored.values[keyAuth].([]byte))
			require.NoError(t, err)
			require.NotEmpty(t, s.accessToken)
			_, lazy := codec.(Codec)

			mux := http.NewServeMux()
			mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
				tok, err := a.AccessToken(r.Context())
				assert.NoError(t, err)
				c := r.Context().Value(sessionCtxKey{}).(*sessionCtx)
				assert.Equal(t, lazy, c.untouched(), "the session is not decoded for the token")
				_, _ = io.WriteString(w, tok)
			})
			mux.HandleFunc("/put", func(w http.ResponseWriter, r *http.Request) {
				other := *s
				other.accessToken = "put-by-the-app"
				a.sm.Put(r.Context(), keyAuth, encodeAuth(&other))
				tok, err := a.AccessToken(r.Context())
				assert.NoError(t, err)
				_, _ = io.WriteString(w, tok)
			})
			h := a.Middleware(a.RequireAuth(mux))
			do := func(path string) string {
				req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8080"+path, nil)
				req.Header.Set("Cookie", app.cookie)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
				return rec.Body.String()
			}
			before := app.stored(t)
			assert.Equal(t, s.accessToken, do("/token"))
			assert.Equal(t, before, app.stored(t), "reading the token writes nothing")
			assert.Equal(t, "put-by-the-app", do("/put"), "the session's current state, not the loaded one")
		})
	}
}

// rotatedGate is a MemoryStore whose next write of a rotated-tokens record (once armed)
// waits until released, so a test can run a logout between a refresh and its record.
type rotatedGate struct {
	*MemoryStore
	armed   atomic.Bool
	arrived chan struct{}
	release chan struct{}
}

func newRotatedGate() *rotatedGate {
	return &rotatedGate{MemoryStore: NewMemoryStore(), arrived: make(chan struct{}), release: make(chan struct{})}
}

func (g *rotatedGate) Commit(token string, b []byte, expiry time.Time) error {
	if strings.HasPrefix(token, recordKeyPrefix+"rotated-") && g.armed.CompareAndSwap(true, false) {
		close(g.arrived)
		<-g.release
	}
	return g.MemoryStore.Commit(token, b, expiry)
}

// rotatedRecords counts the records of rotated tokens in m.
func rotatedRecords(t *testing.T, m *MemoryStore) int {
	t.Helper()
	all, err := m.All()
	require.NoError(t, err)
	n := 0
	for k := range all {
		if strings.HasPrefix(k, recordKeyPrefix+"rotated-") {
			n++
		}
	}
	return n
}

// TestRefreshAfterLogoutLeavesNoRecord: a token refresh whose record of rotated tokens is
// written after a logout has deleted the session and run its cleanup (which deleted that
// record, not yet written) does not leave the record behind: it would keep the session's
// tokens in the store for the rest of the sign-in's lifetime. The old cookie stays signed
// out. A refresh of a live session keeps its record (TestCookieCannotNameRotatedRecord).
func TestRefreshAfterLogoutLeavesNoRecord(t *testing.T) {
	t.Parallel()
	st := newRotatedGate()
	h := newHarness(t, noRevalidate, func(c *Config) {
		c.SessionStore = st
		c.StoreTimeout = time.Minute // the gate holds one write while the logout runs
	})
	h.emu.CreateUser("ada@example.com", "")
	c := h.newClient()
	require.Equal(t, http.StatusSeeOther, h.signInLink(c, "ada@example.com", "/").StatusCode)
	cookie := h.sessionCookie(c)
	h.outlastAccessToken(t, c)

	st.armed.Store(true)
	slow := make(chan response, 1)
	go func() { slow <- h.get(h.clientWithCookie(cookie), "/token") }()
	<-st.arrived // refreshed at Mosaic; its record not written yet
	require.Equal(t, http.StatusNoContent, h.postJSON(c, "/auth/logout", map[string]string{}).StatusCode)
	require.NoError(t, h.auth.Shutdown(context.Background()), "the logout's cleanup ran")
	close(st.release)
	r := <-slow
	assert.Equal(t, 1, h.emu.Calls(transmittest.EndpointRefresh), "the refresh happened: %s", r.body)

	assert.Zero(t, rotatedRecords(t, st.MemoryStore), "no record of the logged-out session's tokens")
	_, found, err := st.Find(cookie)
	require.NoError(t, err)
	assert.False(t, found, "the session stays deleted")
	assert.Equal(t, http.StatusUnauthorized, h.get(h.clientWithCookie(cookie), "/api/me", "Accept", "application/json").StatusCode)
}

// TestRefreshAfterAppRenewKeepsRecord: a refresh in a request where the app renewed the
// token of the signed-in session (sm.RenewToken of Config.Sessions, which otlogin ignores:
// the session keeps its token) keeps its record of rotated tokens: the session it checks is
// the one in the store, under the loaded token, not the renewed token that is never saved.
func TestRefreshAfterAppRenewKeepsRecord(t *testing.T) {
	t.Parallel()
	st := NewMemoryStore()
	sm := scs.New()
	sm.Store = st
	sm.Cookie.Name = "app_session"
	h := newHarness(t, noRevalidate, func(c *Config) { c.Sessions = sm })
	mux := http.NewServeMux()
	mux.HandleFunc("GET /renew-token", func(w http.ResponseWriter, r *http.Request) {
		if err := sm.RenewToken(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		tok, err := h.auth.AccessToken(r.Context())
		if err != nil {
			http.Error(w, "no token", http.StatusBadGateway)
			return
		}
		_, _ = io.WriteString(w, tok)
	})
	srv := httptest.NewServer(h.auth.Middleware(mux))
	t.Cleanup(srv.Close)

	h.emu.CreateUser("ada@example.com", "")
	c := h.newClient()
	require.Equal(t, http.StatusSeeOther, h.signInLink(c, "ada@example.com", "/").StatusCode)
	h.outlastAccessToken(t, c)
	r := h.get(c, srv.URL+"/renew-token") // the jar's cookie: same host, another port
	require.Equal(t, http.StatusOK, r.StatusCode, r.body)
	require.Equal(t, 1, h.emu.Calls(transmittest.EndpointRefresh))
	assert.Equal(t, 1, rotatedRecords(t, st), "the live session's record is kept")
	assert.Equal(t, http.StatusOK, h.get(c, "/dashboard").StatusCode, "still signed in")
}

// TestAccessTokenFromGoroutines: a handler that fans out goroutines, each asking for the
// access token with the request's context while a refresh is due, gets the same token in
// each and the refresh is saved (run with -race: the request's state is shared by them).
func TestAccessTokenFromGoroutines(t *testing.T) {
	t.Parallel()
	h := newHarness(t, noRevalidate)
	mux := http.NewServeMux()
	mux.Handle("GET /fan", h.auth.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var wg sync.WaitGroup
		toks := make([]string, 4)
		errs := make([]error, 4)
		for i := range toks {
			wg.Add(1)
			go func() {
				defer wg.Done()
				toks[i], errs[i] = h.auth.AccessToken(r.Context())
			}()
		}
		wg.Wait()
		for i := range toks {
			if errs[i] != nil || toks[i] != toks[0] {
				http.Error(w, "tokens differ", http.StatusBadGateway)
				return
			}
		}
		_, _ = io.WriteString(w, toks[0])
	})))
	srv := httptest.NewServer(h.auth.Middleware(mux))
	t.Cleanup(srv.Close)

	h.emu.CreateUser("ada@example.com", "")
	c := h.newClient()
	require.Equal(t, http.StatusSeeOther, h.signInLink(c, "ada@example.com", "/").StatusCode)
	before := h.get(c, "/token").body
	h.outlastAccessToken(t, c)
	r := h.get(c, srv.URL+"/fan")
	require.Equal(t, http.StatusOK, r.StatusCode, r.body)
	assert.NotEqual(t, before, r.body, "refreshed")
	assert.Equal(t, 1, h.emu.Calls(transmittest.EndpointRefresh))
	assert.Equal(t, r.body, h.get(c, "/token").body, "the refreshed token is stored")
	assert.Equal(t, 1, h.emu.Calls(transmittest.EndpointRefresh))
}

// expiryRecorder is a MemoryStore that remembers the expiry of the last write of each key.
type expiryRecorder struct {
	*MemoryStore
	mu      sync.Mutex
	expires map[string]time.Time
}

func (e *expiryRecorder) Commit(token string, b []byte, expiry time.Time) error {
	e.mu.Lock()
	e.expires[token] = expiry
	e.mu.Unlock()
	return e.MemoryStore.Commit(token, b, expiry)
}

func (e *expiryRecorder) UpdateCtx(ctx context.Context, token string, b []byte, expiry time.Time) (bool, error) {
	ok, err := e.MemoryStore.UpdateCtx(ctx, token, b, expiry)
	if ok {
		e.mu.Lock()
		e.expires[token] = expiry
		e.mu.Unlock()
	}
	return ok, err
}

func (e *expiryRecorder) expiry(key string) time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.expires[key]
}

// TestRotatedRecordExpiresWithShortLifetime: with the app's manager's Lifetime shorter than
// the sign-in's, the session leaves the store at its deadline, and so does the record of
// its rotated tokens (it holds the newest refresh token: it must not outlive the session).
func TestRotatedRecordExpiresWithShortLifetime(t *testing.T) {
	t.Parallel()
	st := &expiryRecorder{MemoryStore: NewMemoryStore(), expires: map[string]time.Time{}}
	sm := scs.New()
	sm.Store = st
	sm.Lifetime = 2 * time.Hour
	h := newHarness(t, noRevalidate, func(c *Config) { c.Sessions = sm })
	h.emu.CreateUser("ada@example.com", "")
	c := h.newClient()
	require.Equal(t, http.StatusSeeOther, h.signInLink(c, "ada@example.com", "/").StatusCode)
	cookie := h.sessionCookie(c)
	h.outlastAccessToken(t, c)
	require.Equal(t, http.StatusOK, h.get(c, "/token").StatusCode)
	require.Equal(t, 1, h.emu.Calls(transmittest.EndpointRefresh))
	require.Equal(t, 1, rotatedRecords(t, st.MemoryStore))

	session := st.expiry(h.auth.storeKey(cookie))
	require.False(t, session.IsZero())
	var record time.Time
	all, err := st.All()
	require.NoError(t, err)
	for k := range all {
		if strings.HasPrefix(k, recordKeyPrefix+"rotated-") {
			record = st.expiry(k)
		}
	}
	assert.Equal(t, session.Unix(), record.Unix(), "the record expires with the session")
}

// TestAppDestroyDeletesRotatedRecord: when the app ends a signed-in session itself with its
// manager (Config.Sessions), inside a request Middleware serves or in a background job's
// sm.Iterate, the record of the session's rotated tokens goes with it, as at a logout.
func TestAppDestroyDeletesRotatedRecord(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"inside", "iterate-inside", "iterate-job"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			st := NewMemoryStore()
			sm := scs.New()
			sm.Store = st
			sm.Cookie.Name = "app_session"
			h := newHarness(t, noRevalidate, func(c *Config) { c.Sessions = sm })
			destroyAll := func(ctx context.Context) error {
				return sm.Iterate(ctx, func(ctx context.Context) error { return sm.Destroy(ctx) })
			}
			mux := http.NewServeMux()
			mux.HandleFunc("GET /destroy", func(w http.ResponseWriter, r *http.Request) {
				if err := sm.Destroy(r.Context()); err != nil {
					http.Error(w, err.Error(), http.StatusInternalServerError)
				}
			})
			mux.HandleFunc("GET /destroy-all", func(w http.ResponseWriter, r *http.Request) {
				if err := destroyAll(r.Context()); err != nil {
					http.Error(w, err.Error(), http.StatusInternalServerError)
				}
			})
			srv := httptest.NewServer(h.auth.Middleware(mux))
			t.Cleanup(srv.Close)

			h.emu.CreateUser("ada@example.com", "")
			c := h.newClient()
			require.Equal(t, http.StatusSeeOther, h.signInLink(c, "ada@example.com", "/").StatusCode)
			h.outlastAccessToken(t, c)
			require.Equal(t, http.StatusOK, h.get(c, "/token").StatusCode)
			require.Equal(t, 1, h.emu.Calls(transmittest.EndpointRefresh))
			require.Equal(t, 1, rotatedRecords(t, st))

			switch how {
			case "inside":
				r := h.get(c, srv.URL+"/destroy") // the jar's cookie: same host, another port
				require.Equal(t, http.StatusOK, r.StatusCode, r.body)
			case "iterate-inside":
				r := h.get(h.newClient(), srv.URL+"/destroy-all")
				require.Equal(t, http.StatusOK, r.StatusCode, r.body)
			case "iterate-job":
				require.NoError(t, destroyAll(context.Background()))
			}
			assert.Equal(t, http.StatusUnauthorized, h.get(c, "/api/me", "Accept", "application/json").StatusCode, "signed out")
			assert.Zero(t, rotatedRecords(t, st), "no record of the ended session's tokens")
		})
	}
}
