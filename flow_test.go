package otlogin

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/otlogin/otlogin/transmit/transmittest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSanitizeNext covers docs/SECURITY.md B2's open-redirect vectors and ordinary paths.
func TestSanitizeNext(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in, want string
	}{
		{"", "/"},
		{"/", "/"},
		{"/dashboard", "/dashboard"},
		{"/a/b/", "/a/b/"},
		{"/search?q=go+lang&page=2", "/search?page=2&q=go+lang"},
		{"/dashboard#frag", "/dashboard"},
		{"/caf%C3%A9", "/caf%C3%A9"},
		{"https://evil.com", "/"},
		{"http://evil.com/x", "/"},
		{"//evil.com", "/"},
		{"///evil.com", "/"},
		{"/\\evil.com", "/"},
		{"/%5Cevil.com", "/"},
		{"/%5cevil.com", "/"},
		{"\\/evil.com", "/"},
		{"/%09/evil.com", "/"},
		{"/%2F%2Fevil.com", "/"},
		{"/%2f/evil.com", "/"},
		{"/.//evil.com", "/evil.com"},
		{"/a/..//evil.com", "/evil.com"},
		{"/./../evil.com", "/evil.com"},
		{"https:evil.com", "/"},
		{"javascript:alert(1)", "/"},
		{"JaVaScRiPt:alert(1)", "/"},
		{"https://app.example@evil.com", "/"},
		{"https://app.example.evil.com", "/"},
		{"https://app.example//evil.com", "/"},
		{"/ok\r\nLocation: https://evil.com", "/"},
		{"/ok%0d%0aSet-Cookie:x=y", "/"},
		{"/ok\x00", "/"},
		{"/ok\x7f", "/"},
		{" /dashboard", "/"},
		{"/dash board", "/"},
		{"dashboard", "/"},
		{"?next=//evil.com", "/"},
		{"/" + strings.Repeat("a", maxNextLen), "/"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, sanitizeNext(tc.in))
		})
	}
}

// assertSameOriginPath fails when p, resolved against an origin, leaves that origin.
func assertSameOriginPath(t *testing.T, p string) {
	t.Helper()
	require.True(t, strings.HasPrefix(p, "/"), "path %q starts with /", p)
	require.False(t, strings.HasPrefix(p, "//"), "path %q is not protocol-relative", p)
	require.NotContains(t, p, "\\")
	base, _ := url.Parse("https://app.example/x/y")
	ref, err := url.Parse(p)
	require.NoError(t, err)
	got := base.ResolveReference(ref)
	require.Equal(t, "app.example", got.Host, "%q stays on the origin", p)
	require.Equal(t, "https", got.Scheme)
	for _, c := range []byte(p) {
		require.Truef(t, c > 0x20 && c != 0x7f, "no control character in %q", p)
	}
	// Sanitising again changes nothing.
	require.Equal(t, p, sanitizeNext(p))
}

// FuzzSanitizeNext checks that whatever comes in, a same-origin path comes out.
func FuzzSanitizeNext(f *testing.F) {
	for _, s := range []string{"/", "/a?b=c", "//evil.com", "/\\evil", "/%2F%2Fx", "/a/..//b", "https://x", "/%09/x", "/a#b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		assertSameOriginPath(t, sanitizeNext(in))
	})
}

// TestFlowState covers expiry and the constant-time state match.
func TestFlowState(t *testing.T) {
	t.Parallel()
	s1, err := newState()
	require.NoError(t, err)
	s2, err := newState()
	require.NoError(t, err)
	assert.NotEqual(t, s1, s2)
	assert.Len(t, s1, 43, "32 random bytes, base64url")
	now := time.Unix(1_000_000, 0)
	f := &flow{State: s1, Expires: now.Add(time.Minute).Unix()}
	assert.True(t, f.matchesState(s1))
	assert.False(t, f.matchesState(s2))
	assert.False(t, f.matchesState(""))
	assert.False(t, (&flow{}).matchesState(""), "an empty state never matches")
	assert.False(t, f.expired(now))
	assert.True(t, f.expired(now.Add(time.Minute)))
}

// TestExpiredFlows: a link or code used after its lifetime spends nothing and gets the
// generic message.
func TestExpiredFlows(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.emu.CreateUser("ada@example.com", "")
	c := h.newClient()
	h.postForm(c, "/auth/link/email/send", url.Values{"email": {"ada@example.com"}})
	link := h.lastLink("ada@example.com")
	h.clock.Advance(11 * time.Minute)
	r := h.get(c, link)
	assert.Equal(t, http.StatusBadRequest, r.StatusCode)
	assert.Contains(t, r.body, "invalid or has expired")
	assert.Equal(t, 0, h.emu.Calls(transmittest.EndpointAuthenticateMagicLink))

	h.postForm(c, "/auth/otp/send", url.Values{"channel": {"email"}, "identifier": {"ada@example.com"}})
	code := h.lastCode("ada@example.com")
	h.clock.Advance(6 * time.Minute)
	r = h.postForm(c, "/auth/otp/authenticate", url.Values{"passcode": {code}})
	assert.Equal(t, http.StatusBadRequest, r.StatusCode)
	assert.Equal(t, 0, h.emu.Calls(transmittest.EndpointAuthenticateOTP))
	r = h.postForm(c, "/auth/otp/authenticate", url.Values{"passcode": {code}})
	assert.Contains(t, r.body, "no sign-in waiting", "the expired flow ended")
}
