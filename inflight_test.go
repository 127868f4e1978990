package otlogin

import (
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin/transmit/transmittest"
)

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
