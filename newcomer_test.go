package otlogin

import (
	"go/parser"
	"go/token"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPublicURLWithPathRefused: cookies, the CSRF origin and the routes belong to an origin;
// a PublicURL with a path would half work, so New refuses it and says what to write.
func TestPublicURLWithPathRefused(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"https://app.example.com/app", "https://app.example.com/app/", "http://localhost:8080/x"} {
		_, err := New(Config{Client: testClient(t), PublicURL: u})
		require.Error(t, err, u)
		assert.Contains(t, err.Error(), "path")
		assert.Contains(t, err.Error(), "Prefix")
	}
	for _, u := range []string{"https://app.example.com", "https://app.example.com/"} {
		_, err := New(Config{Client: testClient(t), PublicURL: u})
		require.NoError(t, err, u)
	}
}

// TestOtherLoopbackHostExplained: PUBLIC_URL says one loopback name (here 127.0.0.1:port)
// and the browser uses another (localhost:port): two cookie jars. A magic link then lands
// in the jar without the flow; both ends say which address to use instead of "open the
// link in the browser where you asked for it".
func TestOtherLoopbackHostExplained(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.CreateUsers = true })
	public := strings.TrimPrefix(h.srv.URL, "http://")
	other := "localhost:" + public[strings.LastIndexByte(public, ':')+1:]

	t.Run("link send from the other host", func(t *testing.T) {
		// "localhost." is a host of its own for the browser's cookies, and loopback too.
		for _, other := range []string{other, "LOCALHOST." + other[len("localhost"):]} {
			req, err := http.NewRequest(http.MethodPost, h.srv.URL+"/auth/link/email/send",
				strings.NewReader(url.Values{"email": {"jar@example.com"}}.Encode()))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Host = other
			r := h.do(h.newClient(), req)
			assert.Equal(t, http.StatusBadRequest, r.StatusCode, other)
			assert.Contains(t, r.body, "http://"+public)
			assert.Contains(t, r.body, other)
		}
		assert.Zero(t, mosaicCalls(h), "no link is sent that could not work")
	})
	t.Run("link opened at the other host", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodGet, h.srv.URL+"/auth/link/email/callback?code=abc&state=def", nil)
		require.NoError(t, err)
		req.Host = other
		r := h.do(h.newClient(), req)
		assert.Contains(t, r.body, "Open this link at "+public)
		assert.Contains(t, r.body, `href="http://`+public+`/auth/link/email/callback?code=abc&amp;state=def"`)
		assert.NotContains(t, r.body, "browser where you asked")
	})
	t.Run("same host: the usual page", func(t *testing.T) {
		r := h.get(h.newClient(), "/auth/link/email/callback?code=abc&state=def")
		assert.Contains(t, r.body, "browser where it was requested")
	})
	t.Run("OTP works from either", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodPost, h.srv.URL+"/auth/otp/send",
			strings.NewReader(url.Values{"channel": {"email"}, "identifier": {"jar@example.com"}}.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Host = other
		assert.Equal(t, http.StatusOK, h.do(h.newClient(), req).StatusCode)
	})
}

// TestHTTPSPublicURLOverPlainHTTP: with an https PUBLIC_URL the session cookie is Secure,
// so a browser on a plain-http page never sends it back and every sign-in ends in "no
// sign-in waiting". The browser's Origin says the page is http: the answer names the cause.
func TestHTTPSPublicURLOverPlainHTTP(t *testing.T) {
	t.Parallel()
	a, err := New(Config{Client: testClient(t), PublicURL: "https://app.example.com", Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	for i, path := range []string{"/auth/otp/send", "/auth/link/email/send", "/auth/otp/authenticate", "/auth/otp/send"} {
		req := httptest.NewRequest(http.MethodPost, "http://app.example.com"+path,
			strings.NewReader(url.Values{"channel": {"email"}, "identifier": {"a@example.com"}, "email": {"a@example.com"}, "passcode": {"123456"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "http://app.example.com")
		if i < 3 { // browsers send no Sec-Fetch-* headers from plain-http pages: the last case
			req.Header.Set("Sec-Fetch-Site", "same-origin")
		}
		rec := httptest.NewRecorder()
		a.Handler().ServeHTTP(rec, req)
		assert.Equal(t, http.StatusBadRequest, rec.Code, path)
		body := rec.Body.String()
		assert.Contains(t, body, "plain http", path)
		assert.Contains(t, body, "Secure", path)
		assert.Contains(t, body, "https://app.example.com", path)
	}
}

// TestPackageDocQuickStart: `go doc` shows a quick start that works for a new tenant
// (CreateUsers) and points to the gin and echo adapters and the emulator.
func TestPackageDocQuickStart(t *testing.T) {
	t.Parallel()
	f, err := parser.ParseFile(token.NewFileSet(), "doc.go", nil, parser.ParseComments|parser.PackageClauseOnly)
	require.NoError(t, err)
	text := f.Doc.Text()
	quick := text[:strings.Index(text, "# Routes")]
	for _, want := range []string{"CreateUsers: true", "adapters/gin", "adapters/echo", "transmittest", "cmd/mosaic-emulator"} {
		assert.Contains(t, quick, want)
	}
}
