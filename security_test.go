package otlogin

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin/transmit/transmittest"
)

// TestMagicLinkBoundToBrowser: a link opened in another browser redeems nothing and shows
// a page; the link still works in the browser that asked (docs/SECURITY.md L4).
func TestMagicLinkBoundToBrowser(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.emu.CreateUser("ada@example.com", "")
	owner, other := h.newClient(), h.newClient()
	r := h.postForm(owner, "/auth/link/email/send", url.Values{"email": {"ada@example.com"}, "next": {"/dashboard"}})
	require.Equal(t, http.StatusOK, r.StatusCode)
	link := h.lastLink("ada@example.com")

	r = h.get(other, link)
	assert.Equal(t, http.StatusOK, r.StatusCode)
	assert.Contains(t, r.body, "Open the link in the browser where you asked for it")
	assert.Contains(t, r.body, `action="/auth/link/email/send"`, "offers a new link from this browser")
	assert.NotContains(t, r.body, "/link/email/authenticate", "no confirm form without AllowCrossDevice")
	assert.Equal(t, 0, h.emu.Calls(transmittest.EndpointAuthenticateMagicLink))
	assert.Equal(t, http.StatusSeeOther, h.get(other, "/dashboard").StatusCode)

	code, state := linkParams(t, link)
	r = h.postForm(other, "/auth/link/email/authenticate", url.Values{"code": {code}, "state": {state}})
	assert.Equal(t, http.StatusBadRequest, r.StatusCode, "no flow in this browser")
	assert.Equal(t, 0, h.emu.Calls(transmittest.EndpointAuthenticateMagicLink))

	r = h.get(owner, link)
	require.Equal(t, http.StatusSeeOther, r.StatusCode)
	assert.Equal(t, "/dashboard", r.Header.Get("Location"))
	assert.Equal(t, http.StatusOK, h.get(owner, "/dashboard").StatusCode)
}

// TestAllowCrossDevice: with the option on, another browser gets a confirm page whose
// button POSTs the code; only that POST redeems it.
func TestAllowCrossDevice(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.AllowCrossDevice = true })
	h.emu.CreateUser("ada@example.com", "")
	owner, other := h.newClient(), h.newClient()
	h.postForm(owner, "/auth/link/email/send", url.Values{"email": {"ada@example.com"}})
	link := h.lastLink("ada@example.com")
	code, state := linkParams(t, link)

	r := h.get(other, link)
	require.Equal(t, http.StatusOK, r.StatusCode)
	assert.Contains(t, r.body, `action="/auth/link/email/authenticate"`)
	assert.Contains(t, r.body, `method="post"`)
	assert.Contains(t, r.body, `name="code" value="`+code+`"`)
	assert.Equal(t, 0, h.emu.Calls(transmittest.EndpointAuthenticateMagicLink), "GET never redeems")

	r = h.postForm(other, "/auth/link/email/authenticate", url.Values{"code": {code}, "state": {state}})
	require.Equal(t, http.StatusSeeOther, r.StatusCode, r.body)
	assert.Equal(t, "/", r.Header.Get("Location"))
	assert.Equal(t, http.StatusOK, h.get(other, "/dashboard").StatusCode)
	assert.Equal(t, http.StatusSeeOther, h.get(owner, "/dashboard").StatusCode, "the asking browser is not signed in")
}

// TestScannerDoesNotRedeem: HEAD and GETs by a mail scanner (no flow) spend nothing, and
// a HEAD from the right browser spends nothing either (docs/SECURITY.md L1).
func TestScannerDoesNotRedeem(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.emu.CreateUser("ada@example.com", "")
	owner, scanner := h.newClient(), h.newClient()
	h.postForm(owner, "/auth/link/email/send", url.Values{"email": {"ada@example.com"}, "next": {"/dashboard"}})
	link := h.lastLink("ada@example.com")
	for _, c := range []*http.Client{scanner, owner} {
		req, err := http.NewRequest(http.MethodHead, link, nil)
		require.NoError(t, err)
		r := h.do(c, req)
		assert.Equal(t, http.StatusOK, r.StatusCode)
	}
	h.get(scanner, link)
	h.get(scanner, link)
	assert.Equal(t, 0, h.emu.Calls(transmittest.EndpointAuthenticateMagicLink))
	r := h.get(owner, link)
	require.Equal(t, http.StatusSeeOther, r.StatusCode)
	assert.Equal(t, 1, h.emu.Calls(transmittest.EndpointAuthenticateMagicLink))
}

// TestStateTamperingAndReplay: a changed state redeems nothing; a used link redeems
// nothing the second time.
func TestStateTamperingAndReplay(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.emu.CreateUser("ada@example.com", "")
	c := h.newClient()
	h.postForm(c, "/auth/link/email/send", url.Values{"email": {"ada@example.com"}})
	link := h.lastLink("ada@example.com")
	code, state := linkParams(t, link)
	tampered := strings.Replace(link, "state="+state, "state=A"+state[1:], 1)
	if state[0] == 'A' {
		tampered = strings.Replace(link, "state="+state, "state=B"+state[1:], 1)
	}
	r := h.get(c, tampered)
	assert.Equal(t, http.StatusOK, r.StatusCode)
	assert.Contains(t, r.body, "Open the link")
	r = h.get(c, strings.Replace(link, "&state="+state, "", 1))
	assert.Equal(t, http.StatusOK, r.StatusCode, "no state")
	assert.Equal(t, 0, h.emu.Calls(transmittest.EndpointAuthenticateMagicLink))

	require.Equal(t, http.StatusSeeOther, h.get(c, link).StatusCode)
	require.Equal(t, 1, h.emu.Calls(transmittest.EndpointAuthenticateMagicLink))

	// Replays: the flow is gone, so nothing reaches Mosaic.
	r = h.get(c, link)
	assert.Equal(t, http.StatusOK, r.StatusCode)
	r = h.postJSON(c, "/auth/link/email/authenticate", map[string]string{"code": code, "state": state})
	assert.Equal(t, http.StatusBadRequest, r.StatusCode)
	assert.Contains(t, r.body, "no_pending_login")
	assert.Equal(t, 1, h.emu.Calls(transmittest.EndpointAuthenticateMagicLink))
}

// TestReplayedCodeCrossDevice: with AllowCrossDevice a replayed code gets the generic answer
// and does not reach Mosaic again (the local single-use guard, docs/SECURITY.md L2).
func TestReplayedCodeCrossDevice(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.AllowCrossDevice = true })
	h.emu.CreateUser("ada@example.com", "")
	c := h.newClient()
	h.signInLink(c, "ada@example.com", "/")
	code, state := linkParams(t, h.lastLink("ada@example.com"))
	r := h.postJSON(h.newClient(), "/auth/link/email/authenticate", map[string]string{"code": code, "state": state})
	assert.Equal(t, http.StatusBadRequest, r.StatusCode)
	assert.JSONEq(t, `{"error":"invalid_code","message":"That code is invalid or has expired. Request a new one."}`, r.body)
	assert.Equal(t, 1, h.emu.Calls(transmittest.EndpointAuthenticateMagicLink))
	assert.NotContains(t, h.logs.String(), code, "the code is never logged, nor used raw as a limiter key")
}

// TestLinkCodeRedeemedOnce: 20 parallel GETs and POSTs of one link in the browser that asked
// for it make exactly one Mosaic authenticate call and one session (docs/SECURITY.md L2).
func TestLinkCodeRedeemedOnce(t *testing.T) {
	t.Parallel()
	for _, crossDevice := range []bool{false, true} {
		t.Run(fmt.Sprintf("AllowCrossDevice=%v", crossDevice), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, func(c *Config) { c.AllowCrossDevice = crossDevice })
			h.emu.CreateUser("ada@example.com", "")
			c := h.newClient()
			r := h.postForm(c, "/auth/link/email/send", url.Values{"email": {"ada@example.com"}})
			require.Equal(t, http.StatusOK, r.StatusCode)
			link := h.lastLink("ada@example.com")
			code, state := linkParams(t, link)
			form := url.Values{"code": {code}, "state": {state}}.Encode()

			start := make(chan struct{})
			var wg sync.WaitGroup
			var mu sync.Mutex
			statuses := map[int]int{}
			for i := 0; i < 20; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var req *http.Request
					if i%2 == 0 {
						req, _ = http.NewRequest(http.MethodGet, link, nil)
					} else {
						req, _ = http.NewRequest(http.MethodPost, h.url("/auth/link/email/authenticate"), strings.NewReader(form))
						req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					}
					<-start
					resp, err := c.Do(req)
					if err != nil {
						return
					}
					resp.Body.Close()
					mu.Lock()
					statuses[resp.StatusCode]++
					mu.Unlock()
				}()
			}
			close(start)
			wg.Wait()
			assert.Equal(t, 1, h.emu.Calls(transmittest.EndpointAuthenticateMagicLink), "Mosaic is asked once")
			assert.Equal(t, 1, statuses[http.StatusSeeOther], "one sign-in: %v", statuses)
			assert.Equal(t, 1, h.store.signedIn(), "one signed-in session")
			assert.NotContains(t, h.logs.String(), code)
		})
	}
}

// TestCrossDeviceRedeemsPerIP: codes posted without a matching flow are capped per client IP
// before anything else (a state nobody sent then gets the generic answer).
func TestCrossDeviceRedeemsPerIP(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) {
		c.AllowCrossDevice = true
		c.Limits.RedeemsPerIP = Rate{N: 2}
	})
	for i := 0; i < 3; i++ {
		r := h.postJSON(h.newClient(), "/auth/link/email/authenticate", map[string]string{"code": fmt.Sprintf("guess%d", i), "state": "s"})
		if i < 2 {
			assert.Equal(t, http.StatusBadRequest, r.StatusCode, r.body)
		} else {
			assert.Equal(t, http.StatusTooManyRequests, r.StatusCode, r.body)
			assert.NotEmpty(t, r.Header.Get("Retry-After"))
		}
	}
	assert.Equal(t, 0, h.emu.Calls(transmittest.EndpointAuthenticateMagicLink), "a state nobody sent reaches no Mosaic")
}

// TestOTPFlowRules: no flow → 400 and no call; a JSON identifier that differs from the
// flow → 400 and no call; wrong codes get the generic message.
func TestOTPFlowRules(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.emu.CreateUser("ada@example.com", "")
	c := h.newClient()
	r := h.postJSON(c, "/auth/otp/authenticate", map[string]string{"passcode": "123456"})
	assert.Equal(t, http.StatusBadRequest, r.StatusCode)
	assert.Equal(t, 0, h.emu.Calls(transmittest.EndpointAuthenticateOTP))

	h.postJSON(c, "/auth/otp/send", map[string]string{"channel": "email", "identifier": "ada@example.com"})
	r = h.postJSON(c, "/auth/otp/authenticate", map[string]string{"passcode": "123456", "channel": "email", "identifier": "eve@example.com"})
	assert.Equal(t, http.StatusBadRequest, r.StatusCode)
	assert.Contains(t, r.body, "flow_mismatch")
	r = h.postJSON(c, "/auth/otp/authenticate", map[string]string{"passcode": "123456", "channel": "sms", "identifier": "+14155550123"})
	assert.Equal(t, http.StatusBadRequest, r.StatusCode)
	assert.Equal(t, 0, h.emu.Calls(transmittest.EndpointAuthenticateOTP))

	code := h.lastCode("ada@example.com")
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	r = h.postJSON(c, "/auth/otp/authenticate", map[string]string{"passcode": wrong})
	assert.Equal(t, http.StatusBadRequest, r.StatusCode)
	assert.JSONEq(t, `{"error":"invalid_code","message":"That code is invalid or has expired. Request a new one."}`, r.body)
	r = h.postJSON(c, "/auth/otp/authenticate", map[string]string{"passcode": code})
	assert.Equal(t, http.StatusOK, r.StatusCode, r.body)
}

// TestSendRateLimits: over the per-identifier budget the answer is 429 with Retry-After and
// Mosaic is not called; a concurrent burst gets exactly the budget (docs/SECURITY.md M2).
func TestSendRateLimits(t *testing.T) {
	t.Parallel()
	t.Run("sequential", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.emu.CreateUser("ada@example.com", "")
		c := h.newClient()
		for i := 0; i < 5; i++ {
			r := h.postJSON(c, "/auth/link/email/send", map[string]string{"email": "ada@example.com"})
			require.Equal(t, http.StatusAccepted, r.StatusCode, "send %d", i)
		}
		r := h.postJSON(c, "/auth/link/email/send", map[string]string{"email": "ADA@example.com"})
		assert.Equal(t, http.StatusTooManyRequests, r.StatusCode)
		assert.NotEmpty(t, r.Header.Get("Retry-After"))
		assert.Contains(t, r.body, "rate_limited")
		r = h.postJSON(c, "/auth/otp/send", map[string]string{"channel": "email", "identifier": "ada@example.com"})
		assert.Equal(t, http.StatusTooManyRequests, r.StatusCode, "the budget covers every send to the identifier")
		r = h.postForm(c, "/auth/otp/send", url.Values{"channel": {"email"}, "identifier": {"ada@example.com"}})
		assert.Equal(t, http.StatusTooManyRequests, r.StatusCode, "HTML too")
		assert.NotEmpty(t, r.Header.Get("Retry-After"))
		assert.Contains(t, r.body, "Too many attempts")
		assert.Equal(t, 5, h.emu.Calls(transmittest.EndpointSendMagicLink))
		assert.Equal(t, 0, h.emu.Calls(transmittest.EndpointSendOTP))
	})
	t.Run("concurrent burst", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.emu.CreateUser("ada@example.com", "")
		var wg sync.WaitGroup
		var mu sync.Mutex
		codes := map[int]int{}
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := h.newClient().Post(h.url("/auth/otp/send"), "application/json",
					strings.NewReader(`{"channel":"email","identifier":"ada@example.com"}`))
				if err != nil {
					return
				}
				resp.Body.Close()
				mu.Lock()
				codes[resp.StatusCode]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		assert.Equal(t, map[int]int{http.StatusAccepted: 5, http.StatusTooManyRequests: 15}, codes)
		assert.Equal(t, 5, h.emu.Calls(transmittest.EndpointSendOTP))
	})
	t.Run("per IP", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, func(c *Config) { c.Limits.SendsPerIP = Rate{N: 3} })
		for i, email := range []string{"a@example.com", "b@example.com", "c@example.com", "d@example.com"} {
			r := h.postJSON(h.newClient(), "/auth/link/email/send", map[string]string{"email": email})
			if i < 3 {
				assert.Equal(t, http.StatusAccepted, r.StatusCode)
			} else {
				assert.Equal(t, http.StatusTooManyRequests, r.StatusCode)
			}
		}
		assert.Equal(t, 3, h.emu.Calls(transmittest.EndpointSendMagicLink))
	})
	t.Run("refused by the IP limit, the victim's budget is not spent", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, func(c *Config) {
			c.Limits.SendsPerIP = Rate{N: 1}
			c.Limits.SendsPerIdentifier = Rate{N: 2}
			c.Limits.SendsPerIdentifierTotal = Rate{N: 3}
			c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
		})
		h.emu.CreateUser("victim@example.com", "")
		send := func(ip string) int {
			r := h.postJSON(h.newClient(), "/auth/link/email/send", map[string]string{"email": "victim@example.com"}, "X-Forwarded-For", ip)
			return r.StatusCode
		}
		require.Equal(t, http.StatusAccepted, send("198.51.100.1"))
		for i := 0; i < 10; i++ {
			require.Equal(t, http.StatusTooManyRequests, send("198.51.100.1"), "the attacker is over its IP limit")
		}
		assert.Equal(t, http.StatusAccepted, send("203.0.113.1"))
		assert.Equal(t, http.StatusAccepted, send("203.0.113.2"))
		assert.Equal(t, http.StatusTooManyRequests, send("203.0.113.3"), "the victim's budget of 3 is now spent")
		assert.Equal(t, 3, h.emu.Calls(transmittest.EndpointSendMagicLink))
	})
	t.Run("SMS prefixes longer than a calling code", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, func(c *Config) { c.SMSCountryCodes = []string{"1201"} })
		r := h.postJSON(h.newClient(), "/auth/otp/send", map[string]string{"channel": "sms", "identifier": "+12015550123"})
		assert.Equal(t, http.StatusAccepted, r.StatusCode, "area code 201 is listed")
		r = h.postJSON(h.newClient(), "/auth/otp/send", map[string]string{"channel": "sms", "identifier": "+18765550123"})
		assert.Equal(t, http.StatusBadRequest, r.StatusCode, "another +1 area (Jamaica) is not")
		assert.Contains(t, r.body, "sms_country_not_allowed")
		assert.Equal(t, 1, h.emu.Calls(transmittest.EndpointSendOTP))
	})
	t.Run("per IPv6 /64", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, func(c *Config) {
			c.Limits.SendsPerIP = Rate{N: 2}
			c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
		})
		for i, tc := range []struct{ email, ip string }{
			{"a@example.com", "2001:db8:1:2::1"},
			{"b@example.com", "2001:db8:1:2:ffff:ffff:ffff:ffff"},
			{"c@example.com", "2001:db8:1:2::abcd"}, // same /64: over its budget
			{"d@example.com", "2001:db8:1:3::1"},    // the next /64 has its own
		} {
			r := h.postJSON(h.newClient(), "/auth/link/email/send", map[string]string{"email": tc.email}, "X-Forwarded-For", tc.ip)
			if i == 2 {
				assert.Equal(t, http.StatusTooManyRequests, r.StatusCode, tc.ip)
			} else {
				assert.Equal(t, http.StatusAccepted, r.StatusCode, tc.ip)
			}
		}
		assert.Equal(t, 3, h.emu.Calls(transmittest.EndpointSendMagicLink))
	})
	t.Run("SMS budget and countries", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, func(c *Config) {
			c.Limits.SMSPerHour = 2
			c.SMSCountryCodes = []string{"+44", "1"}
		})
		for i, phone := range []string{"+447911123001", "+14155550002", "+447911123003"} {
			r := h.postJSON(h.newClient(), "/auth/otp/send", map[string]string{"channel": "sms", "identifier": phone})
			if i < 2 {
				assert.Equal(t, http.StatusAccepted, r.StatusCode)
			} else {
				assert.Equal(t, http.StatusTooManyRequests, r.StatusCode)
			}
		}
		r := h.postJSON(h.newClient(), "/auth/otp/send", map[string]string{"channel": "sms", "identifier": "+33612345678"})
		assert.Equal(t, http.StatusBadRequest, r.StatusCode)
		assert.Equal(t, 2, h.emu.Calls(transmittest.EndpointSendOTP))
	})
}

// TestAttemptLimit: passcode attempts are capped per flow before Mosaic is asked; a new
// send starts a new flow with its own attempts.
func TestAttemptLimit(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.Limits.AttemptsPerFlow = 2 })
	h.emu.CreateUser("ada@example.com", "")
	c := h.newClient()
	h.postJSON(c, "/auth/otp/send", map[string]string{"channel": "email", "identifier": "ada@example.com"})
	code := h.lastCode("ada@example.com")
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	for i := 0; i < 2; i++ {
		r := h.postJSON(c, "/auth/otp/authenticate", map[string]string{"passcode": wrong})
		assert.Equal(t, http.StatusBadRequest, r.StatusCode)
	}
	r := h.postJSON(c, "/auth/otp/authenticate", map[string]string{"passcode": code})
	assert.Equal(t, http.StatusTooManyRequests, r.StatusCode)
	assert.Contains(t, r.body, "too_many_attempts")
	assert.Equal(t, 2, h.emu.Calls(transmittest.EndpointAuthenticateOTP))
	r = h.postJSON(c, "/auth/otp/authenticate", map[string]string{"passcode": code})
	assert.Equal(t, http.StatusBadRequest, r.StatusCode, "the flow ended")
	assert.Contains(t, r.body, "no_pending_login")

	h.postJSON(c, "/auth/otp/send", map[string]string{"channel": "email", "identifier": "ada@example.com"})
	r = h.postJSON(c, "/auth/otp/authenticate", map[string]string{"passcode": h.lastCode("ada@example.com")})
	assert.Equal(t, http.StatusOK, r.StatusCode, "a new send brings new attempts: %s", r.body)
}

// TestNoEnumeration: a send for an unknown user answers exactly like one for a known user
// (status, body, header names, cookie attributes) for every method (docs/SECURITY.md M1).
func TestNoEnumeration(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.Limits.SendsPerIdentifier = Rate{N: 100} }) // the known user is asked often
	h.emu.CreateUser("known@example.com", "+14155550100")
	disabled := h.emu.CreateUser("disabled@example.com", "+14155550111")
	require.True(t, h.emu.SetUserStatus(disabled, transmittest.StatusDisabled))
	cases := []struct {
		name, path     string
		known, unknown url.Values
	}{
		{"magic link", "/auth/link/email/send",
			url.Values{"email": {"known@example.com"}}, url.Values{"email": {"unknown@example.com"}}},
		{"email OTP", "/auth/otp/send",
			url.Values{"channel": {"email"}, "identifier": {"known@example.com"}}, url.Values{"channel": {"email"}, "identifier": {"unknown@example.com"}}},
		{"SMS OTP", "/auth/otp/send",
			url.Values{"channel": {"sms"}, "identifier": {"+14155550100"}}, url.Values{"channel": {"sms"}, "identifier": {"+14155550199"}}},
		{"magic link, disabled user", "/auth/link/email/send",
			url.Values{"email": {"known@example.com"}}, url.Values{"email": {"disabled@example.com"}}},
		{"email OTP, disabled user", "/auth/otp/send",
			url.Values{"channel": {"email"}, "identifier": {"known@example.com"}}, url.Values{"channel": {"email"}, "identifier": {"disabled@example.com"}}},
		{"SMS OTP, disabled user", "/auth/otp/send",
			url.Values{"channel": {"sms"}, "identifier": {"+14155550100"}}, url.Values{"channel": {"sms"}, "identifier": {"+14155550111"}}},
	}
	normalize := func(r response) (int, string, []string, string) {
		var names []string
		for k := range r.Header {
			if k != "Date" && k != "Content-Length" {
				names = append(names, k)
			}
		}
		var parts []string
		for i, p := range strings.Split(r.Header.Get("Set-Cookie"), "; ") {
			switch {
			case i == 0:
				parts = append(parts, strings.SplitN(p, "=", 2)[0])
			case strings.HasPrefix(p, "Expires="), strings.HasPrefix(p, "Max-Age="):
			default:
				parts = append(parts, p)
			}
		}
		cookie := strings.Join(parts, "; ")
		return r.StatusCode, r.body, names, cookie
	}
	for _, tc := range cases {
		for _, asJSON := range []bool{false, true} {
			t.Run(tc.name, func(t *testing.T) {
				send := func(v url.Values) response {
					if asJSON {
						m := map[string]string{}
						for k := range v {
							m[k] = v.Get(k)
						}
						return h.postJSON(h.newClient(), tc.path, m)
					}
					return h.postForm(h.newClient(), tc.path, v)
				}
				k, u := send(tc.known), send(tc.unknown)
				ks, kb, kh, kc := normalize(k)
				us, ub, uh, uc := normalize(u)
				assert.Equal(t, ks, us)
				assert.ElementsMatch(t, kh, uh)
				assert.Equal(t, kc, uc)
				if asJSON {
					assert.Equal(t, kb, ub)
				} else {
					// The page names the address the user typed; otherwise identical.
					kid := tc.known.Get("email") + tc.known.Get("identifier")
					uid := tc.unknown.Get("email") + tc.unknown.Get("identifier")
					uid, kid = strings.TrimPrefix(uid, "+"), strings.TrimPrefix(kid, "+") // "+" is HTML-escaped
					assert.Equal(t, kb, strings.ReplaceAll(ub, uid, kid))
				}
			})
		}
	}
	assert.Contains(t, h.logs.String(), `"outcome":"unknown_user"`, "the difference goes to the log")
	assert.Contains(t, h.logs.String(), `"outcome":"user_not_active"`, "the difference goes to the log")
}

// TestCrossOriginRefused: every POST route refuses cross-site requests before doing
// anything (docs/SECURITY.md B1).
func TestCrossOriginRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.emu.CreateUser("ada@example.com", "")
	signedIn := h.newClient()
	require.Equal(t, http.StatusSeeOther, h.signInLink(signedIn, "ada@example.com", "/").StatusCode)
	routes := []struct{ path, body string }{
		{"/auth/link/email/send", "email=ada%40example.com"},
		{"/auth/link/email/authenticate", "code=abc&state=def"},
		{"/auth/otp/send", "channel=email&identifier=ada%40example.com"},
		{"/auth/otp/authenticate", "passcode=123456"},
		{"/auth/logout", ""},
	}
	headers := []struct {
		name string
		kv   []string
	}{
		{"Sec-Fetch-Site cross-site", []string{"Sec-Fetch-Site", "cross-site"}},
		{"Sec-Fetch-Site same-site", []string{"Sec-Fetch-Site", "same-site"}},
		{"Origin mismatch", []string{"Origin", "https://evil.example"}},
		{"Origin null", []string{"Origin", "null"}},
	}
	before := mosaicCalls(h)
	for _, rt := range routes {
		for _, hd := range headers {
			t.Run(rt.path+" "+hd.name, func(t *testing.T) {
				r := h.postForm(signedIn, rt.path, mustParseQuery(rt.body), hd.kv...)
				assert.Equal(t, http.StatusForbidden, r.StatusCode)
				assert.Equal(t, "no-store", r.Header.Get("Cache-Control"))
			})
		}
	}
	assert.Equal(t, before, mosaicCalls(h))
	assert.Equal(t, http.StatusOK, h.get(signedIn, "/dashboard").StatusCode, "still signed in")
	r := h.postForm(signedIn, "/auth/logout", nil, "Sec-Fetch-Site", "same-origin", "Origin", h.srv.URL)
	assert.Equal(t, http.StatusSeeOther, r.StatusCode, "same-origin POST allowed")
}

func mustParseQuery(s string) url.Values {
	v, _ := url.ParseQuery(s)
	return v
}

// TestMethodNotAllowed: state-changing routes are POST-only (405 with Allow), and the
// read routes refuse POST.
func TestMethodNotAllowed(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	c := h.newClient()
	for path, allow := range map[string]string{
		"/auth/link/email/send": "POST", "/auth/link/email/authenticate": "POST", "/auth/otp/send": "POST",
		"/auth/otp/authenticate": "POST", "/auth/logout": "POST",
	} {
		r := h.get(c, path)
		assert.Equal(t, http.StatusMethodNotAllowed, r.StatusCode, path)
		assert.Equal(t, allow, r.Header.Get("Allow"), path)
	}
	r := h.postForm(c, "/auth/me", nil)
	assert.Equal(t, http.StatusMethodNotAllowed, r.StatusCode)
	assert.Equal(t, "GET, HEAD", r.Header.Get("Allow"))
	assert.Equal(t, http.StatusNotFound, h.get(c, "/auth/nope").StatusCode)
	assert.Equal(t, 0, mosaicCalls(h))
}
