package conformance

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin"
	"github.com/otlogin/otlogin/transmit/transmittest"
)

// testSignIn signs in with every method, as a browser (HTML) and as an API client (JSON),
// reaches the protected routes, signs out and checks that the old cookie is refused.
func testSignIn(t *testing.T, build Build) {
	const email, phone = "ada@example.com", "+14155550123"
	cases := []struct {
		name   string
		method string
		json   bool
		signIn func(e *env, b *browser) answer
	}{
		{"magic link HTML", otlogin.MethodMagicLink, false, func(e *env, b *browser) answer {
			r := b.form("/auth/link/email/send", url.Values{"email": {email}, "next": {"/dashboard"}})
			require.Equal(t, http.StatusOK, r.StatusCode, r.body)
			assert.Contains(t, r.Header.Get("Content-Type"), "text/html")
			return b.get(e.lastLink(t, email))
		}},
		{"magic link JSON", otlogin.MethodMagicLink, true, func(e *env, b *browser) answer {
			r := b.json("/auth/link/email/send", map[string]string{"email": email, "next": "/dashboard"})
			require.Equal(t, http.StatusAccepted, r.StatusCode, r.body)
			assert.JSONEq(t, `{"status":"sent"}`, r.body)
			u, err := url.Parse(e.lastLink(t, email))
			require.NoError(t, err)
			return b.json("/auth/link/email/authenticate", map[string]string{"code": u.Query().Get("code"), "state": u.Query().Get("state")})
		}},
		{"email OTP HTML", otlogin.MethodEmailOTP, false, func(e *env, b *browser) answer {
			return b.signInOTP(email, "/dashboard")
		}},
		{"email OTP JSON", otlogin.MethodEmailOTP, true, func(e *env, b *browser) answer {
			r := b.json("/auth/otp/send", map[string]string{"channel": "email", "identifier": email, "next": "/dashboard"})
			require.Equal(t, http.StatusAccepted, r.StatusCode, r.body)
			assert.JSONEq(t, `{"status":"sent"}`, r.body)
			return b.json("/auth/otp/authenticate", map[string]string{"passcode": e.lastCode(t, email), "channel": "email", "identifier": email})
		}},
		{"SMS OTP HTML", otlogin.MethodSMSOTP, false, func(e *env, b *browser) answer {
			r := b.form("/auth/otp/send", url.Values{"channel": {"sms"}, "identifier": {phone}, "next": {"/dashboard"}})
			require.Equal(t, http.StatusOK, r.StatusCode, r.body)
			return b.form("/auth/otp/authenticate", url.Values{"passcode": {e.lastCode(t, phone)}})
		}},
		{"SMS OTP JSON", otlogin.MethodSMSOTP, true, func(e *env, b *browser) answer {
			r := b.json("/auth/otp/send", map[string]string{"channel": "sms", "identifier": "+1 (415) 555-0123"})
			require.Equal(t, http.StatusAccepted, r.StatusCode, r.body)
			return b.json("/auth/otp/authenticate", map[string]string{"passcode": e.lastCode(t, phone)})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, build)
			b := e.browser(t)
			identifier := email
			if tc.method == otlogin.MethodSMSOTP {
				identifier = phone[1:] // html/template writes "+" as "&#43;"
			}

			r := tc.signIn(e, b)
			if tc.json {
				require.Equal(t, http.StatusOK, r.StatusCode, r.body)
				assert.Contains(t, r.Header.Get("Content-Type"), "application/json")
				var u map[string]any
				require.NoError(t, json.Unmarshal([]byte(r.body), &u))
				assert.Equal(t, tc.method, u["method"])
				for _, k := range []string{"subject", "email", "phone_number", "method", "amr", "auth_time", "expires_at"} {
					assert.Contains(t, u, k)
				}
				assert.Len(t, u, 7, "the user JSON has exactly the documented fields")
			} else {
				require.Equal(t, http.StatusSeeOther, r.StatusCode, r.body)
				assert.Equal(t, "/dashboard", r.Header.Get("Location"))
			}
			require.NotNil(t, r.cookie(), "the sign-in answer sets the session cookie")

			dash := b.get("/dashboard")
			require.Equal(t, http.StatusOK, dash.StatusCode, dash.body)
			assert.Contains(t, dash.Header.Get("Content-Type"), "text/html")
			assert.Contains(t, dash.body, identifier)

			me := b.get("/auth/me")
			require.Equal(t, http.StatusOK, me.StatusCode, me.body)
			var user otlogin.User
			require.NoError(t, json.Unmarshal([]byte(me.body), &user))
			assert.NotEmpty(t, user.Subject)
			assert.Equal(t, tc.method, user.Method)

			api := b.get("/api/me", "Accept", "application/json")
			require.Equal(t, http.StatusOK, api.StatusCode, api.body)
			assert.Contains(t, api.Header.Get("Content-Type"), "application/json")
			var apiUser map[string]any
			require.NoError(t, json.Unmarshal([]byte(api.body), &apiUser))
			assert.Equal(t, map[string]any{"subject": user.Subject, "email": user.Email,
				"phone_number": user.PhoneNumber, "method": tc.method}, apiUser)

			home := b.get("/")
			require.Equal(t, http.StatusOK, home.StatusCode)
			assert.Contains(t, home.body, identifier, "the home page knows the user")

			old := b.session()
			require.NotEmpty(t, old)
			logouts := e.emu.Calls(transmittest.EndpointLogout)
			var out answer
			if tc.json {
				out = b.json("/auth/logout", map[string]string{})
				assert.Equal(t, http.StatusNoContent, out.StatusCode, out.body)
			} else {
				out = b.form("/auth/logout", url.Values{})
				assert.Equal(t, http.StatusSeeOther, out.StatusCode, out.body)
				assert.Equal(t, "/", out.Header.Get("Location"))
			}
			assert.Equal(t, `"cookies"`, out.Header.Get("Clear-Site-Data"))
			if c := out.cookie(); assert.NotNil(t, c, "sign-out clears the cookie") {
				assert.Empty(t, c.Value)
				assert.Negative(t, c.MaxAge)
			}
			// The Mosaic session is revoked in the background after the answer (the local
			// session ends first), so wait for that one call.
			assert.Eventually(t, func() bool { return e.emu.Calls(transmittest.EndpointLogout) == logouts+1 },
				5*time.Second, 2*time.Millisecond, "the Mosaic session is revoked")

			assert.Equal(t, http.StatusUnauthorized, b.get("/auth/me").StatusCode)
			replay := e.withSession(t, old)
			assert.Equal(t, http.StatusSeeOther, replay.get("/dashboard").StatusCode, "the old cookie is refused")
			assert.Equal(t, http.StatusUnauthorized, replay.get("/api/me", "Accept", "application/json").StatusCode)
			assert.Equal(t, http.StatusUnauthorized, replay.get("/auth/me").StatusCode)
		})
	}

	t.Run("magic link opened in another browser", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, build)
		b := e.browser(t)
		r := b.form("/auth/link/email/send", url.Values{"email": {email}, "next": {"/dashboard"}})
		require.Equal(t, http.StatusOK, r.StatusCode, r.body)
		link := e.lastLink(t, email)

		other := e.browser(t).get(link)
		assert.Equal(t, http.StatusOK, other.StatusCode)
		assert.Nil(t, other.cookie(), "no session for the other browser")
		assert.Zero(t, e.emu.Calls(transmittest.EndpointAuthenticateMagicLink), "the code is not spent")

		r = b.get(link)
		require.Equal(t, http.StatusSeeOther, r.StatusCode, r.body)
		assert.Equal(t, "/dashboard", r.Header.Get("Location"))
	})
}

// testPages checks the public routes and the auth pages' headers.
func testPages(t *testing.T, build Build) {
	e := newEnv(t, build)
	b := e.browser(t)

	home := b.get("/")
	require.Equal(t, http.StatusOK, home.StatusCode)
	assert.Contains(t, home.Header.Get("Content-Type"), "text/html")
	assert.Contains(t, home.body, `href="/auth/login`)
	assert.Nil(t, home.cookie(), "an anonymous visit starts no session")

	health := b.get("/healthz")
	require.Equal(t, http.StatusOK, health.StatusCode)
	assert.Equal(t, "ok", health.body)
	assert.Contains(t, health.Header.Get("Content-Type"), "text/plain")
	assert.NotContains(t, health.Header.Values("Vary"), "Cookie", "/healthz is outside the session layer")
	assert.Nil(t, health.cookie())

	login := b.get("/auth/login?next=%2Fdashboard")
	require.Equal(t, http.StatusOK, login.StatusCode)
	assert.Contains(t, login.Header.Get("Content-Type"), "text/html")
	assert.Contains(t, login.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'")
	assert.Equal(t, "no-referrer", login.Header.Get("Referrer-Policy"))
	assert.Equal(t, "no-store", login.Header.Get("Cache-Control"))
	assert.Contains(t, login.body, `value="/dashboard"`)

	notFound := b.get("/auth/nope", "Accept", "application/json")
	assert.Equal(t, http.StatusNotFound, notFound.StatusCode)
	assert.Contains(t, notFound.body, `"error":"not_found"`, "unknown auth paths reach otlogin")

	wrongMethod := b.get("/auth/otp/send", "Accept", "application/json")
	assert.Equal(t, http.StatusMethodNotAllowed, wrongMethod.StatusCode)
	assert.Equal(t, "POST", wrongMethod.Header.Get("Allow"))

	me := b.get("/auth/me")
	assert.Equal(t, http.StatusUnauthorized, me.StatusCode)
	assert.JSONEq(t, `{"error":"unauthenticated","message":"Sign in to continue."}`, me.body)
}

// testRequireAuth checks what anonymous and signed-in requests get from protected routes.
func testRequireAuth(t *testing.T, build Build) {
	e := newEnv(t, build)
	anon := e.browser(t)
	fetch := []string{"Accept", "*/*", "Sec-Fetch-Mode", "cors", "Sec-Fetch-Dest", "empty", "Sec-Fetch-Site", "same-origin"}
	curl := []string{"Accept", "*/*"}
	navigation := []string{"Accept", "text/html,application/xhtml+xml,*/*;q=0.8", "Sec-Fetch-Mode", "navigate",
		"Sec-Fetch-Dest", "document", "Sec-Fetch-Site", "none"}
	oldBrowser := []string{"Accept", "text/html,application/xhtml+xml,*/*;q=0.8"}
	const unauthenticated = `{"error":"unauthenticated","message":"Sign in to continue."}`
	cases := []struct {
		name, path string
		header     []string
		status     int
		location   string
		body       string
	}{
		{"page navigation", "/dashboard", navigation, http.StatusSeeOther, "/auth/login?next=%2Fdashboard", ""},
		{"page navigation with query", "/dashboard?tab=2&x=%2F", navigation, http.StatusSeeOther, "/auth/login?next=%2Fdashboard%3Ftab%3D2%26x%3D%252F", ""},
		{"page from a browser without Sec-Fetch", "/dashboard", oldBrowser, http.StatusSeeOther, "/auth/login?next=%2Fdashboard", ""},
		{"page by fetch", "/dashboard", fetch, http.StatusUnauthorized, "", unauthenticated},
		{"page by curl", "/dashboard", curl, http.StatusUnauthorized, "", unauthenticated},
		{"API by fetch", "/api/me", fetch, http.StatusUnauthorized, "", unauthenticated},
		{"API by curl", "/api/me", curl, http.StatusUnauthorized, "", unauthenticated},
		{"API asking for JSON", "/api/me", []string{"Accept", "application/json"}, http.StatusUnauthorized, "", unauthenticated},
		{"API navigation", "/api/me", navigation, http.StatusSeeOther, "/auth/login?next=%2Fapi%2Fme", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := anon.in(t).get(tc.path, tc.header...)
			assert.Equal(t, tc.status, r.StatusCode, r.body)
			assert.Equal(t, tc.location, r.Header.Get("Location"))
			if tc.body != "" {
				assert.JSONEq(t, tc.body, r.body)
				assert.Contains(t, r.Header.Get("Content-Type"), "application/json")
				assert.Contains(t, r.Header.Get("WWW-Authenticate"), `Cookie realm="`)
			}
			assert.NotContains(t, r.body, "Dashboard", "the protected handler did not run")
			assert.NotContains(t, r.body, `"subject"`, "the protected handler did not run")
			assert.Equal(t, "no-store", r.Header.Get("Cache-Control"))
		})
	}

	t.Run("session saved when the handler writes first", func(t *testing.T) {
		b := e.browser(t)
		r := b.signInOTP("grace@example.com", "/dashboard")
		require.Equal(t, http.StatusSeeOther, r.StatusCode, r.body)
		token := b.session()
		for _, path := range []string{"/dashboard", "/api/me", "/"} {
			e.clock.Advance(2 * time.Minute) // past the activity step: the session changes on load
			r := b.get(path)
			require.Equal(t, http.StatusOK, r.StatusCode, path)
			if c := r.cookie(); assert.NotNil(t, c, "%s: the refreshed session is saved and its cookie sent", path) {
				assert.Equal(t, token, c.Value, path)
			}
		}
		e.clock.Advance(31 * time.Minute) // past the idle timeout
		r = b.get("/dashboard")
		assert.Equal(t, http.StatusSeeOther, r.StatusCode)
		if c := r.cookie(); assert.NotNil(t, c, "the expired session's cookie is cleared") {
			assert.Negative(t, c.MaxAge)
		}
		assert.Equal(t, http.StatusUnauthorized, b.get("/api/me", "Accept", "application/json").StatusCode)
	})
}
