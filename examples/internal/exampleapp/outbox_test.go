package exampleapp

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOutboxRefusesRebinding: the dev outbox shows every sign-in code, so it answers only a
// request whose Host is a loopback name or address. A page on evil.example that rebinds its
// name to 127.0.0.1 sends Host: evil.example and gets nothing.
func TestOutboxRefusesRebinding(t *testing.T) {
	t.Parallel()
	app, err := New(context.Background(), FromEnv(func(string) string { return "" }), io.Discard)
	require.NoError(t, err)
	t.Cleanup(func() { _ = app.Close() })
	for host, ok := range map[string]bool{
		"localhost:8080": true, "127.0.0.1:8080": true, "[::1]:8080": true,
		"evil.example": false, "evil.example:8080": false, "localhost.evil.example:8080": false,
	} {
		for _, path := range []string{OutboxPath, OutboxJSONPath} {
			r := httptest.NewRequest(http.MethodGet, path, nil)
			r.Host = host
			rec := httptest.NewRecorder()
			app.Outbox.ServeHTTP(rec, r)
			if ok {
				assert.Equal(t, http.StatusOK, rec.Code, "%s%s", host, path)
			} else {
				assert.Equal(t, http.StatusForbidden, rec.Code, "%s%s", host, path)
			}
		}
	}
}
