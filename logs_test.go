package otlogin

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNoSecretsInLogs runs every flow, with failures, and checks that no code, passcode,
// token, session ID, cookie, client secret, email address or phone number reaches the log
// (docs/SECURITY.md F4), while each attempt is logged.
func TestNoSecretsInLogs(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.CreateUsers = true })
	const email, phone, unknown = "ada@example.com", "+14155550123", "ghost@example.com"
	h.emu.CreateUser(email, phone)
	var secrets []string
	keep := func(s ...string) {
		for _, v := range s {
			if v != "" {
				secrets = append(secrets, v)
			}
		}
	}

	c := h.newClient()
	require.Equal(t, http.StatusSeeOther, h.signInLink(c, email, "/").StatusCode)
	code, state := linkParams(t, h.lastLink(email))
	keep(code, state, h.sessionCookie(c), h.get(c, "/token").body)
	h.get(c, h.lastLink(email)) // replay
	h.postForm(c, "/auth/logout", nil)

	c = h.newClient()
	h.postForm(c, "/auth/otp/send", url.Values{"channel": {"email"}, "identifier": {email}})
	keep(h.sessionCookie(c))
	h.postForm(c, "/auth/otp/authenticate", url.Values{"passcode": {"999999"}}) // probably wrong
	passcode := h.lastCode(email)
	keep(passcode)
	require.Equal(t, http.StatusSeeOther, h.postForm(c, "/auth/otp/authenticate", url.Values{"passcode": {passcode}}).StatusCode)
	keep(h.sessionCookie(c))

	c = h.newClient()
	require.Equal(t, http.StatusBadRequest, h.postJSON(c, "/auth/otp/authenticate", map[string]string{"passcode": "1234"}).StatusCode)
	require.Equal(t, http.StatusSeeOther, h.signInOTP(c, "sms", phone).StatusCode)
	keep(h.lastCode(phone), h.sessionCookie(c))
	h.postJSON(h.newClient(), "/auth/link/email/send", map[string]string{"email": unknown})
	h.postJSON(h.newClient(), "/auth/link/email/send", map[string]string{"email": "bad email"})
	keep(email, phone, strings.TrimPrefix(phone, "+"), unknown, h.emu.ClientSecret)

	logs := h.logs.String()
	for _, s := range secrets {
		assert.NotContains(t, logs, s)
	}
	events := 0
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), line)
		if m["event"] == "authenticate" || m["event"] == "send" {
			events++
			assert.NotEmpty(t, m["outcome"])
		}
	}
	assert.GreaterOrEqual(t, events, 9, "one event per attempt")
	assert.Contains(t, logs, `"method":"sms_otp"`)
	assert.Contains(t, logs, `"outcome":"created_and_sent"`)
}

// TestHashKey: with Config.HashKey, every instance names an identifier the same way in limit
// keys and in logs, and a limit key is not the unkeyed hash a dictionary could reverse.
// Without it, limit keys still agree across instances while log hashes are per process.
func TestHashKey(t *testing.T) {
	t.Parallel()
	newAuth := func(key []byte) *Auth {
		a, err := New(Config{Client: testClient(t), PublicURL: "https://app.example.com", HashKey: key})
		require.NoError(t, err)
		return a
	}
	const id = "ada@example.com"
	unkeyed := sha256.Sum256([]byte("otlogin-limit\x00" + id))
	key := []byte("0123456789abcdef0123456789abcdef")

	a1, a2 := newAuth(key), newAuth(append([]byte(nil), key...))
	assert.Equal(t, a1.limitKey(id), a2.limitKey(id), "same HashKey, same limit key")
	assert.Equal(t, a1.hashID(id), a2.hashID(id), "same HashKey, same log hash")
	assert.NotEqual(t, hex.EncodeToString(unkeyed[:16]), a1.limitKey(id), "keyed, not a plain SHA-256")
	assert.NotEqual(t, hex.EncodeToString(unkeyed[:]), a1.limitKey(id))
	assert.NotEqual(t, a1.limitKey(id), newAuth([]byte("another key, 16+ bytes")).limitKey(id))
	assert.NotContains(t, a1.limitKey(id), "ada")

	n1, n2 := newAuth(nil), newAuth(nil)
	assert.Equal(t, n1.limitKey(id), n2.limitKey(id), "limit keys agree across instances")
	assert.Equal(t, hex.EncodeToString(unkeyed[:16]), n1.limitKey(id))
	assert.NotEqual(t, n1.hashID(id), n2.hashID(id), "log hashes use a per-process key")

	_, err := New(Config{Client: testClient(t), PublicURL: "https://app.example.com", HashKey: []byte("short")})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Config.HashKey")
}
