package otlogin

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin/transmit/transmittest"
)

func TestCheckPasscode(t *testing.T) {
	t.Parallel()
	for in, ok := range map[string]bool{"123456": true, " 123456 ": true, "": false, "   ": false, "12": false,
		strings.Repeat("1", 17): false, "12 34": false, "12345<": false} {
		_, e := checkPasscode(in)
		assert.Equal(t, ok, e == nil, "passcode %q", in)
	}
}

// TestBadInput sends malformed requests to every route: each gets a 4xx with a message a
// person understands, Mosaic is never called, and nothing is stored.
func TestBadInput(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.SMSCountryCodes = []string{"44"} })
	h.emu.CreateUser("ada@example.com", "+14155550123")
	form := "application/x-www-form-urlencoded"
	js := "application/json"
	cases := []struct {
		name, path, ctype, body string
		status                  int
		code                    string
	}{
		{"malformed email", "/auth/link/email/send", form, "email=not-an-email", 400, "invalid_email"},
		{"empty email", "/auth/link/email/send", form, "email=", 400, "invalid_email"},
		{"email with header injection", "/auth/link/email/send", form, "email=a%40b.com%0d%0aBcc%3Ax%40y.z", 400, "invalid_email"},
		{"email JSON number", "/auth/link/email/send", js, `{"email":42}`, 400, "invalid_json"},
		{"invalid JSON", "/auth/link/email/send", js, `{"email":`, 400, "invalid_json"},
		{"two JSON objects", "/auth/link/email/send", js, `{"email":"a@b.co"}{"email":"c@d.co"}`, 400, "invalid_json"},
		{"JSON array", "/auth/otp/send", js, `["x"]`, 400, "invalid_json"},
		{"wrong content type", "/auth/link/email/send", "text/plain", "email=ada@example.com", 415, "unsupported_media_type"},
		{"multipart", "/auth/otp/send", "multipart/form-data; boundary=x", "--x--", 415, "unsupported_media_type"},
		{"no content type", "/auth/otp/send", "", "channel=email", 415, "unsupported_media_type"},
		{"body over the limit", "/auth/link/email/send", form, "email=" + strings.Repeat("a", 20<<10), 413, "too_large"},
		{"overlong field", "/auth/link/email/send", form, "email=" + strings.Repeat("a", 2000) + "%40b.com", 400, "invalid_field"},
		{"invalid UTF-8", "/auth/link/email/send", form, "email=%ff%fe%40b.com", 400, "invalid_field"},
		{"unknown channel", "/auth/otp/send", form, "channel=pigeon&identifier=ada%40example.com", 400, "invalid_channel"},
		{"missing channel", "/auth/otp/send", form, "identifier=ada%40example.com", 400, "invalid_channel"},
		{"phone not E.164", "/auth/otp/send", form, "channel=sms&identifier=4155550123", 400, "invalid_phone"},
		{"phone with letters", "/auth/otp/send", js, `{"channel":"sms","identifier":"+1 415 CALL"}`, 400, "invalid_phone"},
		{"SMS country not allowed", "/auth/otp/send", form, "channel=sms&identifier=%2B14155550123", 400, "sms_country_not_allowed"},
		{"email channel with phone", "/auth/otp/send", form, "channel=email&identifier=%2B14155550123", 400, "invalid_email"},
		{"empty passcode", "/auth/otp/authenticate", form, "passcode=", 400, "invalid_passcode"},
		{"overlong passcode", "/auth/otp/authenticate", js, `{"passcode":"12345678901234567890"}`, 400, "invalid_passcode"},
		{"passcode as number", "/auth/otp/authenticate", js, `{"passcode":123456}`, 400, "invalid_json"},
		{"passcode without flow", "/auth/otp/authenticate", form, "passcode=123456", 400, "no_pending_login"},
		{"link code without flow", "/auth/link/email/authenticate", form, "code=abc&state=def", 400, "no_pending_login"},
		{"link code missing", "/auth/link/email/authenticate", form, "state=def", 400, "invalid_link"},
		{"link code with markup", "/auth/link/email/authenticate", js, `{"code":"<script>","state":"x"}`, 400, "invalid_link"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := h.newClient()
			before := mosaicCalls(h)
			req, err := http.NewRequest(http.MethodPost, h.url(tc.path), strings.NewReader(tc.body))
			require.NoError(t, err)
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			req.Header.Set("Accept", "application/json")
			r := h.do(c, req)
			assert.Equal(t, tc.status, r.StatusCode, r.body)
			assert.Contains(t, r.body, `"error":"`+tc.code+`"`)
			assert.Regexp(t, `"message":"[A-Z][^"]{10,}"`, r.body, "a sentence for a person")
			assert.Equal(t, before, mosaicCalls(h), "no Mosaic call")
			assert.Empty(t, h.sessionCookie(c), "no session started")
		})
	}
	t.Run("HTML answers render the error page", func(t *testing.T) {
		r := h.postForm(h.newClient(), "/auth/link/email/send", map[string][]string{"email": {"nope"}})
		assert.Equal(t, http.StatusBadRequest, r.StatusCode)
		assert.Contains(t, r.Header.Get("Content-Type"), "text/html")
		assert.Contains(t, r.body, "Enter a valid email address")
		assert.Contains(t, r.body, `name="email"`, "the sign-in form is shown again")
	})
}

// mosaicCalls sums the business calls the emulator received.
func mosaicCalls(h *harness) int {
	n := 0
	for _, ep := range []transmittest.Endpoint{transmittest.EndpointSendMagicLink, transmittest.EndpointAuthenticateMagicLink,
		transmittest.EndpointSendOTP, transmittest.EndpointAuthenticateOTP, transmittest.EndpointCreateUser,
		transmittest.EndpointLogout, transmittest.EndpointRefresh} {
		n += h.emu.Calls(ep)
	}
	return n
}

// FuzzParseRequest feeds arbitrary bodies and content types to the parser and the
// validators: they must never panic, and failures are 4xx.
func FuzzParseRequest(f *testing.F) {
	f.Add("application/json", `{"email":"a@b.co","next":"/x"}`)
	f.Add("application/json", `{"passcode":123}`)
	f.Add("application/x-www-form-urlencoded", "channel=sms&identifier=%2B14155550123")
	f.Add("application/x-www-form-urlencoded", "a=%zz")
	f.Add("text/plain", "x")
	f.Add("application/json; charset=utf-8", `{"code":"x","state":"y"}`)
	a := &Auth{cfg: Config{MaxBodyBytes: 1024}}
	f.Fuzz(func(t *testing.T, ctype, body string) {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		r.Header.Set("Content-Type", ctype)
		in, e := a.parseInput(httptest.NewRecorder(), r)
		if e != nil {
			require.GreaterOrEqual(t, e.Status, 400)
			require.Less(t, e.Status, 500)
			return
		}
		for _, check := range []func(string) *Error{
			func(s string) *Error { _, e := normalizeEmail(s); return e },
			func(s string) *Error { _, _, e := normalizePhone(s); return e },
			func(s string) *Error { _, e := checkPasscode(s); return e },
			func(s string) *Error { return checkLinkParams(s, s) },
		} {
			for _, k := range []string{"email", "identifier", "passcode", "code"} {
				if e := check(in.get(k)); e != nil {
					require.Equal(t, http.StatusBadRequest, e.Status)
				}
			}
		}
		_ = sanitizeNext(in.get("next"))
	})
}

// deadlineWriter records the read deadlines set through http.ResponseController.
type deadlineWriter struct {
	*httptest.ResponseRecorder
	deadlines []time.Time
}

func (w *deadlineWriter) SetReadDeadline(t time.Time) error {
	w.deadlines = append(w.deadlines, t)
	return nil
}

// TestReadBodyUsesItsOwnTimeout: the body is read within the BodyTimeout of the Auth whose
// handler reads it, whatever otlogin state the request's context holds (none, or another
// Auth's): the deadline is set, then lifted once the body is in; with no timeout, none is set.
func TestReadBodyUsesItsOwnTimeout(t *testing.T) {
	t.Parallel()
	timed := &Auth{cfg: Config{BodyTimeout: time.Minute, MaxBodyBytes: 1024}}
	untimed := &Auth{cfg: Config{MaxBodyBytes: 1024}}
	for _, tc := range []struct {
		name      string
		a, ctxOf  *Auth
		deadlines int
	}{
		{"no otlogin state", timed, nil, 2},
		{"another Auth's state without a timeout", timed, untimed, 2},
		{"another Auth's state with a timeout", untimed, timed, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("email=a%40b.co"))
			if tc.ctxOf != nil {
				r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, &reqState{auth: tc.ctxOf}))
			}
			w := &deadlineWriter{ResponseRecorder: httptest.NewRecorder()}
			body, err := tc.a.readBody(w, r)
			require.NoError(t, err)
			assert.Equal(t, "email=a%40b.co", string(body))
			require.Len(t, w.deadlines, tc.deadlines)
			if tc.deadlines > 0 {
				assert.False(t, w.deadlines[0].IsZero(), "a deadline while the body is read")
				assert.True(t, w.deadlines[1].IsZero(), "lifted once it is in")
			}
		})
	}
}
