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

// TestRedirectURIFromPublicURLOnly: a forged Host header does not change the link.
func TestRedirectURIFromPublicURLOnly(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.emu.CreateUser("ada@example.com", "")
	req, err := http.NewRequest(http.MethodPost, h.url("/auth/link/email/send"), strings.NewReader("email=ada%40example.com"))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Host = "evil.example"
	req.Header.Set("X-Forwarded-Host", "evil.example")
	r := h.do(h.newClient(), req)
	require.Equal(t, http.StatusOK, r.StatusCode)
	assert.True(t, strings.HasPrefix(h.lastLink("ada@example.com"), h.srv.URL+"/auth/link/email/callback?"))
}

// TestLinkExpiresWithLinkTTL: a magic link works for LinkTTL and no longer, on both sides
// (docs/SECURITY.md L3). The browser's flow expires with it, so a later click is refused
// without asking Mosaic; and Mosaic is sent the same lifetime (email_expiration), so a link
// whose flow otlogin still holds (otlogin's clock 31s behind the emulator's) is refused by
// Mosaic once LinkTTL has passed there.
func TestLinkExpiresWithLinkTTL(t *testing.T) {
	t.Parallel()
	const ttl = 3 * time.Minute // not the default (10m), nor the emulator's own (15m)
	send := func(t *testing.T) (*harness, *http.Client, string) {
		h := newHarness(t, func(c *Config) { c.LinkTTL = ttl })
		h.emu.CreateUser("ada@example.com", "")
		c := h.newClient()
		r := h.postForm(c, "/auth/link/email/send", url.Values{"email": {"ada@example.com"}, "next": {"/dashboard"}})
		require.Equal(t, http.StatusOK, r.StatusCode, r.body)
		return h, c, h.lastLink("ada@example.com")
	}
	t.Run("within LinkTTL", func(t *testing.T) {
		t.Parallel()
		h, c, link := send(t)
		h.clock.Advance(ttl - 30*time.Second)
		h.emu.Advance(ttl - 30*time.Second)
		r := h.get(c, link)
		assert.Equal(t, http.StatusSeeOther, r.StatusCode, r.body)
		assert.Equal(t, "/dashboard", r.Header.Get("Location"))
		assert.Equal(t, http.StatusOK, h.get(c, "/dashboard").StatusCode, "signed in")
	})
	t.Run("the flow expired", func(t *testing.T) {
		t.Parallel()
		h, c, link := send(t)
		h.clock.Advance(ttl)
		r := h.get(c, link)
		assert.Equal(t, http.StatusBadRequest, r.StatusCode)
		assert.Contains(t, r.body, "That code is invalid or has expired.")
		assert.Equal(t, 0, h.emu.Calls(transmittest.EndpointAuthenticateMagicLink), "Mosaic is not asked")
		assert.Equal(t, http.StatusSeeOther, h.get(c, "/dashboard").StatusCode, "nobody is signed in")
	})
	t.Run("Mosaic's link expired", func(t *testing.T) {
		t.Parallel()
		h, c, link := send(t)
		h.clock.Advance(ttl - 30*time.Second) // the flow has 30s left
		h.emu.Advance(ttl + time.Second)      // 31s apart: within the ID token's 1m leeway
		r := h.get(c, link)
		assert.Equal(t, http.StatusBadRequest, r.StatusCode, r.body)
		assert.Contains(t, r.body, "That code is invalid or has expired.")
		assert.Equal(t, 1, h.emu.Calls(transmittest.EndpointAuthenticateMagicLink), "the flow was live: Mosaic was asked and refused")
		assert.Equal(t, http.StatusSeeOther, h.get(c, "/dashboard").StatusCode, "nobody is signed in")
	})
}
