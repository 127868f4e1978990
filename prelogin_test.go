package otlogin

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// expiryStore records the expiry of each commit.
type expiryStore struct {
	*countingStore
	mu  sync.Mutex
	exp map[string]time.Time
}

func (s *expiryStore) Commit(token string, b []byte, expiry time.Time) error {
	s.mu.Lock()
	s.exp[token] = expiry
	s.mu.Unlock()
	return s.countingStore.Commit(token, b, expiry)
}

func (s *expiryStore) UpdateCtx(ctx context.Context, token string, b []byte, expiry time.Time) (bool, error) {
	s.mu.Lock()
	s.exp[token] = expiry
	s.mu.Unlock()
	return s.countingStore.UpdateCtx(ctx, token, b, expiry)
}

func (s *expiryStore) expiryOf(token string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.exp[token]
}

// TestPreLoginSessionLifetime: a session holding only a pending flow is stored for the flow's
// lifetime (a new flow sets it again), and a sign-in gives the full SessionLifetime.
func TestPreLoginSessionLifetime(t *testing.T) {
	t.Parallel()
	st := &expiryStore{countingStore: newCountingStore(), exp: map[string]time.Time{}}
	h := newHarness(t, func(c *Config) { c.SessionStore = st })
	h.emu.CreateUser("ada@example.com", "")
	c := h.newClient()
	within := func(token string, want time.Duration, msg string) {
		t.Helper()
		left := time.Until(st.expiryOf(token))
		assert.InDelta(t, want.Seconds(), left.Seconds(), 30, "%s: stored for %s", msg, left.Round(time.Second))
	}

	r := h.postJSON(c, "/auth/otp/send", map[string]string{"channel": "email", "identifier": "ada@example.com"})
	require.Equal(t, http.StatusAccepted, r.StatusCode, r.body)
	within(h.sessionCookie(c), h.auth.cfg.OTPTTL, "a code flow")

	h.clock.Advance(time.Minute) // the flow's clock moved on: the next flow ends a minute later
	r = h.postJSON(c, "/auth/link/email/send", map[string]string{"email": "ada@example.com"})
	require.Equal(t, http.StatusAccepted, r.StatusCode, r.body)
	within(h.sessionCookie(c), h.auth.cfg.LinkTTL, "a new (link) flow sets it again")

	r = h.postJSON(c, "/auth/otp/send", map[string]string{"channel": "email", "identifier": "ada@example.com"})
	require.Equal(t, http.StatusAccepted, r.StatusCode, r.body)
	r = h.postJSON(c, "/auth/otp/authenticate", map[string]string{"passcode": h.lastCode("ada@example.com")})
	require.Equal(t, http.StatusOK, r.StatusCode, r.body)
	within(h.sessionCookie(c), h.auth.cfg.SessionLifetime, "signed in")

	// A signed-in user who starts another sign-in keeps the signed-in lifetime.
	r = h.postJSON(c, "/auth/otp/send", map[string]string{"channel": "email", "identifier": "ada@example.com"})
	require.Equal(t, http.StatusAccepted, r.StatusCode, r.body)
	within(h.sessionCookie(c), h.auth.cfg.SessionLifetime, "signed in, new flow")
}

// sessionMaxAge returns the Max-Age of the session cookie r sets, or -1 when it sets none.
func (h *harness) sessionMaxAge(r response) int {
	h.t.Helper()
	for _, c := range r.Cookies() {
		if c.Name == h.auth.sm.Cookie.Name {
			return c.MaxAge
		}
	}
	return -1
}

// TestPreLoginAppValuesKeepLifetime: a session that holds only a pending flow lives as long
// as the flow, but once the app stores a value of its own in it, it gets the full
// SessionLifetime again: the value outlives the flow, and a later send (the visitor asks for
// a new code) does not shorten the session, so the new code can be entered for its whole
// lifetime. The memory store runs on Config.Now's clock (which starts at the wall clock's
// time), so moving the clock expires what the store was given to expire.
func TestPreLoginAppValuesKeepLifetime(t *testing.T) {
	t.Parallel()
	st := NewMemoryStore()
	h := newHarness(t, func(c *Config) {
		st.now = c.Now
		c.SessionStore = st
	})
	h.emu.CreateUser("ada@example.com", "")
	ttl := int(h.auth.cfg.OTPTTL.Seconds())
	full := int(h.auth.cfg.SessionLifetime.Seconds())
	send := func(c *http.Client) response {
		t.Helper()
		r := h.postJSON(c, "/auth/otp/send", map[string]string{"channel": "email", "identifier": "ada@example.com"})
		require.Equal(t, http.StatusAccepted, r.StatusCode, r.body)
		return r
	}

	c := h.newClient()
	maxAge := h.sessionMaxAge(send(c))
	assert.LessOrEqual(t, maxAge, ttl, "a flow-only session lasts as long as the flow")
	assert.Positive(t, maxAge)
	r := h.get(c, "/app/put?k=cart&v=book")
	require.Equal(t, http.StatusOK, r.StatusCode, r.body)
	assert.Greater(t, h.sessionMaxAge(r), full-60, "an app value: the full lifetime again")
	stored, found, err := st.Find(h.sessionCookie(c))
	require.NoError(t, err)
	require.True(t, found)
	assert.NotContains(t, string(stored), keyPreLogin, "the mark is gone with the short deadline")

	h.clock.Advance(40 * time.Second)
	r = send(c) // a new code, 40 s into the first one's minute
	assert.Greater(t, h.sessionMaxAge(r), full-60, "a send keeps the lifetime of a session with app values")
	h.clock.Advance(h.auth.cfg.OTPTTL - 10*time.Second) // past the first flow, within the second
	assert.Equal(t, "book", h.get(c, "/app/get?k=cart").body, "the app's value outlived the first flow")
	r = h.postJSON(c, "/auth/otp/authenticate", map[string]string{"passcode": h.lastCode("ada@example.com")})
	require.Equal(t, http.StatusOK, r.StatusCode, "the second code works for its whole lifetime: %s", r.body)
	assert.Equal(t, "book", h.get(c, "/app/get?k=cart").body, "kept through the sign-in")
	stored, found, err = st.Find(h.sessionCookie(c))
	require.NoError(t, err)
	require.True(t, found)
	assert.NotContains(t, string(stored), keyPreLogin, "a signed-in session carries no mark")
}

// TestPreLoginMarkOnlyWhileShort: limitPreLogin marks only the sessions it shortens, and
// endPreLogin gives the full lifetime only to marked sessions that hold more than the flow:
// a session with app values before the send keeps its deadline through the send and later
// saves (its absolute lifetime is not extended), and a marked one that still holds only the
// flow keeps the flow's deadline.
func TestPreLoginMarkOnlyWhileShort(t *testing.T) {
	t.Parallel()
	a, err := New(Config{Client: testClient(t), PublicURL: "https://a.example"})
	require.NoError(t, err)
	f := &flow{Expires: a.cfg.Now().Add(time.Minute).Unix()}

	ctx, err := a.sm.Load(context.Background(), "")
	require.NoError(t, err)
	a.sm.Put(ctx, "app.cart", "book")
	deadline := a.sm.Deadline(ctx).Add(-time.Hour) // as if the session were an hour old
	a.sm.SetDeadline(ctx, deadline)
	a.saveFlow(ctx, f)
	a.limitPreLogin(ctx, f)
	assert.False(t, a.sm.Exists(ctx, keyPreLogin), "app values before the send: not marked")
	a.endPreLogin(ctx)
	assert.Equal(t, deadline, a.sm.Deadline(ctx), "its deadline is kept, not extended")

	ctx, err = a.sm.Load(context.Background(), "")
	require.NoError(t, err)
	a.saveFlow(ctx, f)
	a.limitPreLogin(ctx, f)
	assert.True(t, a.sm.Exists(ctx, keyPreLogin), "a flow-only session is marked")
	short := a.sm.Deadline(ctx)
	a.endPreLogin(ctx)
	assert.Equal(t, short, a.sm.Deadline(ctx), "still only the flow: the flow's deadline")
	a.sm.Remove(ctx, keyFlow) // the flow ended (a locked code)
	a.endPreLogin(ctx)
	assert.Equal(t, short, a.sm.Deadline(ctx), "nothing but the mark: still short")
	a.sm.Put(ctx, "app.cart", "book")
	a.endPreLogin(ctx)
	assert.False(t, a.sm.Exists(ctx, keyPreLogin), "an app value ends the mark")
	assert.True(t, a.sm.Deadline(ctx).After(short.Add(a.sm.Lifetime-time.Hour)), "and gives the full lifetime")
}

// TestPreLoginValuesSavedOutside: values the app saves in a pending visitor's session
// outside Middleware, through an sm.LoadAndSave mounted beside it or a background job's
// sm.Commit, do not expire with the flow either: the store keeps the session for the full
// lifetime at once, and the next request through Middleware sets the cookie again with it
// (the cookie set by the send, or by scs beside, still had the flow's Max-Age).
func TestPreLoginValuesSavedOutside(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"beside", "job"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			st := &expiryStore{countingStore: newCountingStore(), exp: map[string]time.Time{}}
			sm := scs.New()
			sm.Store = st
			sm.Cookie.Name = "app_session"
			h := newHarness(t, func(c *Config) { c.Sessions = sm })
			beside := httptest.NewServer(sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				sm.Put(r.Context(), "app.cart", "book")
			})))
			t.Cleanup(beside.Close)
			h.emu.CreateUser("ada@example.com", "")
			ttl := h.auth.cfg.OTPTTL
			full := sm.Lifetime

			c := h.newClient()
			r := h.postJSON(c, "/auth/otp/send", map[string]string{"channel": "email", "identifier": "ada@example.com"})
			require.Equal(t, http.StatusAccepted, r.StatusCode, r.body)
			token := h.sessionCookie(c)
			require.LessOrEqual(t, h.sessionMaxAge(r), int(ttl.Seconds()), "a flow-only session lasts as long as the flow")

			switch how {
			case "beside":
				r := h.get(c, beside.URL+"/") // the jar's cookie: same host, another port
				require.Equal(t, http.StatusOK, r.StatusCode, r.body)
			case "job":
				ctx, err := sm.Load(context.Background(), token)
				require.NoError(t, err)
				sm.Put(ctx, "app.cart", "book")
				_, _, err = sm.Commit(ctx)
				require.NoError(t, err)
			}
			assert.InDelta(t, full.Seconds(), time.Until(st.expiryOf(token)).Seconds(), 30,
				"saved outside with a value of the app's: stored for the full lifetime")

			r = h.get(c, "/app/get?k=cart")
			require.Equal(t, "book", r.body)
			assert.Greater(t, h.sessionMaxAge(r), int(full.Seconds())-60, "the next request through Middleware sets the cookie with the full lifetime")
			assert.Equal(t, token, h.sessionCookie(c))
			stored, found, err := st.Find(token)
			require.NoError(t, err)
			require.True(t, found)
			assert.NotContains(t, string(stored), keyPreLogin, "the mark is gone with the short deadline")
			assert.InDelta(t, full.Seconds(), time.Until(st.expiryOf(token)).Seconds(), 30)
			assert.Equal(t, -1, h.sessionMaxAge(h.get(c, "/app/get?k=cart")), "set once")
		})
	}
}
