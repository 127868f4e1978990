package conformance

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin"
	"github.com/otlogin/otlogin/transmit/transmittest"
)

// testRateLimits goes over each budget: the answer is 429 with Retry-After, and Mosaic is
// not called.
func testRateLimits(t *testing.T, build Build) {
	t.Run("sends per identifier", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, build, func(c *otlogin.Config) { c.Limits.SendsPerIdentifier = otlogin.Rate{N: 2} })
		b := e.browser(t)
		for range 2 {
			r := b.json("/auth/link/email/send", map[string]string{"email": "ada@example.com"})
			require.Equal(t, http.StatusAccepted, r.StatusCode, r.body)
		}
		sends := e.emu.Calls(transmittest.EndpointSendMagicLink)
		r := b.json("/auth/otp/send", map[string]string{"channel": "email", "identifier": "ADA@example.com"})
		assertRateLimited(t, r)
		assert.Contains(t, r.body, `"error":"rate_limited"`)
		page := e.browser(t).form("/auth/link/email/send", url.Values{"email": {"ada@example.com"}})
		assertRateLimited(t, page)
		assert.Contains(t, page.Header.Get("Content-Type"), "text/html")
		assert.Equal(t, sends, e.emu.Calls(transmittest.EndpointSendMagicLink))
		assert.Zero(t, e.emu.Calls(transmittest.EndpointSendOTP), "Mosaic is not called over the limit")
	})
	t.Run("sends per client IP", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, build, func(c *otlogin.Config) { c.Limits.SendsPerIP = otlogin.Rate{N: 2} })
		for i := range 2 {
			r := e.browser(t).json("/auth/otp/send", map[string]string{"channel": "email", "identifier": "u" + strconv.Itoa(i) + "@example.com"})
			require.Equal(t, http.StatusAccepted, r.StatusCode, r.body)
		}
		before := e.mosaicCalls()
		r := e.browser(t).json("/auth/otp/send", map[string]string{"channel": "sms", "identifier": "+14155550123"})
		assertRateLimited(t, r)
		assert.Equal(t, before, e.mosaicCalls(), "Mosaic is not called over the limit")
	})
	t.Run("passcode attempts", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, build, func(c *otlogin.Config) { c.Limits.AttemptsPerFlow = 2 })
		b := e.browser(t)
		r := b.json("/auth/otp/send", map[string]string{"channel": "email", "identifier": "ada@example.com"})
		require.Equal(t, http.StatusAccepted, r.StatusCode, r.body)
		wrong := "000000"
		if e.lastCode(t, "ada@example.com") == wrong {
			wrong = "111111"
		}
		for range 2 {
			r := b.json("/auth/otp/authenticate", map[string]string{"passcode": wrong})
			assert.Equal(t, http.StatusBadRequest, r.StatusCode, r.body)
			assert.Contains(t, r.body, `"error":"invalid_code"`)
		}
		r = b.json("/auth/otp/authenticate", map[string]string{"passcode": e.lastCode(t, "ada@example.com")})
		assert.Equal(t, http.StatusTooManyRequests, r.StatusCode, r.body)
		assert.Contains(t, r.body, `"error":"too_many_attempts"`, "the flow's attempts are spent: a new send starts another")
		assert.Equal(t, 2, e.emu.Calls(transmittest.EndpointAuthenticateOTP), "Mosaic is not called over the limit")
		assert.Equal(t, http.StatusUnauthorized, b.get("/auth/me").StatusCode)
	})
}

func assertRateLimited(t *testing.T, r answer) {
	t.Helper()
	assert.Equal(t, http.StatusTooManyRequests, r.StatusCode, r.body)
	secs, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if assert.NoError(t, err, "Retry-After is a number of seconds") {
		assert.Positive(t, secs)
	}
}

// testBadInput sends malformed requests: each gets a 4xx a person can act on, Mosaic is not
// called and no session starts.
func testBadInput(t *testing.T, build Build) {
	e := newEnv(t, build)
	const form, js = formType, jsonType
	cases := []struct {
		name, path, ctype, body string
		status                  int
		code                    string
	}{
		{"bad email", "/auth/link/email/send", form, "email=not-an-email", 400, "invalid_email"},
		{"empty email", "/auth/link/email/send", js, `{"email":""}`, 400, "invalid_email"},
		{"bad phone", "/auth/otp/send", form, "channel=sms&identifier=4155550123", 400, "invalid_phone"},
		{"phone with letters", "/auth/otp/send", js, `{"channel":"sms","identifier":"+1 415 CALL"}`, 400, "invalid_phone"},
		{"unknown channel", "/auth/otp/send", form, "channel=pigeon&identifier=ada%40example.com", 400, "invalid_channel"},
		{"empty passcode", "/auth/otp/authenticate", form, "passcode=", 400, "invalid_passcode"},
		{"passcode without a pending sign-in", "/auth/otp/authenticate", js, `{"passcode":"123456"}`, 400, "no_pending_login"},
		{"link code without a pending sign-in", "/auth/link/email/authenticate", form, "code=abc&state=def", 400, "no_pending_login"},
		{"wrong content type", "/auth/link/email/send", "text/plain", "email=ada@example.com", 415, "unsupported_media_type"},
		{"no content type", "/auth/otp/send", "", "channel=email", 415, "unsupported_media_type"},
		{"body over the limit", "/auth/link/email/send", form, "email=" + strings.Repeat("a", 20<<10), 413, "too_large"},
		{"invalid JSON", "/auth/link/email/send", js, `{"email":`, 400, "invalid_json"},
		{"JSON number for a string", "/auth/otp/authenticate", js, `{"passcode":123456}`, 400, "invalid_json"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := e.browser(t)
			before := e.mosaicCalls()
			r := b.do(http.MethodPost, tc.path, tc.ctype, tc.body, "Accept", "application/json")
			assert.Equal(t, tc.status, r.StatusCode, r.body)
			assert.Contains(t, r.body, `"error":"`+tc.code+`"`)
			assert.Regexp(t, `"message":"[A-Z][^"]{10,}"`, r.body, "a sentence for a person")
			assert.Equal(t, before, e.mosaicCalls(), "no Mosaic call")
			assert.Empty(t, b.session(), "no session started")
		})
	}
	t.Run("HTML answers render the error page", func(t *testing.T) {
		r := e.browser(t).form("/auth/link/email/send", url.Values{"email": {"nope"}})
		assert.Equal(t, http.StatusBadRequest, r.StatusCode)
		assert.Contains(t, r.Header.Get("Content-Type"), "text/html")
		assert.Contains(t, r.body, "Enter a valid email address")
	})
}
