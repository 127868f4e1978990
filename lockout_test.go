package otlogin

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lockoutHarness is an app behind a trusted proxy (loopback), so each request names its
// client IP in X-Forwarded-For.
func lockoutHarness(t *testing.T, mod ...func(*Config)) *harness {
	return newHarness(t, append([]func(*Config){func(c *Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	}}, mod...)...)
}

// wrongCode returns a six-digit passcode that is not code.
func wrongCode(code string, i int) string {
	w := strings.Repeat(string(rune('0'+i%10)), 6)
	if w == code {
		w = strings.Repeat(string(rune('0'+(i+1)%10)), 6)
	}
	return w
}

// messagesTo counts the emails and texts the emulator delivered to identifier.
func (h *harness) messagesTo(identifier string) int {
	n := 0
	for _, m := range h.emu.Outbox() {
		if strings.EqualFold(m.To, identifier) || strings.EqualFold(m.Identifier, identifier) {
			n++
		}
	}
	return n
}

// TestTargetedLockout: an attacker on one network floods sends and wrong passcodes for a
// victim's address; the victim, from their own browser and network, still gets a code and
// signs in, and the address never receives more than the absolute per-address cap.
func TestTargetedLockout(t *testing.T) {
	t.Parallel()
	const victim = "victim@example.com"
	const attackerIP, victimIP = "198.51.100.7", "203.0.113.9"

	t.Run("flood first, then the victim signs in", func(t *testing.T) {
		t.Parallel()
		h := lockoutHarness(t)
		h.emu.CreateUser(victim, "")
		accepted := 0
		for i := range 40 {
			c := h.newClient()
			path := "/auth/otp/send"
			body := map[string]string{"channel": "email", "identifier": victim}
			if i%4 == 3 {
				path, body = "/auth/link/email/send", map[string]string{"email": victim}
			}
			r := h.postJSON(c, path, body, "X-Forwarded-For", attackerIP)
			if r.StatusCode != http.StatusAccepted {
				continue
			}
			accepted++
			if path == "/auth/otp/send" {
				for g := range 6 {
					h.postJSON(c, "/auth/otp/authenticate", map[string]string{"passcode": wrongCode("", g)}, "X-Forwarded-For", attackerIP)
				}
			}
		}
		t.Logf("attacker sends accepted: %d of 40", accepted)
		require.Positive(t, accepted, "the attack sent something: otherwise the victim's success proves nothing")

		v := h.newClient()
		r := h.postJSON(v, "/auth/otp/send", map[string]string{"channel": "email", "identifier": victim}, "X-Forwarded-For", victimIP)
		require.Equal(t, http.StatusAccepted, r.StatusCode, "the victim's own send: %s (Retry-After %q)", r.body, r.Header.Get("Retry-After"))
		code := h.lastCode(victim)
		r = h.postJSON(v, "/auth/otp/authenticate", map[string]string{"passcode": code}, "X-Forwarded-For", victimIP)
		require.Equal(t, http.StatusOK, r.StatusCode, "the victim's correct code: %s", r.body)
		assert.LessOrEqual(t, h.messagesTo(victim), h.auth.cfg.Limits.SendsPerIdentifierTotal.N)
	})

	t.Run("attacker's flows opened before the victim's send cannot spend its code", func(t *testing.T) {
		t.Parallel()
		h := lockoutHarness(t)
		h.emu.CreateUser(victim, "")
		var flows []*http.Client
		for range 10 {
			c := h.newClient()
			if h.postJSON(c, "/auth/otp/send", map[string]string{"channel": "email", "identifier": victim},
				"X-Forwarded-For", attackerIP).StatusCode == http.StatusAccepted {
				flows = append(flows, c)
			}
		}
		require.NotEmpty(t, flows)
		v := h.newClient()
		r := h.postJSON(v, "/auth/otp/send", map[string]string{"channel": "email", "identifier": victim}, "X-Forwarded-For", victimIP)
		require.Equal(t, http.StatusAccepted, r.StatusCode, "the victim's own send: %s", r.body)
		code := h.lastCode(victim)
		for _, c := range flows {
			for g := range 6 {
				h.postJSON(c, "/auth/otp/authenticate", map[string]string{"passcode": wrongCode(code, g)}, "X-Forwarded-For", attackerIP)
			}
		}
		r = h.postJSON(v, "/auth/otp/authenticate", map[string]string{"passcode": code}, "X-Forwarded-For", victimIP)
		assert.Equal(t, http.StatusOK, r.StatusCode, "the victim's correct code: %s", r.body)
	})

	t.Run("a send between the victim's send and sign-in costs one new code, not a lockout", func(t *testing.T) {
		t.Parallel()
		h := lockoutHarness(t)
		h.emu.CreateUser(victim, "")
		v := h.newClient()
		send := func(c *http.Client, ip string) int {
			return h.postJSON(c, "/auth/otp/send", map[string]string{"channel": "email", "identifier": victim}, "X-Forwarded-For", ip).StatusCode
		}
		require.Equal(t, http.StatusAccepted, send(v, victimIP))
		// The attacker spends its whole per-network budget, guessing on each flow.
		for range 20 {
			c := h.newClient()
			if send(c, attackerIP) == http.StatusAccepted {
				for g := range 6 {
					h.postJSON(c, "/auth/otp/authenticate", map[string]string{"passcode": wrongCode("", g)}, "X-Forwarded-For", attackerIP)
				}
			}
		}
		// The victim's first code was replaced at Mosaic; a new one works.
		require.Equal(t, http.StatusAccepted, send(v, victimIP))
		r := h.postJSON(v, "/auth/otp/authenticate", map[string]string{"passcode": h.lastCode(victim)}, "X-Forwarded-For", victimIP)
		assert.Equal(t, http.StatusOK, r.StatusCode, "the victim's new code: %s", r.body)
	})

	t.Run("one network cannot lock out several victims", func(t *testing.T) {
		t.Parallel()
		h := lockoutHarness(t)
		victims := []string{"v1@example.com", "v2@example.com", "v3@example.com", "v4@example.com", "v5@example.com", "v6@example.com"}
		for _, e := range victims {
			h.emu.CreateUser(e, "")
		}
		for range 10 {
			for _, e := range victims {
				h.postJSON(h.newClient(), "/auth/link/email/send", map[string]string{"email": e}, "X-Forwarded-For", attackerIP)
			}
		}
		for i, e := range victims {
			r := h.postJSON(h.newClient(), "/auth/link/email/send", map[string]string{"email": e},
				"X-Forwarded-For", "203.0.113."+string(rune('1'+i)))
			assert.Equal(t, http.StatusAccepted, r.StatusCode, "victim %d: %s", i, r.body)
		}
	})

	t.Run("the absolute cap holds against many networks", func(t *testing.T) {
		t.Parallel()
		h := lockoutHarness(t)
		h.emu.CreateUser(victim, "")
		for i := range 60 {
			ip := netip.AddrFrom4([4]byte{198, 51, 100, byte(i + 1)}).String()
			for range 3 {
				h.postJSON(h.newClient(), "/auth/link/email/send", map[string]string{"email": victim}, "X-Forwarded-For", ip)
			}
		}
		total := h.auth.cfg.Limits.SendsPerIdentifierTotal.N
		require.Positive(t, total)
		assert.Equal(t, total, h.messagesTo(victim), "the address gets exactly the absolute cap")
	})
}
