package otlogin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin/transmit"
	"github.com/otlogin/otlogin/transmit/transmittest"
)

// assertIdentityRefused checks the answer and aftermath of a sign-in attempt in which Mosaic
// authenticated someone else than the flow's address: the generic invalid-code answer, no
// session for anyone, the new Mosaic session ended, a log line with hashed identifiers only.
func assertIdentityRefused(t *testing.T, h *harness, c *http.Client, r response, secrets ...string) {
	t.Helper()
	assert.Equal(t, http.StatusBadRequest, r.StatusCode, r.body)
	assert.Contains(t, r.body, "That code is invalid or has expired")
	assert.Empty(t, r.Header.Get("Location"))
	me := h.get(c, "/api/me", "Accept", "application/json")
	assert.Equal(t, http.StatusUnauthorized, me.StatusCode, "nobody is signed in: %s", me.body)
	assert.Equal(t, 0, h.store.signedIn(), "no signed-in session anywhere")
	assert.Equal(t, 0, h.emu.SessionCount(), "the Mosaic session of the victim was ended")
	logs := h.logs.String()
	assert.Contains(t, logs, `"outcome":"identity_mismatch"`)
	for _, s := range secrets {
		assert.NotContains(t, logs, s)
	}
}

// TestLinkSwapAttack: an attacker who intercepted a victim's magic link presents the
// victim's code with the state of a link the attacker requested for their own address, in
// the attacker's own browser (by the GET callback and by POST, form and JSON). Mosaic
// authenticates the victim's code; otlogin must notice that the identity is not the flow's
// and sign nobody in. The attacker's own flow stays usable (their own link still works).
func TestLinkSwapAttack(t *testing.T) {
	t.Parallel()
	for _, create := range []bool{false, true} {
		for _, how := range []string{"GET", "POST form", "POST JSON", "POST JSON with AllowCrossDevice"} {
			t.Run(fmt.Sprintf("CreateUsers=%v/%s", create, how), func(t *testing.T) {
				t.Parallel()
				h := newHarness(t, func(c *Config) {
					c.CreateUsers = create
					c.AllowCrossDevice = strings.HasSuffix(how, "AllowCrossDevice")
				})
				if !create {
					h.emu.CreateUser("victim@example.com", "")
					h.emu.CreateUser("mallory@example.com", "")
				}
				victim, attacker := h.newClient(), h.newClient()
				r := h.postForm(victim, "/auth/link/email/send", url.Values{"email": {"victim@example.com"}})
				require.Equal(t, http.StatusOK, r.StatusCode, r.body)
				vcode, _ := linkParams(t, h.lastLink("victim@example.com"))

				r = h.postForm(attacker, "/auth/link/email/send", url.Values{"email": {"mallory@example.com"}, "next": {"/dashboard"}})
				require.Equal(t, http.StatusOK, r.StatusCode, r.body)
				own := h.lastLink("mallory@example.com")
				_, astate := linkParams(t, own)

				switch how {
				case "GET":
					u, _ := url.Parse(own)
					q := u.Query()
					q.Set("code", vcode)
					u.RawQuery = q.Encode()
					r = h.get(attacker, u.String())
				case "POST form":
					r = h.postForm(attacker, "/auth/link/email/authenticate", url.Values{"code": {vcode}, "state": {astate}})
				default:
					r = h.postJSON(attacker, "/auth/link/email/authenticate", map[string]string{"code": vcode, "state": astate})
					assert.JSONEq(t, `{"error":"invalid_code","message":"That code is invalid or has expired. Request a new one."}`, r.body)
				}
				assert.Equal(t, 1, h.emu.Calls(transmittest.EndpointAuthenticateMagicLink))
				assertIdentityRefused(t, h, attacker, r, "victim@example.com", "mallory@example.com", vcode)

				// The attacker's own flow is untouched: their own link signs them in as themselves.
				r = h.get(attacker, own)
				require.Equal(t, http.StatusSeeOther, r.StatusCode, r.body)
				me := h.get(attacker, "/api/me", "Accept", "application/json")
				require.Equal(t, http.StatusOK, me.StatusCode)
				assert.Contains(t, me.body, `"email":"mallory@example.com"`)
				assert.NotContains(t, me.body, "victim")
			})
		}
	}
}

// otpSwapProxy stands between otlogin and Mosaic and, when armed, rewrites an OTP
// authenticate request so that it proves another identity (identifier and passcode of
// the victim): a Mosaic that authenticated someone else than the flow's address.
type otpSwapProxy struct {
	mu               sync.Mutex
	identifier, code string
	idType           string
}

func (p *otpSwapProxy) arm(idType, identifier, code string) {
	p.mu.Lock()
	p.idType, p.identifier, p.code = idType, identifier, code
	p.mu.Unlock()
}

func newOTPSwapHarness(t *testing.T, mod ...func(*Config)) (*harness, *otpSwapProxy) {
	p := &otpSwapProxy{}
	var emuURL string
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target, _ := url.Parse(emuURL)
		rp := httputil.NewSingleHostReverseProxy(target)
		if r.URL.Path == "/cis/v1/auth/otp/authenticate" {
			p.mu.Lock()
			id, code, idType := p.identifier, p.code, p.idType
			p.mu.Unlock()
			if id != "" {
				b, _ := io.ReadAll(r.Body)
				var m map[string]any
				_ = json.Unmarshal(b, &m)
				m["identifier"], m["passcode"], m["identifier_type"] = id, code, idType
				b, _ = json.Marshal(m)
				r.Body = io.NopCloser(bytes.NewReader(b))
				r.ContentLength = int64(len(b))
				r.Header.Del("Content-Length")
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	h := newHarness(t, mod...)
	emuURL = h.emu.URL
	client, err := transmit.New(transmit.Config{BaseURL: proxy.URL + "/cis", ClientID: h.emu.ClientID, ClientSecret: h.emu.ClientSecret})
	require.NoError(t, err)
	h.auth.client = client
	return h, p
}

// TestOTPIdentityCheck: when Mosaic's answer to an OTP authenticate names another user than
// the flow's email address or phone number, nobody is signed in and the Mosaic session ends.
func TestOTPIdentityCheck(t *testing.T) {
	t.Parallel()
	for _, channel := range []string{"email", "sms"} {
		t.Run(channel, func(t *testing.T) {
			t.Parallel()
			h, p := newOTPSwapHarness(t)
			victimID, attackerID, idType := "victim@example.com", "mallory@example.com", "email"
			if channel == "sms" {
				victimID, attackerID, idType = "+14155550101", "+14155550102", "phone_number"
				h.emu.CreateUser("", victimID)
				h.emu.CreateUser("", attackerID)
			} else {
				h.emu.CreateUser(victimID, "")
				h.emu.CreateUser(attackerID, "")
			}
			victim, attacker := h.newClient(), h.newClient()
			r := h.postForm(victim, "/auth/otp/send", url.Values{"channel": {channel}, "identifier": {victimID}})
			require.Equal(t, http.StatusOK, r.StatusCode, r.body)
			vcode := h.lastCode(victimID)
			r = h.postForm(attacker, "/auth/otp/send", url.Values{"channel": {channel}, "identifier": {attackerID}})
			require.Equal(t, http.StatusOK, r.StatusCode, r.body)

			p.arm(idType, victimID, vcode)
			r = h.postJSON(attacker, "/auth/otp/authenticate", map[string]string{"passcode": "123456"})
			assert.JSONEq(t, `{"error":"invalid_code","message":"That code is invalid or has expired. Request a new one."}`, r.body)
			assert.Equal(t, 1, h.emu.Calls(transmittest.EndpointAuthenticateOTP))
			assertIdentityRefused(t, h, attacker, r, victimID, attackerID, vcode)

			// The attacker's own flow still works with the attacker's own code.
			p.arm("", "", "")
			r = h.postJSON(attacker, "/auth/otp/authenticate", map[string]string{"passcode": h.lastCode(attackerID)})
			require.Equal(t, http.StatusOK, r.StatusCode, r.body)
			assert.NotContains(t, r.body, victimID)
		})
	}
}

// TestCrossDeviceIdentity: with AllowCrossDevice, the confirm page names the address the
// link was sent to (known only from the link's state), and a confirm whose code proves
// another identity than that address signs nobody in. A state nobody sent reaches no Mosaic.
func TestCrossDeviceIdentity(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.AllowCrossDevice = true })
	h.emu.CreateUser("victim@example.com", "")
	h.emu.CreateUser("mallory@example.com", "")
	victim, attacker, other := h.newClient(), h.newClient(), h.newClient()
	h.postForm(victim, "/auth/link/email/send", url.Values{"email": {"victim@example.com"}})
	vlink := h.lastLink("victim@example.com")
	vcode, vstate := linkParams(t, vlink)
	h.postForm(attacker, "/auth/link/email/send", url.Values{"email": {"mallory@example.com"}})
	_, astate := linkParams(t, h.lastLink("mallory@example.com"))

	// The confirm page names the address of the link's state.
	r := h.get(other, vlink)
	require.Equal(t, http.StatusOK, r.StatusCode)
	assert.Contains(t, r.body, "victim@example.com")
	u, _ := url.Parse(vlink)
	q := u.Query()
	q.Set("state", astate)
	u.RawQuery = q.Encode()
	r = h.get(other, u.String())
	require.Equal(t, http.StatusOK, r.StatusCode)
	assert.Contains(t, r.body, "mallory@example.com", "the page names the address the confirm will sign in")
	assert.NotContains(t, r.body, "victim@example.com")

	// A state nobody sent: the generic answer, nothing reaches Mosaic.
	r = h.postJSON(other, "/auth/link/email/authenticate", map[string]string{"code": vcode, "state": "not-a-state"})
	assert.Equal(t, http.StatusBadRequest, r.StatusCode, r.body)
	assert.Contains(t, r.body, "invalid_code")
	assert.Equal(t, 0, h.emu.Calls(transmittest.EndpointAuthenticateMagicLink))

	// The victim's code confirmed under the attacker's state (the page said mallory@...).
	r = h.postForm(other, "/auth/link/email/authenticate", url.Values{"code": {vcode}, "state": {astate}})
	assert.Equal(t, 1, h.emu.Calls(transmittest.EndpointAuthenticateMagicLink))
	assertIdentityRefused(t, h, other, r, "victim@example.com", "mallory@example.com", vcode)

	// A genuine cross-device confirm signs in the address the page named.
	h.postForm(victim, "/auth/link/email/send", url.Values{"email": {"victim@example.com"}})
	vcode, vstate = linkParams(t, h.lastLink("victim@example.com"))
	r = h.postForm(other, "/auth/link/email/authenticate", url.Values{"code": {vcode}, "state": {vstate}})
	require.Equal(t, http.StatusSeeOther, r.StatusCode, r.body)
	me := h.get(other, "/api/me", "Accept", "application/json")
	assert.Contains(t, me.body, `"email":"victim@example.com"`)
	assert.False(t, strings.Contains(h.logs.String(), "victim@example.com"))
}

// TestMissingIDToken: an authenticate answer without id_token is Mosaic's fault: 503 with the
// unavailable message (not "invalid code"), and the session it created is ended.
func TestMissingIDToken(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.emu.CreateUser("ada@example.com", "")
	c := h.newClient()
	r := h.postForm(c, "/auth/otp/send", url.Values{"channel": {"email"}, "identifier": {"ada@example.com"}})
	require.Equal(t, http.StatusOK, r.StatusCode, r.body)
	h.emu.Force(transmittest.EndpointAuthenticateOTP, transmittest.Fault{Status: http.StatusOK, Times: 1,
		Body: `{"access_token":"at","token_type":"Bearer","expires_in":3600,"refresh_token":"rt","session_id":"s1"}`})
	r = h.postJSON(c, "/auth/otp/authenticate", map[string]string{"passcode": h.lastCode("ada@example.com")})
	assert.Equal(t, http.StatusServiceUnavailable, r.StatusCode, r.body)
	assert.JSONEq(t, `{"error":"unavailable","message":"`+msgUnavailable+`"}`, r.body)
	assert.Equal(t, 1, h.emu.Calls(transmittest.EndpointLogout), "the session Mosaic created is ended")
	assert.Contains(t, h.logs.String(), `"error":"no_id_token"`)
}

// TestMosaicRetryAfterReachesUser: Mosaic's Retry-After on a 503 or 429 of authenticate or
// send is passed on in the user's answer.
func TestMosaicRetryAfterReachesUser(t *testing.T) {
	t.Parallel()
	for _, st := range []int{http.StatusServiceUnavailable, http.StatusTooManyRequests} {
		t.Run(fmt.Sprint(st), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.emu.CreateUser("ada@example.com", "")
			c := h.newClient()
			f := transmittest.FaultNumericCode(st, http.StatusText(st))
			f.Header, f.Times = http.Header{"Retry-After": {"42"}}, 1
			h.emu.Force(transmittest.EndpointSendOTP, f)
			r := h.postJSON(c, "/auth/otp/send", map[string]string{"channel": "email", "identifier": "ada@example.com"})
			assert.Equal(t, st, r.StatusCode, r.body)
			assert.Equal(t, "42", r.Header.Get("Retry-After"), "send")

			r = h.postJSON(c, "/auth/otp/send", map[string]string{"channel": "email", "identifier": "ada@example.com"})
			require.Equal(t, http.StatusAccepted, r.StatusCode, r.body)
			h.emu.Force(transmittest.EndpointAuthenticateOTP, f)
			r = h.postJSON(c, "/auth/otp/authenticate", map[string]string{"passcode": h.lastCode("ada@example.com")})
			assert.Equal(t, st, r.StatusCode, r.body)
			assert.Equal(t, "42", r.Header.Get("Retry-After"), "authenticate")
		})
	}
}

// TestOTPOneAuthenticateInFlight: 20 parallel submissions of one correct passcode from the
// browser that asked for it make one Mosaic authenticate call and one sign-in; every other
// submission gets the generic invalid-code answer (HTML forms and JSON alike).
func TestOTPOneAuthenticateInFlight(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"json", "form"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.emu.CreateUser("ada@example.com", "")
			c := h.newClient()
			r := h.postForm(c, "/auth/otp/send", url.Values{"channel": {"email"}, "identifier": {"ada@example.com"}})
			require.Equal(t, http.StatusOK, r.StatusCode, r.body)
			code := h.lastCode("ada@example.com")
			h.emu.SetLatency(20 * time.Millisecond) // a real Mosaic takes time: the race window

			var wg sync.WaitGroup
			var mu sync.Mutex
			statuses := map[int]int{}
			start := make(chan struct{})
			for range 20 {
				wg.Go(func() {
					<-start
					var r response
					if format == "json" {
						r = h.postJSON(c, "/auth/otp/authenticate", map[string]string{"passcode": code})
					} else {
						r = h.postForm(c, "/auth/otp/authenticate", url.Values{"passcode": {code}})
					}
					mu.Lock()
					statuses[r.StatusCode]++
					mu.Unlock()
				})
			}
			close(start)
			wg.Wait()
			t.Logf("Mosaic authenticate calls: %d; answers: %v", h.emu.Calls(transmittest.EndpointAuthenticateOTP), statuses)
			assert.Equal(t, 1, h.emu.Calls(transmittest.EndpointAuthenticateOTP), "one Mosaic authenticate per flow at a time")
			assert.Equal(t, 1, h.store.signedIn(), "one sign-in")
			assert.Equal(t, 1, h.emu.SessionCount(), "one Mosaic session")
			assert.Equal(t, 1, statuses[http.StatusOK]+statuses[http.StatusSeeOther], "one success: %v", statuses)
			assert.Equal(t, 19, statuses[http.StatusBadRequest], "the others get the generic answer: %v", statuses)
		})
	}
}

// TestOTPRetryAfterWrongCode: the in-flight guard does not stop the next attempt once the
// previous one has been answered (a typo, then the right code).
func TestOTPRetryAfterWrongCode(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.emu.CreateUser("ada@example.com", "")
	c := h.newClient()
	r := h.postForm(c, "/auth/otp/send", url.Values{"channel": {"email"}, "identifier": {"ada@example.com"}})
	require.Equal(t, http.StatusOK, r.StatusCode, r.body)
	code := h.lastCode("ada@example.com")
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	r = h.postJSON(c, "/auth/otp/authenticate", map[string]string{"passcode": wrong})
	assert.Equal(t, http.StatusBadRequest, r.StatusCode, r.body)
	r = h.postJSON(c, "/auth/otp/authenticate", map[string]string{"passcode": code})
	assert.Equal(t, http.StatusOK, r.StatusCode, r.body)
	assert.Equal(t, 2, h.emu.Calls(transmittest.EndpointAuthenticateOTP))
}

// TestLinkOneAuthenticateInFlight: codes of several links posted at once under one browser's
// link flow (an attacker's flow and intercepted codes) reach Mosaic one at a time: one call,
// nobody signed in.
func TestLinkOneAuthenticateInFlight(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.Limits.SendsPerIP = Rate{N: -1} })
	var codes []string
	for i := range 10 {
		email := fmt.Sprintf("victim%d@example.com", i)
		h.emu.CreateUser(email, "")
		h.postForm(h.newClient(), "/auth/link/email/send", url.Values{"email": {email}})
		code, _ := linkParams(t, h.lastLink(email))
		codes = append(codes, code)
	}
	h.emu.CreateUser("mallory@example.com", "")
	attacker := h.newClient()
	h.postForm(attacker, "/auth/link/email/send", url.Values{"email": {"mallory@example.com"}})
	_, state := linkParams(t, h.lastLink("mallory@example.com"))
	h.emu.SetLatency(20 * time.Millisecond)

	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, code := range codes {
		wg.Go(func() {
			<-start
			r := h.postJSON(attacker, "/auth/link/email/authenticate", map[string]string{"code": code, "state": state})
			assert.Equal(t, http.StatusBadRequest, r.StatusCode, r.body)
		})
	}
	close(start)
	wg.Wait()
	assert.Equal(t, 1, h.emu.Calls(transmittest.EndpointAuthenticateMagicLink), "one authenticate of the flow at a time")
	assert.Equal(t, 0, h.store.signedIn())
	assert.Equal(t, 0, h.emu.SessionCount())
}

// TestSignInAgainRevokesAfterSave: signing in over an earlier sign-in ends the earlier
// Mosaic session only once the new session is saved. When the save fails (the old token
// cannot be deleted, or the new session cannot be committed) the earlier Mosaic session
// stays alive, so a browser that keeps its old session keeps working tokens.
func TestSignInAgainRevokesAfterSave(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		store       func(*countingStore) scs.Store
		status      int
		oldRevoked  bool
		stillSigned bool // the browser's earlier sign-in survives
	}{
		{"saved", nil, http.StatusOK, true, true},
		{"renew fails", func(s *countingStore) scs.Store { return &failDeleteStore{s} }, http.StatusServiceUnavailable, false, true},
		{"commit fails", func(s *countingStore) scs.Store { return &failCommitStore{s} }, http.StatusServiceUnavailable, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.emu.CreateUser("ada@example.com", "")
			c := h.newClient()
			require.Equal(t, http.StatusSeeOther, h.signInLink(c, "ada@example.com", "/").StatusCode)
			h.postJSON(c, "/auth/otp/send", map[string]string{"channel": "email", "identifier": "ada@example.com"})
			require.Equal(t, 1, h.emu.SessionCount())
			if tc.store != nil {
				h.auth.sm.Store = tc.store(h.store)
			}
			r := h.postJSON(c, "/auth/otp/authenticate", map[string]string{"passcode": h.lastCode("ada@example.com")})
			assert.Equal(t, tc.status, r.StatusCode, r.body)
			h.auth.sm.Store = h.store
			assert.Equal(t, 1, h.emu.Calls(transmittest.EndpointLogout), "one Mosaic session is ended")
			assert.Equal(t, 1, h.emu.SessionCount(), "one Mosaic session is alive")
			me := h.get(c, "/auth/me")
			if tc.oldRevoked {
				assert.Contains(t, me.body, `"method":"email_otp"`, "the new sign-in is kept")
			}
			if tc.stillSigned && !tc.oldRevoked {
				assert.Contains(t, me.body, `"method":"magic_link"`, "the earlier sign-in is kept")
				h.outlastAccessToken(t, c)
				assert.Equal(t, http.StatusOK, h.get(c, "/token").StatusCode, "its Mosaic tokens still work")
			}
			if !tc.stillSigned {
				assert.Equal(t, http.StatusUnauthorized, me.StatusCode, "scs deleted the old token before the failed commit")
			}
		})
	}
}

// TestMosaicDown: new logins get 503 without retries; signed-in users keep working with no
// Mosaic call on the RequireAuth path (docs/SECURITY.md F2).
func TestMosaicDown(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.emu.CreateUser("ada@example.com", "+14155550123")
	c := h.newClient()
	require.Equal(t, http.StatusSeeOther, h.signInLink(c, "ada@example.com", "/").StatusCode)
	for _, ep := range []transmittest.Endpoint{transmittest.EndpointSendMagicLink, transmittest.EndpointSendOTP,
		transmittest.EndpointAuthenticateOTP, transmittest.EndpointToken} {
		h.emu.Force(ep, transmittest.FaultUnavailable())
	}
	sends := h.emu.Calls(transmittest.EndpointSendMagicLink)
	r := h.postJSON(h.newClient(), "/auth/link/email/send", map[string]string{"email": "ada@example.com"})
	assert.Equal(t, http.StatusServiceUnavailable, r.StatusCode)
	assert.Contains(t, r.body, "temporarily unavailable")
	assert.Equal(t, sends+1, h.emu.Calls(transmittest.EndpointSendMagicLink), "no automatic retry")
	r = h.postForm(h.newClient(), "/auth/otp/send", url.Values{"channel": {"sms"}, "identifier": {"+14155550123"}})
	assert.Equal(t, http.StatusServiceUnavailable, r.StatusCode)
	assert.Equal(t, 1, h.emu.Calls(transmittest.EndpointSendOTP), "no automatic retry")

	calls := mosaicCalls(h) + h.emu.Calls(transmittest.EndpointToken) + h.emu.Calls(transmittest.EndpointJWKS)
	for i := 0; i < 5; i++ {
		assert.Equal(t, http.StatusOK, h.get(c, "/dashboard").StatusCode)
		assert.Equal(t, http.StatusOK, h.get(c, "/auth/me").StatusCode)
	}
	assert.Equal(t, calls, mosaicCalls(h)+h.emu.Calls(transmittest.EndpointToken)+h.emu.Calls(transmittest.EndpointJWKS))
}

// TestMosaicRateLimitIs429: Mosaic's own 429 becomes a 429 with Retry-After.
func TestMosaicRateLimitIs429(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.emu.CreateUser("ada@example.com", "")
	h.emu.Force(transmittest.EndpointSendMagicLink, transmittest.FaultRateLimited(42*time.Second))
	r := h.postJSON(h.newClient(), "/auth/link/email/send", map[string]string{"email": "ada@example.com"})
	assert.Equal(t, http.StatusTooManyRequests, r.StatusCode)
	assert.Equal(t, "42", r.Header.Get("Retry-After"))
}

// TestOnLoginRefuses: an OnLogin error refuses the sign-in and ends the Mosaic session.
func TestOnLoginRefuses(t *testing.T) {
	t.Parallel()
	var seen *User
	h := newHarness(t, func(c *Config) {
		c.OnLogin = func(_ context.Context, u *User) error {
			seen = u
			return errors.New("banned")
		}
	})
	h.emu.CreateUser("ada@example.com", "")
	c := h.newClient()
	r := h.signInLink(c, "ada@example.com", "/dashboard")
	assert.Equal(t, http.StatusForbidden, r.StatusCode)
	assert.Contains(t, r.body, "can&#39;t sign in here")
	assert.NotContains(t, r.body, "banned")
	require.NotNil(t, seen)
	assert.Equal(t, "ada@example.com", seen.Email)
	assert.Equal(t, http.StatusSeeOther, h.get(c, "/dashboard").StatusCode)
	assert.Equal(t, 1, h.emu.Calls(transmittest.EndpointLogout), "Mosaic session ended")
	assert.Equal(t, 0, h.emu.SessionCount())
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
