package exampleapp

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin/transmit/transmittest"
)

// TestOutboxRefusesRebinding: the dev outbox shows every sign-in code, so it answers only a
// request whose Host is a loopback name or address. A page on evil.example that rebinds its
// name to 127.0.0.1 sends Host: evil.example and gets nothing.
func TestOutboxRefusesRebinding(t *testing.T) {
	t.Parallel()
	outbox := Outbox(transmittest.NewTestServer(t, transmittest.Options{}))
	for host, ok := range map[string]bool{
		"localhost:8080": true, "127.0.0.1:8080": true, "[::1]:8080": true,
		"evil.example": false, "evil.example:8080": false, "localhost.evil.example:8080": false,
	} {
		for _, path := range []string{OutboxPath, OutboxJSONPath} {
			r := httptest.NewRequest(http.MethodGet, path, nil)
			r.Host = host
			rec := httptest.NewRecorder()
			outbox.ServeHTTP(rec, r)
			if ok {
				assert.Equal(t, http.StatusOK, rec.Code, "%s%s", host, path)
			} else {
				assert.Equal(t, http.StatusForbidden, rec.Code, "%s%s", host, path)
			}
		}
	}
}

// TestCheckEmulatorAddr: with the emulator, only a loopback ADDR is accepted, and the
// refusal says why.
func TestCheckEmulatorAddr(t *testing.T) {
	t.Parallel()
	for addr, ok := range map[string]bool{
		"127.0.0.1:8080": true, "localhost:8080": true, "[::1]:8080": true, "127.1.2.3:1": true,
		":8080": false, "0.0.0.0:8080": false, "[::]:8080": false, "192.0.2.10:8080": false,
		"example.com:8080": false, "no-port": false,
	} {
		err := CheckEmulatorAddr(addr)
		if ok {
			assert.NoError(t, err, addr)
			continue
		}
		require.Error(t, err, addr)
		assert.Contains(t, err.Error(), "loopback", addr)
		assert.Contains(t, err.Error(), OutboxPath, addr)
	}
}

// TestPublicURLWarnings: PUBLIC_URL settings that break sign-in on an example are named:
// https while the app serves plain http (the Secure cookie never comes back), a port other
// than ADDR's (links open where nothing listens).
func TestPublicURLWarnings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, addr, public string
		want               []string
	}{
		{"default", "127.0.0.1:8080", "http://localhost:8080", nil},
		{"upper-case host", "127.0.0.1:8080", "http://LOCALHOST:8080", nil},
		{"https on plain http", "127.0.0.1:8080", "https://localhost:8080", []string{"https", "plain http"}},
		{"other port", "127.0.0.1:8080", "http://localhost:9090", []string{"9090", "8080"}},
		{"default port of the scheme", "127.0.0.1:8080", "http://localhost", []string{"port 80 ", "8080"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ws := PublicURLWarnings(Env{Addr: tc.addr, PublicURL: tc.public})
			if tc.want == nil {
				assert.Empty(t, ws)
				return
			}
			require.Len(t, ws, 1)
			for _, w := range tc.want {
				assert.Contains(t, ws[0], w)
			}
			assert.False(t, strings.HasPrefix(ws[0], "WARNING"), "the caller adds the prefix")
		})
	}
}
