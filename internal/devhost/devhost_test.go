package devhost

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestLoopbackOnly(t *testing.T) {
	t.Parallel()
	h := LoopbackOnly(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("codes")) }))
	for host, ok := range map[string]bool{
		"localhost": true, "localhost:8080": true, "LOCALHOST:8080": true, "app.localhost:8080": true,
		"127.0.0.1:8080": true, "127.1.2.3": true, "[::1]:8080": true, "::1": true,
		"evil.example": false, "evil.example:8080": false, "localhost.evil.example": false,
		"127.0.0.1.nip.io:8080": false, "0.0.0.0:8080": false, "192.168.1.10:8080": false, "": false,
		"[::ffff:127.0.0.1]:80": true, "[fe80::1]:80": false,
	} {
		r := httptest.NewRequest(http.MethodGet, "/dev/outbox", nil)
		r.Host = host
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if ok {
			assert.Equal(t, http.StatusOK, rec.Code, host)
			assert.Equal(t, "codes", rec.Body.String(), host)
		} else {
			assert.Equal(t, http.StatusForbidden, rec.Code, host)
			assert.NotContains(t, rec.Body.String(), "codes", host)
			assert.Contains(t, rec.Body.String(), "loopback", host)
		}
	}
}

func TestLoopbackAddr(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "localhost:8080": true, "[::1]:8080": true, "127.1.2.3:1": true,
		":8080": false, "0.0.0.0:8080": false, "[::]:8080": false, "192.0.2.10:8080": false,
		"example.com:8080": false, "no-port": false, "app.localhost:8080": false, "LOCALHOST.:8080": true,
	} {
		assert.Equal(t, want, LoopbackAddr(addr), addr)
	}
}

// TestLoopback is the one loopback rule of the module: every form accepted and refused, for
// browsers (Loopback) and for this program's own connections and listeners
// (LoopbackForDial), which differ only on names under ".localhost".
func TestLoopback(t *testing.T) {
	t.Parallel()
	const no, both, browserOnly = 0, 1, 2
	for host, want := range map[string]int{
		"localhost": both, "LOCALHOST": both, "LocalHost": both, "localhost.": both, "[localhost]": no,
		"localhost..": no, "app.localhost": browserOnly, "APP.LOCALHOST.": browserOnly, "a.b.localhost": browserOnly,
		".localhost": no, "localhost.evil.com": no, "evil.com": no, "notlocalhost": no, "": no,
		"127.0.0.1": both, "127.1.2.3": both, "127.255.255.255": both, "[127.0.0.1]": both,
		"::1": both, "[::1]": both, "0:0:0:0:0:0:0:1": both, "::ffff:127.0.0.1": both, "[::FFFF:127.0.0.2]": both,
		"127.1": no, "127.0.0.1.nip.io": no, "127.0.0.1.": no, "0.0.0.0": no, "::": no, "[::]": no,
		"128.0.0.1": no, "192.168.1.10": no, "::ffff:10.0.0.1": no, "fe80::1": no, "::1%lo": no, "[::1%25lo]": no,
		"[::1": no, "::1]": no, "127.0.0.1:80": no, "[::1]:80": no, "0x7f.0.0.1": no, "0177.0.0.1": no,
	} {
		assert.Equal(t, want != no, Loopback(host), "Loopback(%q)", host)
		assert.Equal(t, want == both, LoopbackForDial(host), "LoopbackForDial(%q)", host)
	}
}
