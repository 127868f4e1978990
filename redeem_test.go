package otlogin

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin/transmit/transmittest"
)

// guardFailLimiter is a memory limiter whose single-use guard for link codes fails while
// down is set.
type guardFailLimiter struct {
	MemoryLimiter
	down atomic.Bool
}

func (l *guardFailLimiter) Allow(ctx context.Context, key string, limit int, window time.Duration) (bool, time.Duration, error) {
	if l.down.Load() && strings.HasPrefix(key, "otlogin:redeem:code:") {
		return false, 0, errors.New("test: limiter down")
	}
	return l.MemoryLimiter.Allow(ctx, key, limit, window)
}

// TestLinkGuardFailureKeepsFlow: when the single-use guard cannot be checked the answer is
// 503, nothing reaches Mosaic and the flow stays: the same link then signs in in that
// browser (not the wrong-browser page).
func TestLinkGuardFailureKeepsFlow(t *testing.T) {
	t.Parallel()
	lim := &guardFailLimiter{}
	h := newHarness(t, func(c *Config) { c.Limiter = lim })
	h.emu.CreateUser("ada@example.com", "")
	c := h.newClient()
	r := h.postForm(c, "/auth/link/email/send", url.Values{"email": {"ada@example.com"}, "next": {"/dashboard"}})
	require.Equal(t, http.StatusOK, r.StatusCode, r.body)
	link := h.lastLink("ada@example.com")

	lim.down.Store(true)
	r = h.get(c, link)
	assert.Equal(t, http.StatusServiceUnavailable, r.StatusCode, r.body)
	assert.Equal(t, 0, h.emu.Calls(transmittest.EndpointAuthenticateMagicLink))

	lim.down.Store(false)
	r = h.get(c, link)
	assert.Equal(t, http.StatusSeeOther, r.StatusCode, r.body)
	assert.Equal(t, "/dashboard", r.Header.Get("Location"))
	assert.Equal(t, 1, h.emu.Calls(transmittest.EndpointAuthenticateMagicLink))
}

// TestLinkRedeemMosaicDown pins the answer when Mosaic fails while redeeming a link: the
// user sees the 503 message; the code is used locally (the single-use guard holds across
// instances), so a later click, GET or POST, gets the generic invalid-code answer and
// Mosaic is asked once in all.
func TestLinkRedeemMosaicDown(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.emu.CreateUser("ada@example.com", "")
	c := h.newClient()
	r := h.postForm(c, "/auth/link/email/send", url.Values{"email": {"ada@example.com"}})
	require.Equal(t, http.StatusOK, r.StatusCode, r.body)
	link := h.lastLink("ada@example.com")
	code, state := linkParams(t, link)
	h.emu.Force(transmittest.EndpointAuthenticateMagicLink, transmittest.Fault{
		Status: http.StatusServiceUnavailable, Body: `{"error_code":503,"message":"Service Unavailable"}`, Times: 1})

	r = h.get(c, link)
	assert.Equal(t, http.StatusServiceUnavailable, r.StatusCode)
	assert.Contains(t, r.body, "temporarily unavailable")

	for i := 0; i < 2; i++ {
		r = h.get(c, link)
		assert.Equal(t, http.StatusBadRequest, r.StatusCode)
		assert.Contains(t, r.body, "That code is invalid or has expired. Request a new one.")
		assert.NotContains(t, r.body, "Open the link")
	}
	r = h.postJSON(c, "/auth/link/email/authenticate", map[string]string{"code": code, "state": state})
	assert.Equal(t, http.StatusBadRequest, r.StatusCode)
	assert.Contains(t, r.body, `"invalid_code"`)
	assert.Equal(t, 1, h.emu.Calls(transmittest.EndpointAuthenticateMagicLink))
	assert.Contains(t, h.logs.String(), `"code_used"`)
	assert.Equal(t, http.StatusSeeOther, h.get(c, "/dashboard").StatusCode, "nobody is signed in")
}

// failDeleteStore finds and commits but cannot delete (scs's RenewToken then fails).
type failDeleteStore struct{ *countingStore }

func (s *failDeleteStore) Delete(string) error { return errStoreDown }

// TestSignInAgainRevokesAfterSave: signing in over an earlier sign-in ends the earlier
// Mosaic session only once the new session is saved. When the save fails (the old token
// cannot be deleted, or the new session cannot be committed) the earlier Mosaic session
// stays alive, so a browser that keeps its old session keeps working tokens.
func TestSignInAgainRevokesAfterSave(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		store       func(*countingStore) scs.Store
		status      int
		oldRevoked  bool
		stillSigned bool // the browser's earlier sign-in survives
	}{
		{"saved", nil, http.StatusOK, true, true},
		{"renew fails", func(s *countingStore) scs.Store { return &failDeleteStore{s} }, http.StatusServiceUnavailable, false, true},
		{"commit fails", func(s *countingStore) scs.Store { return &failCommitStore{s} }, http.StatusServiceUnavailable, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.emu.CreateUser("ada@example.com", "")
			c := h.newClient()
			require.Equal(t, http.StatusSeeOther, h.signInLink(c, "ada@example.com", "/").StatusCode)
			h.postJSON(c, "/auth/otp/send", map[string]string{"channel": "email", "identifier": "ada@example.com"})
			require.Equal(t, 1, h.emu.SessionCount())
			if tc.store != nil {
				h.auth.sm.Store = tc.store(h.store)
			}
			r := h.postJSON(c, "/auth/otp/authenticate", map[string]string{"passcode": h.lastCode("ada@example.com")})
			assert.Equal(t, tc.status, r.StatusCode, r.body)
			h.auth.sm.Store = h.store
			assert.Equal(t, 1, h.emu.Calls(transmittest.EndpointLogout), "one Mosaic session is ended")
			assert.Equal(t, 1, h.emu.SessionCount(), "one Mosaic session is alive")
			me := h.get(c, "/auth/me")
			if tc.oldRevoked {
				assert.Contains(t, me.body, `"method":"email_otp"`, "the new sign-in is kept")
			}
			if tc.stillSigned && !tc.oldRevoked {
				assert.Contains(t, me.body, `"method":"magic_link"`, "the earlier sign-in is kept")
				for _, d := range []time.Duration{25 * time.Minute, 25 * time.Minute, 15 * time.Minute} {
					h.clock.Advance(d)
					h.get(c, "/dashboard")
				}
				assert.Equal(t, http.StatusOK, h.get(c, "/token").StatusCode, "its Mosaic tokens still work")
			}
			if !tc.stillSigned {
				assert.Equal(t, http.StatusUnauthorized, me.StatusCode, "scs deleted the old token before the failed commit")
			}
		})
	}
}

// TestCookieCannotNameRotatedRecord: after a token refresh the store holds a record of the
// session's newest tokens; a cookie naming that record signs nobody in and is not looked up.
func TestCookieCannotNameRotatedRecord(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.emu.CreateUser("ada@example.com", "")
	c := h.newClient()
	require.Equal(t, http.StatusSeeOther, h.signInLink(c, "ada@example.com", "/").StatusCode)
	for _, d := range []time.Duration{25 * time.Minute, 25 * time.Minute, 15 * time.Minute} {
		h.clock.Advance(d)
		h.get(c, "/dashboard")
	}
	require.Equal(t, http.StatusOK, h.get(c, "/token").StatusCode)
	b, found, err := h.auth.storedAuthBytes(context.Background(), h.sessionCookie(c))
	require.NoError(t, err)
	require.True(t, found)
	s, err := decodeAuth(b)
	require.NoError(t, err)
	key := rotatedKey(s.sessionID)
	_, found, err = h.auth.storeFindKey(context.Background(), key)
	require.NoError(t, err)
	require.True(t, found, "the refresh wrote the rotated record")

	r := h.get(h.clientWithCookie(key), "/api/me", "Accept", "application/json")
	assert.Equal(t, http.StatusUnauthorized, r.StatusCode, r.body)
	_, found, err = h.auth.storeFindKey(context.Background(), key)
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
			for _, d := range []time.Duration{25 * time.Minute, 25 * time.Minute, 15 * time.Minute} {
				h.clock.Advance(d)
				h.get(c, "/dashboard")
			}
			require.Equal(t, http.StatusOK, h.get(c, "/token").StatusCode)
			b, _, err := h.auth.storedAuthBytes(context.Background(), h.sessionCookie(c))
			require.NoError(t, err)
			s, err := decodeAuth(b)
			require.NoError(t, err)
			key := rotatedKey(s.sessionID)
			_, found, err := h.auth.storeFindKey(context.Background(), key)
			require.NoError(t, err)
			require.True(t, found, "the refresh wrote the rotated record")

			for i, d := range tc.steps {
				h.clock.Advance(d)
				want := http.StatusOK
				if i == len(tc.steps)-1 {
					want = http.StatusSeeOther
				}
				require.Equal(t, want, h.get(c, "/dashboard").StatusCode, "step %d", i)
			}
			_, found, err = h.auth.storeFindKey(context.Background(), key)
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
	for _, d := range []time.Duration{25 * time.Minute, 25 * time.Minute, 15 * time.Minute} {
		h.clock.Advance(d)
		h.get(ada, "/dashboard")
		h.get(bob, "/dashboard")
	}
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
