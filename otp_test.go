package otlogin

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/otlogin/otlogin/transmit/transmittest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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

// TestPasscodeExpiryLockoutResend drives Mosaic's passcode rules through otlogin's routes
// (docs/SECURITY.md O1):
//   - a passcode works for OTPTTL and no longer: the browser's flow expires with it (refused
//     without asking Mosaic), and Mosaic is sent the same lifetime (expires_in), so a code
//     whose flow otlogin still holds (otlogin's clock 31s behind the emulator's) is refused
//     by Mosaic;
//   - a code Mosaic reports expired or locked ends the flow: nothing more reaches Mosaic for
//     it, even with AttemptsPerFlow above Mosaic's own limit;
//   - guesses are bounded by sends: each send starts a flow with AttemptsPerFlow guesses,
//     after which otlogin answers 429 without asking Mosaic, and a resend past the address's
//     send budget is refused before Mosaic sends anything.
func TestPasscodeExpiryLockoutResend(t *testing.T) {
	t.Parallel()
	const ttl = 3 * time.Minute // not the default (5m), which the emulator also uses
	const email = "ada@example.com"
	newOTP := func(t *testing.T, mod func(*Config)) (*harness, *http.Client, string) {
		h := newHarness(t, func(c *Config) {
			c.OTPTTL = ttl
			if mod != nil {
				mod(c)
			}
		})
		h.emu.CreateUser(email, "")
		c := h.newClient()
		r := h.postJSON(c, "/auth/otp/send", map[string]string{"channel": "email", "identifier": email})
		require.Equal(t, http.StatusAccepted, r.StatusCode, r.body)
		return h, c, h.lastCode(email)
	}
	enter := func(h *harness, c *http.Client, passcode string) response {
		return h.postJSON(c, "/auth/otp/authenticate", map[string]string{"passcode": passcode})
	}
	authCalls := func(h *harness) int { return h.emu.Calls(transmittest.EndpointAuthenticateOTP) }

	t.Run("within OTPTTL", func(t *testing.T) {
		t.Parallel()
		h, c, code := newOTP(t, nil)
		h.clock.Advance(ttl - 30*time.Second)
		h.emu.Advance(ttl - 30*time.Second)
		r := enter(h, c, code)
		assert.Equal(t, http.StatusOK, r.StatusCode, r.body)
	})
	t.Run("the flow expired", func(t *testing.T) {
		t.Parallel()
		h, c, code := newOTP(t, nil)
		h.clock.Advance(ttl)
		r := enter(h, c, code)
		assert.Equal(t, http.StatusBadRequest, r.StatusCode)
		assert.Contains(t, r.body, `"invalid_code"`)
		r = enter(h, c, code)
		assert.Contains(t, r.body, `"no_pending_login"`, "the flow ended")
		assert.Equal(t, 0, authCalls(h), "Mosaic is not asked")
	})
	t.Run("Mosaic's code expired", func(t *testing.T) {
		t.Parallel()
		h, c, code := newOTP(t, nil)
		h.clock.Advance(ttl - 30*time.Second) // the flow has 30s left
		h.emu.Advance(ttl + time.Second)      // 31s apart: within the ID token's 1m leeway
		r := enter(h, c, code)
		assert.Equal(t, http.StatusBadRequest, r.StatusCode)
		assert.Contains(t, r.body, `"invalid_code"`)
		assert.Equal(t, 1, authCalls(h), "the flow was live: Mosaic was asked and refused")
		r = enter(h, c, code)
		assert.Contains(t, r.body, `"no_pending_login"`, "Mosaic's expiry ended the flow")
		assert.Equal(t, 1, authCalls(h))
	})
	t.Run("Mosaic locked the code", func(t *testing.T) {
		t.Parallel()
		h, c, code := newOTP(t, func(c *Config) { c.Limits.AttemptsPerFlow = 10 })
		for g := range 3 { // the emulator, like Mosaic, locks at the third failure
			r := enter(h, c, wrongCode(code, g))
			assert.Equal(t, http.StatusBadRequest, r.StatusCode)
			assert.Contains(t, r.body, `"invalid_code"`)
		}
		require.Equal(t, 3, authCalls(h))
		r := enter(h, c, code)
		assert.Contains(t, r.body, `"no_pending_login"`, "the lockout ended the flow")
		assert.Equal(t, 3, authCalls(h), "nothing more reaches Mosaic for a locked code")
	})
	t.Run("resend", func(t *testing.T) {
		t.Parallel()
		h, c, code := newOTP(t, func(c *Config) {
			c.Limits.AttemptsPerFlow = 2
			c.Limits.SendsPerIdentifier = Rate{N: 3, Per: 15 * time.Minute}
		})
		for i := range 2 {
			for g := range 2 {
				r := enter(h, c, wrongCode(code, g))
				assert.Equal(t, http.StatusBadRequest, r.StatusCode, "send %d, guess %d", i, g)
			}
			r := enter(h, c, code)
			assert.Equal(t, http.StatusTooManyRequests, r.StatusCode, "send %d: the right code after the flow's guesses", i)
			assert.Contains(t, r.body, `"too_many_attempts"`)
			r = h.postJSON(c, "/auth/otp/send", map[string]string{"channel": "email", "identifier": email})
			require.Equal(t, http.StatusAccepted, r.StatusCode, r.body)
			code = h.lastCode(email)
		}
		assert.Equal(t, 4, authCalls(h), "two guesses per send reached Mosaic")
		r := h.postJSON(h.newClient(), "/auth/otp/send", map[string]string{"channel": "email", "identifier": email})
		assert.Equal(t, http.StatusTooManyRequests, r.StatusCode, "a fourth send: %s", r.body)
		assert.Equal(t, 3, h.emu.Calls(transmittest.EndpointSendOTP), "nothing sent past the budget")
		r = enter(h, c, code)
		assert.Equal(t, http.StatusOK, r.StatusCode, "the newest code, in its fresh flow: %s", r.body)
	})
}
