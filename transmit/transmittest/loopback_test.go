package transmittest_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin/internal/emutest"
	"github.com/otlogin/otlogin/transmit/transmittest"
)

// TestLoopbackOnly: the guard serves only requests from a loopback client whose Host is a
// loopback name or address. A page on evil.example that rebinds its name to 127.0.0.1 sends
// Host: evil.example; a client on another machine has a non-loopback RemoteAddr even when it
// sends Host: localhost. Both get 403 with a sentence, and the handler is not called.
func TestLoopbackOnly(t *testing.T) {
	t.Parallel()
	called := 0
	h := transmittest.LoopbackOnly(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		called++
		_, _ = w.Write([]byte("codes"))
	}))
	serve := func(remote, host string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/dev/outbox", nil)
		r.RemoteAddr, r.Host = remote, host
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}
	hosts := map[string]bool{
		"localhost": true, "localhost:8080": true, "LOCALHOST:8080": true, "localhost.:8080": true, "app.localhost:8080": true,
		"127.0.0.1:8080": true, "127.1.2.3": true, "[::1]:8080": true, "::1": true, "[::ffff:127.0.0.1]:80": true,
		"evil.example": false, "evil.example:8080": false, "localhost.evil.example": false,
		"127.0.0.1.nip.io:8080": false, "0.0.0.0:8080": false, "192.168.1.10:8080": false, "[fe80::1]:80": false, "": false,
	}
	for host, ok := range hosts {
		rec := serve("127.0.0.1:50000", host)
		if ok {
			assert.Equal(t, http.StatusOK, rec.Code, host)
			assert.Equal(t, "codes", rec.Body.String(), host)
			continue
		}
		assert.Equal(t, http.StatusForbidden, rec.Code, host)
		assert.NotContains(t, rec.Body.String(), "codes", host)
		assert.Contains(t, rec.Body.String(), "loopback", host)
		assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"), host)
	}
	for remote, ok := range map[string]bool{
		"127.0.0.1:50000": true, "127.9.9.9:1": true, "[::1]:50000": true, "[::ffff:127.0.0.1]:50000": true,
		"192.0.2.1:1234": false, "[2001:db8::1]:1234": false, "10.0.0.5:443": false, "[fe80::1%eth0]:1": false,
		"": false, "@": false, "127.0.0.1": false, "localhost:50000": false,
	} {
		rec := serve(remote, "localhost:8080") // a remote client may send any Host it likes
		if ok {
			assert.Equal(t, http.StatusOK, rec.Code, remote)
			continue
		}
		assert.Equal(t, http.StatusForbidden, rec.Code, remote)
		assert.NotContains(t, rec.Body.String(), "codes", remote)
	}
	okHosts := 0
	for _, ok := range hosts {
		if ok {
			okHosts++
		}
	}
	assert.Equal(t, okHosts+4, called, "the handler ran only for the requests served")
}

// TestLoopbackOnlyOutbox: the outbox behind the guard, as an app mounts it, shows its codes to
// a loopback browser over a real connection and to no one else.
func TestLoopbackOnlyOutbox(t *testing.T) {
	t.Parallel()
	emu := transmittest.NewTestServer(t, transmittest.Options{})
	emu.CreateUser("ada@example.com", "")
	tok := emutest.ClientToken(t, emu)
	r := emutest.Call(t, emu, tok, "/v1/auth/otp/send", map[string]any{"channel": "email", "identifier": "ada@example.com", "identifier_type": "email"})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	code, ok := emu.LastCode("ada@example.com")
	require.True(t, ok)

	app := httptest.NewServer(transmittest.LoopbackOnly(emu.OutboxHandler())) // listens on 127.0.0.1
	defer app.Close()
	for host, want := range map[string]int{"": http.StatusOK, "evil.example": http.StatusForbidden} {
		for _, path := range []string{"/dev/outbox", "/dev/outbox.json"} {
			req, err := http.NewRequest(http.MethodGet, app.URL+path, nil)
			require.NoError(t, err)
			if host != "" {
				req.Host = host
			}
			res, err := app.Client().Do(req)
			require.NoError(t, err)
			b, err := io.ReadAll(res.Body)
			require.NoError(t, err)
			require.NoError(t, res.Body.Close())
			body := string(b)
			assert.Equal(t, want, res.StatusCode, "%q %s", host, path)
			if want == http.StatusOK {
				assert.Contains(t, body, code, path)
			} else {
				assert.NotContains(t, body, code, path)
			}
		}
	}
}

// TestLoopbackAddr: only a listen address on loopback is; all interfaces, a public address,
// a name that DNS resolves and an address without a port are not.
func TestLoopbackAddr(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "localhost:8080": true, "LOCALHOST:0": true,
		"[::1]:8080": true, "127.1.2.3:1": true, "[::ffff:127.0.0.1]:80": true,
		":8080": false, "0.0.0.0:8080": false, "[::]:8080": false, "192.0.2.10:8080": false,
		"example.com:8080": false, "localhost.example.com:8080": false, "no-port": false, "127.0.0.1": false, "": false,
	} {
		assert.Equal(t, want, transmittest.LoopbackAddr(addr), addr)
	}
}
