package otlogin

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/otlogin/otlogin/transmit/transmittest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLoadedSessionsAreUpdatedNewOnesInserted: a session loaded from the store is saved with
// the store's atomic update (never Commit, which would create it again); a new session and
// the renewed session of a sign-in are inserts.
func TestLoadedSessionsAreUpdatedNewOnesInserted(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.emu.CreateUser("ada@example.com", "")
	c := h.newClient()
	require.Equal(t, http.StatusSeeOther, h.signInLink(c, "ada@example.com", "/").StatusCode)
	assert.Zero(t, h.store.updates.Load(), "the first save and the sign-in's renewed session are inserts")
	commits := h.store.commits.Load()
	h.clock.Advance(2 * time.Minute)
	require.Equal(t, http.StatusOK, h.get(c, "/dashboard").StatusCode)
	assert.EqualValues(t, 1, h.store.updates.Load(), "the activity record is an update")
	assert.Equal(t, commits+1, h.store.commits.Load(), "and nothing else was written")

	// The same write after a logout updates nothing and creates nothing.
	token := h.sessionCookie(c)
	require.Equal(t, http.StatusSeeOther, h.postForm(c, "/auth/logout", nil).StatusCode)
	h.clock.Advance(2 * time.Minute)
	r := h.get(h.clientWithCookie(token), "/auth/me", "Accept", "application/json")
	assert.Equal(t, http.StatusUnauthorized, r.StatusCode)
	found, err := h.auth.storeHas(t.Context(), token)
	require.NoError(t, err)
	assert.False(t, found)
}

// TestStoreWithoutUpdateIsLoggedOnce: New warns once when the session store cannot update
// atomically, and stays silent when it can; such a store still works (check, then write).
func TestStoreWithoutUpdateIsLoggedOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.SessionStore = plainStore{newCountingStore()} })
	assert.Equal(t, 1, strings.Count(h.logs.String(), "no_atomic_update"), h.logs.String())
	h.emu.CreateUser("ada@example.com", "")
	c := h.newClient()
	require.Equal(t, http.StatusSeeOther, h.signInLink(c, "ada@example.com", "/").StatusCode)
	h.clock.Advance(2 * time.Minute)
	require.Equal(t, http.StatusOK, h.get(c, "/dashboard").StatusCode)
	assert.Equal(t, 1, strings.Count(h.logs.String(), "no_atomic_update"), "logged once, at New only")

	h2 := newHarness(t)
	assert.NotContains(t, h2.logs.String(), "no_atomic_update")
}

// TestCommitBeforeFirstByte: the session is saved and Set-Cookie written before the body,
// on Write, WriteHeader and Flush, and at the end when nothing was written; the writer
// unwraps for http.ResponseController (adapters depend on this).
func TestCommitBeforeFirstByte(t *testing.T) {
	t.Parallel()
	a, err := New(Config{Client: testClient(t), PublicURL: "http://localhost"})
	require.NoError(t, err)
	cases := map[string]func(w http.ResponseWriter){
		"Write":       func(w http.ResponseWriter) { _, _ = io.WriteString(w, "body") },
		"WriteHeader": func(w http.ResponseWriter) { w.WriteHeader(http.StatusCreated) },
		"Flush":       func(w http.ResponseWriter) { require.NoError(t, http.NewResponseController(w).Flush()) },
		"nothing":     func(w http.ResponseWriter) {},
	}
	for name, write := range cases {
		t.Run(name, func(t *testing.T) {
			h := a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				a.sm.Put(r.Context(), "app.key", "v")
				write(w)
				w.Header().Set("X-Late", "1") // after the first byte: too late for headers
			}))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
			cookies := rec.Result().Cookies()
			require.Len(t, cookies, 1)
			assert.Equal(t, "otlogin", cookies[0].Name)
			found, err := a.storeHas(context.Background(), cookies[0].Value)
			require.NoError(t, err)
			assert.True(t, found)
		})
	}
	t.Run("unchanged session writes no cookie", func(t *testing.T) {
		rec := httptest.NewRecorder()
		a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "x")
		})).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		assert.Empty(t, rec.Result().Cookies())
		assert.Equal(t, "Cookie", rec.Header().Get("Vary"))
	})
	t.Run("junk cookie is no session", func(t *testing.T) {
		for _, v := range []string{strings.Repeat("a", 5000), "%00", `"quoted"`, "a;b"} {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodGet, "/me", nil)
			req.AddCookie(&http.Cookie{Name: "otlogin", Value: url.QueryEscape(v)})
			a.RequireAuth(http.NotFoundHandler()).ServeHTTP(rec, req)
			assert.Equal(t, http.StatusUnauthorized, rec.Code)
		}
	})
}

// TestStoreFailsOnCommit: the store loads but cannot save the new session: the login
// answers 503, nobody is signed in, and the new Mosaic session is ended.
func TestStoreFailsOnCommit(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.emu.CreateUser("ada@example.com", "")
	c := h.newClient()
	h.postJSON(c, "/auth/otp/send", map[string]string{"channel": "email", "identifier": "ada@example.com"})
	fs := &failCommitStore{countingStore: h.store}
	h.auth.sm.Store = fs
	r := h.postJSON(c, "/auth/otp/authenticate", map[string]string{"passcode": h.lastCode("ada@example.com")})
	assert.Equal(t, http.StatusServiceUnavailable, r.StatusCode)
	assert.NotContains(t, r.body, "subject")
	assert.Empty(t, r.Header.Values("Set-Cookie"))
	assert.Equal(t, 1, h.emu.Calls(transmittest.EndpointAuthenticateOTP))
	assert.Equal(t, 1, h.emu.Calls(transmittest.EndpointLogout), "the Mosaic session of the lost sign-in is revoked")
}

// TestReadOnlyRequestsWriteNothing: signed-in reads perform zero store writes.
func TestReadOnlyRequestsWriteNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.emu.CreateUser("ada@example.com", "")
	c := h.newClient()
	require.Equal(t, http.StatusSeeOther, h.signInLink(c, "ada@example.com", "/").StatusCode)
	before := h.store.writes()
	for i := 0; i < 10; i++ {
		require.Equal(t, http.StatusOK, h.get(c, "/dashboard").StatusCode)
		require.Equal(t, http.StatusOK, h.get(c, "/auth/me").StatusCode)
		require.Equal(t, http.StatusOK, h.get(c, "/").StatusCode)
	}
	assert.Equal(t, before, h.store.writes())
	h.clock.Advance(2 * time.Minute)
	h.get(c, "/dashboard")
	assert.Equal(t, before+1, h.store.writes(), "activity is recorded once per step")
}

// TestSendRacingLogoutIsTold: a send whose request loaded the session before a logout (on
// any instance) deleted it cannot keep its pending flow (the update-only save refuses, so
// the logout stands), and the person is told so instead of "check your email" (a 200 there
// would announce a code that could never be entered).
func TestSendRacingLogoutIsTold(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.emu.CreateUser("race@example.com", "")
	c := h.newClient()
	require.Equal(t, http.StatusSeeOther, h.signInOTP(c, "email", "race@example.com").StatusCode)
	token := h.sessionCookie(c)
	require.NotEmpty(t, token)

	sends := h.emu.Calls(transmittest.EndpointSendOTP)
	h.emu.SetLatency(300 * time.Millisecond) // the send is in Mosaic while the logout lands
	done := make(chan response, 1)
	go func() {
		done <- h.postJSON(c, "/auth/otp/send", map[string]string{"channel": "email", "identifier": "race@example.com"})
	}()
	require.Eventually(t, func() bool { return h.emu.Calls(transmittest.EndpointSendOTP) > sends },
		5*time.Second, time.Millisecond, "the send reached Mosaic")
	out := h.postJSON(h.clientWithCookie(token), "/auth/logout", map[string]string{})
	require.Equal(t, http.StatusNoContent, out.StatusCode, out.body)

	r := <-done
	assert.Equal(t, http.StatusConflict, r.StatusCode, r.body)
	assert.Contains(t, r.body, "session_ended")
	assert.Empty(t, r.Header.Values("Set-Cookie"), "no cookie for a session that is gone")
	h.emu.SetLatency(0)
	assert.Equal(t, http.StatusUnauthorized, h.get(h.clientWithCookie(token), "/auth/me").StatusCode, "the logout stands")
}

// TestSignInRacingLogoutIsRefused: a passcode entered in a browser that is already signed in
// (signing in again, or as someone else) while a logout of that browser's session lands: the
// logout answers first, so the sign-in must not leave a signed-in session or a live Mosaic
// session behind. It is answered 409 session_ended, sets no cookie, and ends the Mosaic
// session its authenticate opened.
func TestSignInRacingLogoutIsRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.emu.CreateUser("race2@example.com", "")
	c := h.newClient()
	require.Equal(t, http.StatusSeeOther, h.signInOTP(c, "email", "race2@example.com").StatusCode)
	token := h.sessionCookie(c)
	require.NotEmpty(t, token)
	require.Equal(t, 1, h.emu.SessionCount())

	r := h.postJSON(c, "/auth/otp/send", map[string]string{"channel": "email", "identifier": "race2@example.com"})
	require.Equal(t, http.StatusAccepted, r.StatusCode, r.body)
	code, ok := h.emu.LastCode("race2@example.com")
	require.True(t, ok)

	auths := h.emu.Calls(transmittest.EndpointAuthenticateOTP)
	h.emu.SetLatency(300 * time.Millisecond) // the code is in Mosaic while the logout lands
	done := make(chan response, 1)
	go func() {
		done <- h.postJSON(c, "/auth/otp/authenticate", map[string]string{"passcode": code})
	}()
	require.Eventually(t, func() bool { return h.emu.Calls(transmittest.EndpointAuthenticateOTP) > auths },
		5*time.Second, time.Millisecond, "the passcode reached Mosaic")
	out := h.postJSON(h.clientWithCookie(token), "/auth/logout", map[string]string{})
	require.Equal(t, http.StatusNoContent, out.StatusCode, out.body)

	r = <-done
	h.emu.SetLatency(0)
	assert.Equal(t, http.StatusConflict, r.StatusCode, r.body)
	assert.Contains(t, r.body, "session_ended")
	for _, sc := range r.Header.Values("Set-Cookie") {
		name, rest, _ := strings.Cut(sc, "=")
		value, _, _ := strings.Cut(rest, ";")
		if value != "" {
			assert.Equal(t, http.StatusUnauthorized, h.get(h.clientWithCookie(value), "/auth/me").StatusCode,
				"the cookie %s the racing sign-in set is not signed in", name)
		}
	}
	assert.Equal(t, http.StatusUnauthorized, h.get(h.clientWithCookie(token), "/auth/me").StatusCode, "the logout stands")
	require.Eventually(t, func() bool { return h.emu.SessionCount() == 0 }, 5*time.Second, 10*time.Millisecond,
		"no Mosaic session is left live")
}
