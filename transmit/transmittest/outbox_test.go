package transmittest_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin/internal/emutest"
	"github.com/otlogin/otlogin/transmit/transmittest"
)

// TestOutboxBounded: the outbox keeps the newest OutboxPerAddress messages of each address
// and the newest OutboxSize in all.
func TestOutboxBounded(t *testing.T) {
	t.Parallel()
	s := transmittest.NewTestServer(t, transmittest.Options{OutboxSize: 10, OutboxPerAddress: 3})
	tok := emutest.ClientToken(t, s)
	send := func(email string) {
		t.Helper()
		r := emutest.Call(t, s, tok, "/v1/auth/otp/send", map[string]any{"channel": "email", "identifier": email, "identifier_type": "email"})
		require.Equal(t, http.StatusOK, r.Status, r.Raw)
	}
	s.CreateUser("flood@example.com", "")
	var last string
	for range 8 {
		send("flood@example.com")
		last, _ = s.LastCode("flood@example.com")
	}
	assert.Len(t, s.Outbox(), 3, "one address keeps its newest 3")
	code, ok := s.LastCode("flood@example.com")
	assert.True(t, ok)
	assert.Equal(t, last, code, "the newest message is kept")

	for i := range 12 {
		e := fmt.Sprintf("u%d@example.com", i)
		s.CreateUser(e, "")
		send(e)
	}
	out := s.Outbox()
	require.Len(t, out, 10, "the outbox keeps its newest 10")
	assert.Equal(t, "u2@example.com", out[0].To, "the oldest were dropped first")
	assert.Equal(t, "u11@example.com", out[9].To)
	_, ok = s.LastCode("flood@example.com")
	assert.False(t, ok)
}
