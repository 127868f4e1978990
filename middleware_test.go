package otlogin

import (
	"context"
	"errors"
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin/transmit/transmittest"
)

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

// TestPanicRecovered: a panic inside the auth routes (here in OnLogin) becomes a generic
// 500 without details.
func TestPanicRecovered(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) {
		c.OnLogin = func(context.Context, *User) error { panic("secret detail") }
	})
	h.emu.CreateUser("ada@example.com", "")
	r := h.signInLink(h.newClient(), "ada@example.com", "/")
	assert.Equal(t, http.StatusInternalServerError, r.StatusCode)
	assert.NotContains(t, r.body, "secret detail")
	assert.NotContains(t, r.body, "goroutine")
	assert.Equal(t, "no-store", r.Header.Get("Cache-Control"))
}

// TestErrorHandlerAndTemplates: Config.ErrorHandler receives an *Error; Config.Templates
// replaces the pages.
func TestErrorHandlerAndTemplates(t *testing.T) {
	t.Parallel()
	var got *Error
	tmpl := template.New("custom")
	for _, name := range TemplateNames() {
		template.Must(tmpl.New(name).Parse(`custom ` + name + ` {{.Next}}`))
	}
	h := newHarness(t, func(c *Config) {
		c.Templates = tmpl
		c.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
			require.True(t, errors.As(err, &got))
			w.WriteHeader(got.Status)
			_, _ = io.WriteString(w, "handled "+got.Code)
		}
	})
	c := h.newClient()
	r := h.get(c, "/auth/login?next=/x")
	assert.Equal(t, "custom login.html /x", r.body)
	r = h.postForm(c, "/auth/otp/send", url.Values{"channel": {"fax"}})
	assert.Equal(t, http.StatusBadRequest, r.StatusCode)
	assert.Equal(t, "handled invalid_channel", r.body)
	require.NotNil(t, got)
	assert.Equal(t, "invalid_channel", got.Code)
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

// TestAccessTokenRefreshCoalesces: parallel requests of one session share one refresh.
func TestAccessTokenRefreshCoalesces(t *testing.T) {
	t.Parallel()
	h := newHarness(t, noRevalidate)
	h.emu.CreateUser("ada@example.com", "")
	c := h.newClient()
	require.Equal(t, http.StatusSeeOther, h.signInLink(c, "ada@example.com", "/").StatusCode)
	token := h.sessionCookie(c)
	h.clock.Advance(29 * time.Minute)
	h.get(c, "/dashboard")
	h.clock.Advance(29 * time.Minute)
	h.get(c, "/dashboard")
	h.clock.Advance(3 * time.Minute)
	h.emu.SetLatency(50 * time.Millisecond)
	results := make(chan string, 8)
	for i := 0; i < 8; i++ {
		go func() {
			resp, err := h.clientWithCookie(token).Get(h.url("/token"))
			if err != nil {
				results <- "error"
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			results <- string(b)
		}()
	}
	first := <-results
	for i := 1; i < 8; i++ {
		assert.Equal(t, first, <-results)
	}
	assert.Equal(t, 1, h.emu.Calls(transmittest.EndpointRefresh))
}

// TestVerificationKeysUnavailable: when discovery fails at sign-in the answer is 503 and
// nobody is signed in.
func TestVerificationKeysUnavailable(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.emu.CreateUser("ada@example.com", "")
	h.emu.Force(transmittest.EndpointDiscovery, transmittest.FaultUnavailable())
	c := h.newClient()
	r := h.signInLink(c, "ada@example.com", "/")
	assert.Equal(t, http.StatusServiceUnavailable, r.StatusCode)
	assert.Equal(t, http.StatusSeeOther, h.get(c, "/dashboard").StatusCode)
	assert.Equal(t, 0, h.emu.SessionCount(), "the Mosaic session was ended")
}

// TestSignInAgain: signing in over an earlier sign-in ends the earlier Mosaic session.
func TestSignInAgain(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.emu.CreateUser("ada@example.com", "+14155550123")
	c := h.newClient()
	require.Equal(t, http.StatusSeeOther, h.signInLink(c, "ada@example.com", "/").StatusCode)
	require.Equal(t, http.StatusSeeOther, h.signInOTP(c, "sms", "+14155550123").StatusCode)
	assert.Equal(t, 1, h.emu.SessionCount())
	r := h.get(c, "/auth/me")
	assert.Contains(t, r.body, `"method":"sms_otp"`)
}

// TestWrongCodeHTMLShowsCodePage: a wrong code in the HTML flow shows the code form again.
func TestWrongCodeHTMLShowsCodePage(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.emu.CreateUser("ada@example.com", "")
	c := h.newClient()
	h.postForm(c, "/auth/otp/send", url.Values{"channel": {"email"}, "identifier": {"ada@example.com"}, "next": {"/dashboard"}})
	code := h.lastCode("ada@example.com")
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	for _, p := range []string{wrong, ""} {
		r := h.postForm(c, "/auth/otp/authenticate", url.Values{"passcode": {p}})
		assert.Equal(t, http.StatusBadRequest, r.StatusCode)
		assert.Contains(t, r.body, `name="passcode"`)
		assert.Contains(t, r.body, `role="alert"`)
	}
	r := h.postForm(c, "/auth/otp/authenticate", url.Values{"passcode": {code}})
	assert.Equal(t, http.StatusSeeOther, r.StatusCode)
	assert.Equal(t, "/dashboard", r.Header.Get("Location"))
}

// TestRefreshAcrossInstances: two instances sharing a store refresh one session at once;
// Mosaic honours one refresh token use, and the other instance picks up the rotated tokens
// from the store instead of failing.
func TestRefreshAcrossInstances(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.emu.CreateUser("ada@example.com", "")
	second, err := New(h.auth.cfg)
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("GET /token", second.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, err := second.AccessToken(r.Context())
		if err != nil {
			http.Error(w, "no token", http.StatusBadGateway)
			return
		}
		_, _ = io.WriteString(w, tok)
	})))
	srv2 := httptest.NewServer(second.Middleware(mux))
	defer srv2.Close()

	c := h.newClient()
	require.Equal(t, http.StatusSeeOther, h.signInLink(c, "ada@example.com", "/").StatusCode)
	cookie := h.sessionCookie(c)
	for _, d := range []time.Duration{25 * time.Minute, 25 * time.Minute, 15 * time.Minute} {
		h.clock.Advance(d)
		h.get(c, "/dashboard")
	}
	h.emu.SetLatency(100 * time.Millisecond)
	type result struct {
		status int
		body   string
	}
	results := make(chan result, 2)
	for _, base := range []string{h.srv.URL, srv2.URL} {
		go func() {
			resp, err := h.clientWithCookie(cookie).Get(base + "/token")
			if err != nil {
				results <- result{}
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			results <- result{resp.StatusCode, string(b)}
		}()
	}
	r1, r2 := <-results, <-results
	h.emu.SetLatency(0)
	assert.Equal(t, http.StatusOK, r1.status, r1.body)
	assert.Equal(t, http.StatusOK, r2.status, r2.body)
	after := h.get(h.clientWithCookie(cookie), "/token")
	assert.Equal(t, http.StatusOK, after.StatusCode)
	assert.Contains(t, []string{r1.body, r2.body}, after.body, "the stored token is one of the refreshed ones")
}

// TestStaleWriteKeepsRotatedTokens: a slow request that loaded the session before a token
// refresh saves it afterwards; the rotated refresh token survives.
func TestStaleWriteKeepsRotatedTokens(t *testing.T) {
	t.Parallel()
	h := newHarness(t, noRevalidate)
	h.emu.CreateUser("ada@example.com", "")
	c := h.newClient()
	require.Equal(t, http.StatusSeeOther, h.signInLink(c, "ada@example.com", "/").StatusCode)
	cookie := h.sessionCookie(c)
	for _, d := range []time.Duration{25 * time.Minute, 25 * time.Minute, 15 * time.Minute} {
		h.clock.Advance(d)
		h.get(c, "/dashboard")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := h.clientWithCookie(cookie).Get(h.url("/slow"))
		if err == nil {
			resp.Body.Close()
		}
	}()
	<-h.slowStarted
	first := h.get(c, "/token")
	require.Equal(t, http.StatusOK, first.StatusCode)
	close(h.slowRelease)
	<-done
	for i := 0; i < 2; i++ {
		r := h.get(c, "/token")
		assert.Equal(t, http.StatusOK, r.StatusCode)
		assert.Equal(t, first.body, r.body)
	}
	assert.Equal(t, 1, h.emu.Calls(transmittest.EndpointRefresh))
}

// TestSessionToken: the session cookie is read from the Cookie headers in place: the first
// cookie of that name whose value has an scs token's shape (43 base64url characters), quotes
// removed; anything else, such as the name of another store record, is no token.
// The scan allocates nothing.
func TestSessionToken(t *testing.T) {
	const name = "__Host-otlogin"
	tok, tok2 := strings.Repeat("a", 43), strings.Repeat("b", 43)
	b64url := "Az09-_" + strings.Repeat("x", 37)
	cases := []struct {
		name    string
		headers []string
		want    string
	}{
		{"none", nil, ""},
		{"only cookie", []string{name + "=" + tok}, tok},
		{"among others", []string{"a=1; " + name + "=" + tok + "; b=2"}, tok},
		{"no spaces", []string{"a=1;" + name + "=" + tok + ";b=2"}, tok},
		{"second header", []string{"a=1", name + "=" + tok}, tok},
		{"quoted", []string{name + `="` + tok + `"`}, tok},
		{"first wins", []string{name + "=" + tok + "; " + name + "=" + tok2}, tok},
		{"base64url characters", []string{name + "=" + b64url}, b64url},
		{"prefix of another name", []string{name + "x=" + tok}, ""},
		{"other name ending in it", []string{"x" + name + "=" + tok}, ""},
		{"empty value", []string{name + "="}, ""},
		{"no value", []string{name}, ""},
		{"too long", []string{name + "=" + tok + "a"}, ""},
		{"too short", []string{name + "=" + tok[1:]}, ""},
		{"short token", []string{name + "=first"}, ""},
		{"not a token", []string{name + "=a b"}, ""},
		{"standard base64", []string{name + "=" + strings.Repeat("a", 42) + "+"}, ""},
		{"padding", []string{name + "=" + strings.Repeat("a", 42) + "="}, ""},
		{"rotated record", []string{name + "=" + rotatedKey("mosaic-session")}, ""},
		{"bad first, good second", []string{name + "=<x>; " + name + "=" + tok}, tok},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{"Cookie": tc.headers}
			assert.Equal(t, tc.want, sessionToken(h, name))
		})
	}
	h := http.Header{"Cookie": {"a=1; b=2; " + name + "=" + tok}}
	allocs := testing.AllocsPerRun(100, func() { _ = sessionToken(h, name) })
	assert.Zero(t, allocs)
}

// TestSignedInAnswersNotCached: what RequireAuth lets through carries the user's data, so it
// is marked Cache-Control: no-store (after sign-out, the Back button or a shared cache must
// not show it); public pages are left to the app.
func TestSignedInAnswersNotCached(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.emu.CreateUser("cache@example.com", "")
	c := h.newClient()
	require.Equal(t, http.StatusSeeOther, h.signInLink(c, "cache@example.com", "/dashboard").StatusCode)
	r := h.get(c, "/dashboard")
	require.Equal(t, http.StatusOK, r.StatusCode, r.body)
	assert.Equal(t, "no-store", r.Header.Get("Cache-Control"), "signed-in page")
	assert.Empty(t, h.get(c, "/").Header.Get("Cache-Control"), "a public page is the app's to decide")
}
