package exampleapp

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/otlogin/otlogin/transmit/transmittest"
)

// TestOutboxRefusesRebinding: the dev outbox shows every sign-in code, so it answers only a
// loopback client whose Host is a loopback name or address. A page on evil.example that
// rebinds its name to 127.0.0.1 sends Host: evil.example and gets nothing; neither does a
// client on another machine that sends Host: localhost.
func TestOutboxRefusesRebinding(t *testing.T) {
	t.Parallel()
	outbox := Outbox(transmittest.NewTestServer(t, transmittest.Options{}))
	for _, tc := range []struct {
		remote, host string
		ok           bool
	}{
		{"127.0.0.1:50000", "localhost:8080", true}, {"127.0.0.1:50000", "127.0.0.1:8080", true}, {"[::1]:50000", "[::1]:8080", true},
		{"127.0.0.1:50000", "evil.example", false}, {"127.0.0.1:50000", "evil.example:8080", false},
		{"127.0.0.1:50000", "localhost.evil.example:8080", false}, {"192.0.2.7:50000", "localhost:8080", false},
	} {
		for _, path := range []string{OutboxPath, OutboxJSONPath} {
			r := httptest.NewRequest(http.MethodGet, path, nil)
			r.RemoteAddr, r.Host = tc.remote, tc.host
			rec := httptest.NewRecorder()
			outbox.ServeHTTP(rec, r)
			want := http.StatusForbidden
			if tc.ok {
				want = http.StatusOK
			}
			assert.Equal(t, want, rec.Code, "%s from %s%s", tc.host, tc.remote, path)
		}
	}
}
