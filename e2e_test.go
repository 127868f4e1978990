package otlogin

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin/transmit/transmittest"
)

// TestFlowsEndToEnd signs in with every method in HTML and JSON mode, reaches protected
// routes, signs out, and checks that the old cookie no longer works.
func TestFlowsEndToEnd(t *testing.T) {
	t.Parallel()
	const email, phone = "ada@example.com", "+14155550123"
	type signIn func(h *harness, c *http.Client) response
	cases := []struct {
		name   string
		method string
		json   bool
		signIn signIn
	}{
		{"magic link HTML", MethodMagicLink, false, func(h *harness, c *http.Client) response {
			return h.signInLink(c, email, "/dashboard")
		}},
		{"magic link JSON", MethodMagicLink, true, func(h *harness, c *http.Client) response {
			r := h.postJSON(c, "/auth/link/email/send", map[string]string{"email": email, "next": "/dashboard"})
			require.Equal(t, http.StatusAccepted, r.StatusCode, r.body)
			require.JSONEq(t, `{"status":"sent"}`, r.body)
			code, state := linkParams(t, h.lastLink(email))
			return h.postJSON(c, "/auth/link/email/authenticate", map[string]string{"code": code, "state": state})
		}},
		{"email OTP HTML", MethodEmailOTP, false, func(h *harness, c *http.Client) response {
			return h.signInOTP(c, "email", email)
		}},
		{"email OTP JSON", MethodEmailOTP, true, func(h *harness, c *http.Client) response {
			r := h.postJSON(c, "/auth/otp/send", map[string]string{"channel": "email", "identifier": email})
			require.Equal(t, http.StatusAccepted, r.StatusCode, r.body)
			return h.postJSON(c, "/auth/otp/authenticate", map[string]string{"passcode": h.lastCode(email),
				"channel": "email", "identifier": email})
		}},
		{"SMS OTP HTML", MethodSMSOTP, false, func(h *harness, c *http.Client) response {
			return h.signInOTP(c, "sms", phone)
		}},
		{"SMS OTP JSON", MethodSMSOTP, true, func(h *harness, c *http.Client) response {
			r := h.postJSON(c, "/auth/otp/send", map[string]string{"channel": "sms", "identifier": "+1 (415) 555-0123"})
			require.Equal(t, http.StatusAccepted, r.StatusCode, r.body)
			return h.postJSON(c, "/auth/otp/authenticate", map[string]string{"passcode": h.lastCode(phone)})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.emu.CreateUser(email, phone)
			c := h.newClient()

			before := h.get(c, "/dashboard")
			require.Equal(t, http.StatusSeeOther, before.StatusCode)
			assert.Equal(t, "/auth/login?next=%2Fdashboard", before.Header.Get("Location"))

			r := tc.signIn(h, c)
			if tc.json {
				require.Equal(t, http.StatusOK, r.StatusCode, r.body)
				var u map[string]any
				require.NoError(t, json.Unmarshal([]byte(r.body), &u))
				assert.Equal(t, tc.method, u["method"])
				for _, k := range []string{"subject", "email", "phone_number", "method", "amr", "auth_time", "expires_at"} {
					assert.Contains(t, u, k)
				}
				assert.Len(t, u, 7, "user JSON has exactly the documented fields")
			} else {
				require.Equal(t, http.StatusSeeOther, r.StatusCode, r.body)
				assert.Equal(t, "/dashboard", r.Header.Get("Location"))
			}

			dash := h.get(c, "/dashboard")
			require.Equal(t, http.StatusOK, dash.StatusCode)
			if tc.method == MethodSMSOTP {
				assert.Contains(t, dash.body, phone)
			} else {
				assert.Contains(t, dash.body, email)
			}

			me := h.get(c, "/auth/me")
			require.Equal(t, http.StatusOK, me.StatusCode)
			var u User
			require.NoError(t, json.Unmarshal([]byte(me.body), &u))
			assert.NotEmpty(t, u.Subject)
			assert.Equal(t, tc.method, u.Method)

			api := h.get(c, "/api/me", "Accept", "application/json")
			require.Equal(t, http.StatusOK, api.StatusCode)
			assert.Contains(t, api.body, `"method":"`+tc.method+`"`)

			old := h.sessionCookie(c)
			require.NotEmpty(t, old)
			logoutCalls := h.emu.Calls(transmittest.EndpointLogout)
			var out response
			if tc.json {
				out = h.postJSON(c, "/auth/logout", map[string]string{})
				assert.Equal(t, http.StatusNoContent, out.StatusCode)
			} else {
				out = h.postForm(c, "/auth/logout", url.Values{})
				assert.Equal(t, http.StatusSeeOther, out.StatusCode)
				assert.Equal(t, "/", out.Header.Get("Location"))
			}
			assert.Equal(t, `"cookies"`, out.Header.Get("Clear-Site-Data"))
			require.NoError(t, h.auth.Shutdown(t.Context()), "the background revocation ends")
			assert.Equal(t, logoutCalls+1, h.emu.Calls(transmittest.EndpointLogout), "Mosaic session revoked")
			assert.Equal(t, 0, h.emu.SessionCount(), "no Mosaic session left")

			assert.Equal(t, http.StatusUnauthorized, h.get(c, "/auth/me").StatusCode)
			replay := h.clientWithCookie(old)
			assert.Equal(t, http.StatusSeeOther, h.get(replay, "/dashboard").StatusCode, "old cookie refused")
			assert.Equal(t, http.StatusUnauthorized, h.get(replay, "/api/me", "Accept", "application/json").StatusCode)
		})
	}
}

// TestCreateUsers creates an unknown user through POST /v1/users before sending. Every send
// asks for the creation first (a known user's answer is a 409), so known and unknown users
// make the same calls.
func TestCreateUsers(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.CreateUsers = true })
	c := h.newClient()
	r := h.signInLink(c, "new@example.com", "/dashboard")
	require.Equal(t, http.StatusSeeOther, r.StatusCode, r.body)
	assert.Equal(t, 1, h.emu.Calls(transmittest.EndpointCreateUser))
	assert.Equal(t, 1, h.emu.Calls(transmittest.EndpointSendMagicLink), "created first, then sent once")
	assert.Equal(t, http.StatusOK, h.get(c, "/dashboard").StatusCode)

	r = h.signInLink(h.newClient(), "new@example.com", "/dashboard")
	require.Equal(t, http.StatusSeeOther, r.StatusCode, r.body)
	assert.Equal(t, 2, h.emu.Calls(transmittest.EndpointCreateUser), "a known user is asked for too (409)")
	assert.Equal(t, 2, h.emu.Calls(transmittest.EndpointSendMagicLink))

	r = h.signInOTP(h.newClient(), "sms", "+447911123456")
	require.Equal(t, http.StatusSeeOther, r.StatusCode, r.body)
	assert.Equal(t, 3, h.emu.Calls(transmittest.EndpointCreateUser))
}

// TestUserHasVerifiedContactsOnly: User.Email and User.PhoneNumber hold only addresses the
// user is known to control: a claim Mosaic marks verified, or the identifier the sign-in
// proved. An unverified email in the ID token of an SMS sign-in is left out.
func TestUserHasVerifiedContactsOnly(t *testing.T) {
	t.Parallel()
	const email, phone = "ada@example.com", "+14155550123"
	h := newHarness(t)
	h.emu.CreateUser(email, phone) // neither verified yet
	me := func(c *http.Client) map[string]string {
		t.Helper()
		r := h.get(c, "/api/me", "Accept", "application/json")
		require.Equal(t, http.StatusOK, r.StatusCode, r.body)
		var m map[string]string
		require.NoError(t, json.Unmarshal([]byte(r.body), &m))
		return m
	}

	c := h.newClient()
	require.Equal(t, http.StatusSeeOther, h.signInOTP(c, "sms", phone).StatusCode)
	got := me(c)
	assert.Equal(t, "", got["email"], "the token's email is not verified")
	assert.Equal(t, phone, got["phone_number"])

	c = h.newClient()
	require.Equal(t, http.StatusSeeOther, h.signInOTP(c, "email", email).StatusCode)
	got = me(c)
	assert.Equal(t, email, got["email"], "proved by this sign-in")
	assert.Equal(t, phone, got["phone_number"], "verified by the earlier SMS sign-in")

	c = h.newClient()
	require.Equal(t, http.StatusSeeOther, h.signInOTP(c, "sms", phone).StatusCode)
	assert.Equal(t, email, me(c)["email"], "now verified in Mosaic")
}
