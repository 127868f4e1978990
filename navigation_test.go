package otlogin

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Request headers of the clients RequireAuth tells apart.
var (
	hdrFetch      = []string{"Accept", "*/*", "Sec-Fetch-Mode", "cors", "Sec-Fetch-Dest", "empty", "Sec-Fetch-Site", "same-origin"}
	hdrCurl       = []string{"Accept", "*/*"}
	hdrNavigation = []string{"Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
		"Sec-Fetch-Mode", "navigate", "Sec-Fetch-Dest", "document", "Sec-Fetch-Site", "none"}
	hdrOldBrowser = []string{"Accept", "text/html,application/xhtml+xml,*/*;q=0.8"}
)

// TestRequireAuthAnswersByRequestKind: only browser navigations are redirected to the
// sign-in page; fetch(), curl and any other client get 401 JSON with WWW-Authenticate, so
// res.json() works and scripts see the real status.
func TestRequireAuthAnswersByRequestKind(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	cases := []struct {
		name     string
		header   []string
		navigate bool
	}{
		{"fetch", hdrFetch, false},
		{"curl", hdrCurl, false},
		{"no Accept (Go client)", []string{"Accept", ""}, false},
		{"JSON API client", []string{"Accept", "application/json"}, false},
		{"navigation", hdrNavigation, true},
		{"navigation by Sec-Fetch-Dest only", []string{"Accept", "", "Sec-Fetch-Dest", "document"}, true},
		{"browser without Sec-Fetch headers", hdrOldBrowser, true},
		{"HTML refused by q=0", []string{"Accept", "text/html;q=0, */*"}, false},
		{"Accept text/html but a fetch", []string{"Accept", "text/html", "Sec-Fetch-Mode", "cors", "Sec-Fetch-Dest", "empty"}, false},
		{"image load", []string{"Accept", "image/avif,image/webp,*/*", "Sec-Fetch-Mode", "no-cors", "Sec-Fetch-Dest", "image"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := h.get(h.newClient(), "/dashboard?tab=1", tc.header...)
			assert.NotContains(t, r.body, "dashboard of", "the protected handler did not run")
			assert.Equal(t, "no-store", r.Header.Get("Cache-Control"))
			if tc.navigate {
				assert.Equal(t, http.StatusSeeOther, r.StatusCode, r.body)
				assert.Equal(t, "/auth/login?next=%2Fdashboard%3Ftab%3D1", r.Header.Get("Location"))
				return
			}
			assert.Equal(t, http.StatusUnauthorized, r.StatusCode, r.body)
			assert.Empty(t, r.Header.Get("Location"))
			assert.Contains(t, r.Header.Get("Content-Type"), "application/json")
			assert.JSONEq(t, `{"error":"unauthenticated","message":"Sign in to continue."}`, r.body)
			assert.Equal(t, `Cookie realm="`+strings.TrimPrefix(h.srv.URL, "http://")+`", form-action="/auth/login", cookie-name="otlogin"`,
				r.Header.Get("WWW-Authenticate"))
		})
	}
}

// TestRequireAuthUnavailableByRequestKind: the 503 of a failed store follows the same rule:
// a page for navigations, JSON for everything else.
func TestRequireAuthUnavailableByRequestKind(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.store.broken.Store(true)
	c := h.clientWithCookie(strings.Repeat("a", sessionTokenLen))
	for _, tc := range []struct {
		name   string
		header []string
		json   bool
	}{{"fetch", hdrFetch, true}, {"curl", hdrCurl, true}, {"navigation", hdrNavigation, false}, {"old browser", hdrOldBrowser, false}} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.get(c, "/dashboard", tc.header...)
			assert.Equal(t, http.StatusServiceUnavailable, r.StatusCode, r.body)
			if tc.json {
				assert.Contains(t, r.Header.Get("Content-Type"), "application/json")
				assert.JSONEq(t, `{"error":"unavailable","message":"`+msgUnavailable+`"}`, r.body)
			} else {
				assert.Contains(t, r.Header.Get("Content-Type"), "text/html")
				assert.Contains(t, r.body, msgUnavailable)
			}
		})
	}
}

// TestRequireAuthAroundAuthRoutes: an app that wraps everything, the auth routes included,
// in RequireAuth does not send the sign-in page to the sign-in page forever
// (/auth/login?next=/auth/login): requests under Prefix pass through, and the whole sign-in
// works. Paths that only look like they are under Prefix are still protected.
func TestRequireAuthAroundAuthRoutes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.CreateUsers = true })
	mux := http.NewServeMux()
	mux.Handle("/auth/", h.auth.Handler())
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "secret page "+r.URL.Path) })
	h.srv.Config.Handler = h.auth.Middleware(h.auth.RequireAuth(mux))

	c := h.newClient()
	r := h.get(c, "/auth/login?next=/dashboard", hdrNavigation...)
	require.Equal(t, http.StatusOK, r.StatusCode, "Location: %s", r.Header.Get("Location"))
	assert.Contains(t, r.body, `action="/auth/otp/send"`)
	r = h.postForm(c, "/auth/otp/send", url.Values{"channel": {"email"}, "identifier": {"loop@example.com"}, "next": {"/dashboard"}})
	require.Equal(t, http.StatusOK, r.StatusCode, r.body)
	r = h.postForm(c, "/auth/otp/authenticate", url.Values{"passcode": {h.lastCode("loop@example.com")}})
	require.Equal(t, http.StatusSeeOther, r.StatusCode, r.body)
	assert.Equal(t, "/dashboard", r.Header.Get("Location"))
	assert.Equal(t, "secret page /dashboard", h.get(c, "/dashboard", hdrNavigation...).body)

	anon := h.newClient()
	for _, path := range []string{"/dashboard", "/authx", "/auth/../dashboard", "/auth%2F..%2Fdashboard", "/auth%2Flogin"} {
		req, err := http.NewRequest(http.MethodGet, h.srv.URL, nil)
		require.NoError(t, err)
		req.URL.Opaque = "//" + strings.TrimPrefix(h.srv.URL, "http://") + path // sent as written
		req.Header.Set("Accept", "*/*")
		r := h.do(anon, req)
		assert.Equal(t, http.StatusUnauthorized, r.StatusCode, "%s: %s", path, r.body)
		assert.NotContains(t, r.body, "secret page", path)
	}
}

func TestIsNavigation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		accept string
		want   bool
	}{
		{"text/html", true},
		{"TEXT/HTML; charset=utf-8", true},
		{"application/json, text/html;q=0.5", true},
		{"text/html;q=0", false},
		{"text/html;q=0.000", false},
		{"*/*", false},
		{"text/*", false},
		{"application/xhtml+xml", false},
		{"", false},
		{"text/htmlx", false},
	} {
		r, _ := http.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Accept", tc.accept)
		assert.Equal(t, tc.want, isNavigation(r), "Accept: %s", tc.accept)
	}
}
