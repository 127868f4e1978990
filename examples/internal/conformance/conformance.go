// Package conformance is one test suite for every router otlogin supports. [Run] starts the
// Mosaic emulator and an https app built by the caller (net/http, gin or echo, wired like the
// example apps of the README) and checks, from the outside, that sign-in, sign-out,
// RequireAuth, cookies, CSRF, redirects, rate limits and bad input behave the same. An
// expectation that holds for one router and not another is a bug in that router's adapter.
package conformance

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin"
	"github.com/otlogin/otlogin/internal/apptest/safe"
	"github.com/otlogin/otlogin/transmit/transmittest"
)

// Build returns the application under test, serving for auth the routes of the README's route table:
// GET / (public), GET /dashboard and GET /api/me (behind RequireAuth), GET /healthz (outside
// the session layer) and the auth routes under /auth.
type Build func(t *testing.T, auth *otlogin.Auth) http.Handler

// CookieName is the session cookie's name for an https PublicURL.
const CookieName = "__Host-otlogin"

// Run runs every conformance case against the app that build returns. Cases run in parallel,
// each with its own emulator, Auth and server.
func Run(t *testing.T, build Build) {
	t.Helper()
	t.Run("SignIn", func(t *testing.T) { t.Parallel(); testSignIn(t, build) })
	t.Run("Pages", func(t *testing.T) { t.Parallel(); testPages(t, build) })
	t.Run("RequireAuth", func(t *testing.T) { t.Parallel(); testRequireAuth(t, build) })
	t.Run("Cookies", func(t *testing.T) { t.Parallel(); testCookies(t, build) })
	t.Run("CrossOrigin", func(t *testing.T) { t.Parallel(); testCrossOrigin(t, build) })
	t.Run("Next", func(t *testing.T) { t.Parallel(); testNext(t, build) })
	t.Run("RateLimits", func(t *testing.T) { t.Parallel(); testRateLimits(t, build) })
	t.Run("BadInput", func(t *testing.T) { t.Parallel(); testBadInput(t, build) })
}

// env is one app in front of one emulator.
type env struct {
	emu   *transmittest.Server
	auth  *otlogin.Auth
	srv   *httptest.Server
	clock *safe.Clock
	https bool
}

// newEnv starts the emulator and the app over https; mods adjust the Config (CreateUsers is
// on, as in the examples).
func newEnv(t *testing.T, build Build, mods ...func(*otlogin.Config)) *env {
	t.Helper()
	return startEnv(t, build, true, mods...)
}

func startEnv(t *testing.T, build Build, https bool, mods ...func(*otlogin.Config)) *env {
	t.Helper()
	clk := safe.NewClock()
	f := NewFixture(t, https, append([]func(*otlogin.Config){func(c *otlogin.Config) { c.Now = clk.Now }}, mods...)...)
	f.Start(t, build(t, f.Auth))
	return &env{emu: f.Emu, auth: f.Auth, srv: f.Server, clock: clk, https: https}
}

// mosaicCalls sums the business calls the emulator received.
func (e *env) mosaicCalls() int {
	n := 0
	for _, ep := range []transmittest.Endpoint{transmittest.EndpointSendMagicLink, transmittest.EndpointAuthenticateMagicLink,
		transmittest.EndpointSendOTP, transmittest.EndpointAuthenticateOTP, transmittest.EndpointCreateUser,
		transmittest.EndpointLogout, transmittest.EndpointRefresh} {
		n += e.emu.Calls(ep)
	}
	return n
}

// browser is a cookie-jar client that does not follow redirects.
type browser struct {
	t *testing.T
	e *env
	c *http.Client
}

// browser returns a new browser; t is the (sub)test that uses it.
func (e *env) browser(t *testing.T) *browser {
	c := safe.NewBrowser(20 * time.Second)
	c.Transport = e.srv.Client().Transport // trusts the test server's certificate
	return &browser{t: t, e: e, c: c}
}

// in returns b for use in the (sub)test t, keeping its cookies.
func (b *browser) in(t *testing.T) *browser {
	c := *b
	c.t = t
	return &c
}

// answer is a response with its body read.
type answer struct {
	*http.Response
	body string
}

// cookie returns the session cookie this answer sets, or nil.
func (a answer) cookie() *http.Cookie {
	for _, c := range a.Cookies() {
		if c.Name == CookieName || c.Name == "otlogin" {
			return c
		}
	}
	return nil
}

// do sends a request; header is name, value pairs ("Host" sets the Host header).
func (b *browser) do(method, path, ctype, body string, header ...string) answer {
	b.t.Helper()
	if !strings.HasPrefix(path, "http") {
		path = b.e.srv.URL + path
	}
	req, err := http.NewRequest(method, path, strings.NewReader(body))
	require.NoError(b.t, err)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if strings.EqualFold(header[i], "Host") {
			req.Host = header[i+1] // the client sends req.Host, never a Host in the header map
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := b.c.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	return answer{Response: resp, body: string(raw)}
}

// get sends GET path as a browser navigation (Accept: text/html) unless header sets Accept.
func (b *browser) get(path string, header ...string) answer {
	b.t.Helper()
	return b.do(http.MethodGet, path, "", "", append([]string{"Accept", "text/html"}, header...)...)
}

const (
	formType = "application/x-www-form-urlencoded"
	jsonType = "application/json"
)

func (b *browser) form(path string, vals url.Values, header ...string) answer {
	b.t.Helper()
	return b.do(http.MethodPost, path, formType, vals.Encode(), header...)
}

func (b *browser) json(path string, v any, header ...string) answer {
	b.t.Helper()
	var buf bytes.Buffer
	require.NoError(b.t, json.NewEncoder(&buf).Encode(v))
	return b.do(http.MethodPost, path, jsonType, buf.String(), header...)
}

// session returns the browser's session cookie value ("" if none).
func (b *browser) session() string {
	u, _ := url.Parse(b.e.srv.URL)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == CookieName || c.Name == "otlogin" {
			return c.Value
		}
	}
	return ""
}

// withSession returns a fresh browser holding only the given session cookie.
func (e *env) withSession(t *testing.T, token string) *browser {
	b := e.browser(t)
	u, _ := url.Parse(e.srv.URL)
	name := "otlogin"
	if e.https {
		name = CookieName
	}
	b.c.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: token, Path: "/", Secure: e.https}})
	return b
}

// lastLink and lastCode read the emulator's outbox.
func (e *env) lastLink(t *testing.T, email string) string {
	t.Helper()
	link, ok := e.emu.LastLink(email)
	require.True(t, ok, "a magic link was sent to %s", email)
	return link
}

func (e *env) lastCode(t *testing.T, identifier string) string {
	t.Helper()
	code, ok := e.emu.LastCode(identifier)
	require.True(t, ok, "a code was sent to %s", identifier)
	return code
}

// signInOTP signs b in with an email code through the HTML forms (with the next field unless
// next is "") and returns the final answer.
func (b *browser) signInOTP(email, next string) answer {
	b.t.Helper()
	vals := url.Values{"channel": {"email"}, "identifier": {email}}
	if next != "" {
		vals.Set("next", next)
	}
	r := b.form("/auth/otp/send", vals)
	require.Equal(b.t, http.StatusOK, r.StatusCode, r.body)
	return b.form("/auth/otp/authenticate", url.Values{"passcode": {b.e.lastCode(b.t, email)}})
}
