package otlogin

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin/internal/exchangelog"
	"github.com/otlogin/otlogin/transmit"
	"github.com/otlogin/otlogin/transmit/transmittest"
)

// TestCookieAttributesHTTPS: with an https PublicURL the session cookie is __Host-,
// Secure, HttpOnly, SameSite=Lax, Path=/ and has no Domain, before and after sign-in
// (docs/SECURITY.md S2); the token changes at sign-in (S1).
func TestCookieAttributesHTTPS(t *testing.T) {
	t.Parallel()
	emu := transmittest.NewTestServer(t, exchangelog.Record(transmittest.Options{PublicURLs: []string{"https://app.example.com"}}))
	emu.CreateUser("ada@example.com", "")
	client, err := transmit.New(transmit.Config{BaseURL: emu.BaseURL(), ClientID: emu.ClientID, ClientSecret: emu.ClientSecret})
	require.NoError(t, err)
	auth, err := New(Config{Client: client, PublicURL: "https://app.example.com"})
	require.NoError(t, err)
	h := auth.Handler()

	check := func(t *testing.T, rec *httptest.ResponseRecorder) *http.Cookie {
		t.Helper()
		cookies := rec.Result().Cookies()
		require.Len(t, cookies, 1)
		c := cookies[0]
		assert.Equal(t, "__Host-otlogin", c.Name)
		assert.True(t, c.Secure)
		assert.True(t, c.HttpOnly)
		assert.Equal(t, http.SameSiteLaxMode, c.SameSite)
		assert.Equal(t, "/", c.Path)
		assert.Empty(t, c.Domain)
		assert.Less(t, len(c.String()), 4096)
		return c
	}
	req := httptest.NewRequest(http.MethodPost, "https://app.example.com/auth/link/email/send", strings.NewReader("email=ada%40example.com"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	pre := check(t, rec)

	link, ok := emu.LastLink("ada@example.com")
	require.True(t, ok)
	assert.True(t, strings.HasPrefix(link, "https://app.example.com/auth/link/email/callback?"), "redirect_uri from PublicURL: %s", link)
	req = httptest.NewRequest(http.MethodGet, link, nil)
	req.AddCookie(pre)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusSeeOther, rec.Code, rec.Body.String())
	post := check(t, rec)
	assert.NotEqual(t, pre.Value, post.Value, "RenewToken at sign-in")
	found, err := auth.storeHas(context.Background(), pre.Value)
	require.NoError(t, err)
	assert.False(t, found, "the pre-login token is gone from the store")
}

// TestSessionRenewalAndFixation: an attacker-chosen cookie is never adopted; sign-in and
// sign-out change the token (docs/SECURITY.md S1, S4).
func TestSessionRenewalAndFixation(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.emu.CreateUser("ada@example.com", "")
	fixed := "attackerchosenvalueattackerchosenvalue12345"
	c := h.clientWithCookie(fixed)
	h.postForm(c, "/auth/link/email/send", url.Values{"email": {"ada@example.com"}})
	pre := h.sessionCookie(c)
	assert.NotEqual(t, fixed, pre, "unknown token not adopted")
	require.Equal(t, http.StatusSeeOther, h.get(c, h.lastLink("ada@example.com")).StatusCode)
	post := h.sessionCookie(c)
	assert.NotEqual(t, pre, post)
	r := h.postForm(c, "/auth/logout", nil)
	require.Equal(t, http.StatusSeeOther, r.StatusCode)
	assert.Empty(t, h.sessionCookie(c), "cookie cleared at logout")
	found, err := h.auth.storeHas(context.Background(), post)
	require.NoError(t, err)
	assert.False(t, found, "session destroyed server-side")
}

// TestIdleAndAbsoluteTimeout drives the Now seam (docs/SECURITY.md S3).
func TestIdleAndAbsoluteTimeout(t *testing.T) {
	t.Parallel()
	t.Run("idle", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.emu.CreateUser("ada@example.com", "")
		c := h.newClient()
		require.Equal(t, http.StatusSeeOther, h.signInLink(c, "ada@example.com", "/").StatusCode)
		h.clock.Advance(20 * time.Minute)
		require.Equal(t, http.StatusOK, h.get(c, "/dashboard").StatusCode, "activity within the idle timeout")
		h.clock.Advance(20 * time.Minute)
		require.Equal(t, http.StatusOK, h.get(c, "/dashboard").StatusCode, "the last request extended it")
		h.clock.Advance(31 * time.Minute)
		assert.Equal(t, http.StatusSeeOther, h.get(c, "/dashboard").StatusCode, "idle too long")
		assert.Equal(t, http.StatusUnauthorized, h.get(c, "/auth/me").StatusCode)
	})
	t.Run("absolute", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, func(c *Config) { c.SessionLifetime = 2 * time.Hour })
		h.emu.CreateUser("ada@example.com", "")
		c := h.newClient()
		require.Equal(t, http.StatusSeeOther, h.signInLink(c, "ada@example.com", "/").StatusCode)
		for i := 0; i < 5; i++ {
			h.clock.Advance(20 * time.Minute)
			require.Equal(t, http.StatusOK, h.get(c, "/dashboard").StatusCode, "step %d", i)
		}
		h.clock.Advance(20 * time.Minute)
		assert.Equal(t, http.StatusSeeOther, h.get(c, "/dashboard").StatusCode, "past the absolute lifetime")
	})
}

// TestStoreFailure: with the store down, protected routes answer 503 (never signed in),
// public routes work, and logins refuse before calling Mosaic (docs/SECURITY.md S7).
func TestStoreFailure(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.emu.CreateUser("ada@example.com", "")
	c := h.newClient()
	require.Equal(t, http.StatusSeeOther, h.signInLink(c, "ada@example.com", "/").StatusCode)
	other := h.newClient()
	h.postJSON(other, "/auth/otp/send", map[string]string{"channel": "email", "identifier": "ada@example.com"})
	code := h.lastCode("ada@example.com")
	calls := mosaicCalls(h)

	h.store.broken.Store(true)
	assert.Equal(t, http.StatusServiceUnavailable, h.get(c, "/dashboard").StatusCode)
	assert.Equal(t, http.StatusServiceUnavailable, h.get(c, "/api/me", "Accept", "application/json").StatusCode)
	assert.Equal(t, http.StatusServiceUnavailable, h.get(c, "/auth/me").StatusCode)
	home := h.get(c, "/")
	assert.Equal(t, http.StatusOK, home.StatusCode)
	assert.Equal(t, "home", home.body)
	assert.Equal(t, http.StatusOK, h.get(h.newClient(), "/auth/login").StatusCode)
	assert.Equal(t, http.StatusServiceUnavailable,
		h.postJSON(h.newClient(), "/auth/link/email/send", map[string]string{"email": "ada@example.com"}).StatusCode)
	assert.Equal(t, http.StatusServiceUnavailable,
		h.postJSON(c, "/auth/otp/send", map[string]string{"channel": "email", "identifier": "ada@example.com"}).StatusCode)
	assert.Equal(t, http.StatusServiceUnavailable,
		h.postJSON(other, "/auth/otp/authenticate", map[string]string{"passcode": code}).StatusCode)
	assert.Equal(t, calls, mosaicCalls(h), "no Mosaic call while the store is down")

	h.store.broken.Store(false)
	assert.Equal(t, http.StatusOK, h.get(c, "/dashboard").StatusCode, "recovers without restart")
	r := h.postJSON(other, "/auth/otp/authenticate", map[string]string{"passcode": code})
	assert.Equal(t, http.StatusOK, r.StatusCode, "the code was not spent: %s", r.body)
}

// failCommitStore finds and deletes but cannot commit.
type failCommitStore struct{ *countingStore }

func (s *failCommitStore) Commit(string, []byte, time.Time) error { return errStoreDown }

// TestAuthStateEncoding round-trips the session encoding and refuses damaged input.
func TestAuthStateEncoding(t *testing.T) {
	t.Parallel()
	s := &authState{
		user: User{Subject: "u1", Email: "a@example.com", PhoneNumber: "+14155550123", Method: MethodEmailOTP,
			AMR: []string{"eotp"}, AuthTime: time.Unix(100, 0), ExpiresAt: time.Unix(200, 0), claims: []byte(`{"sub":"u1"}`)},
		accessToken: "at", accessExpiry: time.Unix(300, 0), refreshToken: "rt", mosaicSessionID: "sid",
		checked: time.Unix(400, 0),
	}
	b := encodeAuth(s)
	got, err := decodeAuth(b)
	require.NoError(t, err)
	assert.Equal(t, s.user.Subject, got.user.Subject)
	assert.Equal(t, s.user.AMR, got.user.AMR)
	assert.True(t, s.user.ExpiresAt.Equal(got.user.ExpiresAt))
	assert.Equal(t, "at", got.accessToken)
	assert.Equal(t, "rt", got.refreshToken)
	assert.Equal(t, "sid", got.mosaicSessionID)
	assert.True(t, got.accessExpiry.Equal(s.accessExpiry))
	assert.True(t, got.checked.Equal(s.checked))
	var claims struct{ Sub string }
	require.NoError(t, got.user.Claims(&claims))
	assert.Equal(t, "u1", claims.Sub)

	var u User
	_, err = decodeUserInto(&u, nil, b)
	require.NoError(t, err)
	assert.Equal(t, "a@example.com", u.Email)
	// The last field (the revalidation time, 2 bytes here) is optional: a state written
	// before it existed ends just before it and decodes as never revalidated.
	old := len(b) - 2
	prev, err := decodeAuth(b[:old])
	require.NoError(t, err)
	assert.True(t, prev.checked.IsZero())
	assert.Equal(t, "sid", prev.mosaicSessionID)
	for i := 0; i < len(b); i++ {
		if i == old {
			continue
		}
		_, err := decodeAuth(b[:i])
		assert.Error(t, err, "truncated at %d", i)
	}
	_, err = decodeAuth(append([]byte{9}, b[1:]...))
	assert.Error(t, err, "unknown version")
}
