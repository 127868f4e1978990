package otlogin

import (
	"net/url"
	"strings"
	"testing"
	"time"

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

// TestAuthStateEncoding round-trips the session encoding and refuses damaged input.
func TestAuthStateEncoding(t *testing.T) {
	t.Parallel()
	s := &authState{
		user: User{Subject: "u1", Email: "a@example.com", PhoneNumber: "+14155550123", Method: MethodEmailOTP,
			AMR: []string{"eotp"}, AuthTime: time.Unix(100, 0), ExpiresAt: time.Unix(200, 0), claims: []byte(`{"sub":"u1"}`)},
		accessToken: "at", accessExpiry: time.Unix(300, 0), refreshToken: "rt", sessionID: "sid",
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
	assert.Equal(t, "sid", got.sessionID)
	assert.True(t, got.accessExpiry.Equal(s.accessExpiry))
	assert.True(t, got.checked.Equal(s.checked))
	var claims struct{ Sub string }
	require.NoError(t, got.user.Claims(&claims))
	assert.Equal(t, "u1", claims.Sub)

	u, _, err := decodeUser(b)
	require.NoError(t, err)
	assert.Equal(t, "a@example.com", u.Email)
	// The last field (the revalidation time, 2 bytes here) is optional: a state written
	// before it existed ends just before it and decodes as never revalidated.
	old := len(b) - 2
	prev, err := decodeAuth(b[:old])
	require.NoError(t, err)
	assert.True(t, prev.checked.IsZero())
	assert.Equal(t, "sid", prev.sessionID)
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
