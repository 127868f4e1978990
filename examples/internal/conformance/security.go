package conformance

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testCookies checks the session cookie's attributes over https and http, and that signing
// in renews the session token.
func testCookies(t *testing.T, build Build) {
	cases := []struct {
		name   string
		https  bool
		cookie string
	}{
		{"https", true, CookieName},
		{"http on loopback", false, "otlogin"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := startEnv(t, build, tc.https)
			b := e.browser(t)
			r := b.form("/auth/otp/send", url.Values{"channel": {"email"}, "identifier": {"ada@example.com"}})
			require.Equal(t, http.StatusOK, r.StatusCode, r.body)
			pre := r.cookie()
			require.NotNil(t, pre, "a send starts a session for the pending flow")
			assert.Equal(t, tc.cookie, pre.Name)

			r = b.form("/auth/otp/authenticate", url.Values{"passcode": {e.lastCode(t, "ada@example.com")}})
			require.Equal(t, http.StatusSeeOther, r.StatusCode, r.body)
			c := r.cookie()
			require.NotNil(t, c)
			assert.NotEqual(t, pre.Value, c.Value, "signing in renews the session token")
			assert.Equal(t, tc.cookie, c.Name)
			assert.Equal(t, "/", c.Path)
			assert.Empty(t, c.Domain)
			assert.True(t, c.HttpOnly)
			assert.Equal(t, tc.https, c.Secure)
			assert.Equal(t, http.SameSiteLaxMode, c.SameSite)
			assert.Positive(t, c.MaxAge, "a persistent cookie")
			assert.Contains(t, r.Header.Values("Vary"), "Cookie")
			assert.Equal(t, "no-store", r.Header.Get("Cache-Control"))

			fixated := e.withSession(t, pre.Value)
			assert.Equal(t, http.StatusUnauthorized, fixated.get("/auth/me").StatusCode, "the pre-login token is not signed in")
		})
	}
}

// testCrossOrigin posts to every state-changing route from another origin: each is refused
// with 403 before any Mosaic call, and a signed-in user stays signed in.
func testCrossOrigin(t *testing.T, build Build) {
	e := newEnv(t, build)
	b := e.browser(t)
	r := b.signInOTP("ada@example.com", "/dashboard")
	require.Equal(t, http.StatusSeeOther, r.StatusCode, r.body)
	routes := map[string]string{
		"/auth/link/email/send":         `{"email":"eve@example.com"}`,
		"/auth/link/email/authenticate": `{"code":"abc","state":"def"}`,
		"/auth/otp/send":                `{"channel":"email","identifier":"eve@example.com"}`,
		"/auth/otp/authenticate":        `{"passcode":"123456"}`,
		"/auth/logout":                  `{}`,
	}
	attacks := []struct {
		name   string
		header []string
	}{
		{"Sec-Fetch-Site cross-site", []string{"Sec-Fetch-Site", "cross-site"}},
		{"Sec-Fetch-Site same-site", []string{"Sec-Fetch-Site", "same-site", "Origin", "https://sub.127.0.0.1"}},
		{"Origin mismatch", []string{"Origin", "https://evil.example"}},
	}
	for path, body := range routes {
		for _, at := range attacks {
			t.Run(path+"/"+at.name, func(t *testing.T) {
				before := e.mosaicCalls()
				header := append([]string{"Accept", "application/json"}, at.header...)
				r := b.in(t).do(http.MethodPost, path, jsonType, body, header...)
				assert.Equal(t, http.StatusForbidden, r.StatusCode, r.body)
				assert.Contains(t, r.body, `"error":"cross_origin"`)
				assert.Equal(t, before, e.mosaicCalls(), "no Mosaic call")

				form := b.in(t).do(http.MethodPost, path, formType, "", at.header...)
				assert.Equal(t, http.StatusForbidden, form.StatusCode)
				assert.Contains(t, form.Header.Get("Content-Type"), "text/html")
			})
		}
	}
	assert.Equal(t, http.StatusOK, b.get("/auth/me").StatusCode, "still signed in after the refused logouts")

	t.Run("same origin accepted", func(t *testing.T) {
		r := e.browser(t).json("/auth/otp/send", map[string]string{"channel": "email", "identifier": "bob@example.com"},
			"Sec-Fetch-Site", "same-origin", "Origin", e.srv.URL)
		assert.Equal(t, http.StatusAccepted, r.StatusCode, r.body)
	})
}

// testNext signs in with hostile next values: every final redirect stays on this origin.
func testNext(t *testing.T, build Build) {
	e := newEnv(t, build)
	nextField := regexp.MustCompile(`name="next" value="([^"]*)"`) // the login page's next fields
	cases := []struct {
		name, next, want string
	}{
		{"path", "/dashboard", "/dashboard"},
		{"path with query", "/dashboard?tab=2", "/dashboard?tab=2"},
		{"protocol-relative", "//evil.example/x", "/"},
		{"backslash", `/\evil.example`, "/"},
		{"absolute URL", "https://evil.example/", "/"},
		{"scheme", "javascript:alert(1)", "/"},
		{"encoded tab", "/%09/evil.example", ""},
		{"encoded slashes", "/%2F%2Fevil.example", ""},
		{"dot segments", "/.//evil.example", ""},
		{"control character", "/\t/evil.example", "/"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			email := "user" + strings.Repeat("x", i) + "@example.com"
			r := e.browser(t).signInOTP(email, tc.next)
			require.Equal(t, http.StatusSeeOther, r.StatusCode, r.body)
			loc := r.Header.Get("Location")
			if tc.want != "" {
				assert.Equal(t, tc.want, loc)
			}
			assert.True(t, strings.HasPrefix(loc, "/"), "a path: %q", loc)
			assert.False(t, strings.HasPrefix(loc, "//") || strings.HasPrefix(loc, `/\`), "not protocol-relative: %q", loc)
			base, err := url.Parse(e.srv.URL + "/auth/otp/authenticate")
			require.NoError(t, err)
			target, err := base.Parse(loc)
			require.NoError(t, err)
			assert.Equal(t, base.Host, target.Host, "the redirect stays on this origin: %q", loc)

			page := e.browser(t).get("/auth/login?next=" + url.QueryEscape(tc.next))
			require.Equal(t, http.StatusOK, page.StatusCode)
			values := nextField.FindAllStringSubmatch(page.body, -1)
			require.NotEmpty(t, values, "the login page carries next")
			for _, v := range values {
				assert.True(t, strings.HasPrefix(v[1], "/") && !strings.HasPrefix(v[1], "//") && !strings.HasPrefix(v[1], `/\`),
					"the login page carries a same-origin next: %q", v[1])
			}
		})
	}
}
