package otlogin

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// expiryStore records the expiry of each commit.
type expiryStore struct {
	*countingStore
	mu  sync.Mutex
	exp map[string]time.Time
}

func (s *expiryStore) Commit(token string, b []byte, expiry time.Time) error {
	s.mu.Lock()
	s.exp[token] = expiry
	s.mu.Unlock()
	return s.countingStore.Commit(token, b, expiry)
}

func (s *expiryStore) UpdateCtx(ctx context.Context, token string, b []byte, expiry time.Time) (bool, error) {
	s.mu.Lock()
	s.exp[token] = expiry
	s.mu.Unlock()
	return s.countingStore.UpdateCtx(ctx, token, b, expiry)
}

func (s *expiryStore) expiryOf(token string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.exp[token]
}

// TestPreLoginSessionLifetime: a session holding only a pending flow is stored for the flow's
// lifetime (a new flow sets it again), and a sign-in gives the full SessionLifetime.
func TestPreLoginSessionLifetime(t *testing.T) {
	t.Parallel()
	st := &expiryStore{countingStore: newCountingStore(), exp: map[string]time.Time{}}
	h := newHarness(t, func(c *Config) { c.SessionStore = st })
	h.emu.CreateUser("ada@example.com", "")
	c := h.newClient()
	within := func(token string, want time.Duration, msg string) {
		t.Helper()
		left := time.Until(st.expiryOf(token))
		assert.InDelta(t, want.Seconds(), left.Seconds(), 30, "%s: stored for %s", msg, left.Round(time.Second))
	}

	r := h.postJSON(c, "/auth/otp/send", map[string]string{"channel": "email", "identifier": "ada@example.com"})
	require.Equal(t, http.StatusAccepted, r.StatusCode, r.body)
	within(h.sessionCookie(c), h.auth.cfg.OTPTTL, "a code flow")

	h.clock.Advance(time.Minute) // the flow's clock moved on: the next flow ends a minute later
	r = h.postJSON(c, "/auth/link/email/send", map[string]string{"email": "ada@example.com"})
	require.Equal(t, http.StatusAccepted, r.StatusCode, r.body)
	within(h.sessionCookie(c), h.auth.cfg.LinkTTL, "a new (link) flow sets it again")

	r = h.postJSON(c, "/auth/otp/send", map[string]string{"channel": "email", "identifier": "ada@example.com"})
	require.Equal(t, http.StatusAccepted, r.StatusCode, r.body)
	r = h.postJSON(c, "/auth/otp/authenticate", map[string]string{"passcode": h.lastCode("ada@example.com")})
	require.Equal(t, http.StatusOK, r.StatusCode, r.body)
	within(h.sessionCookie(c), h.auth.cfg.SessionLifetime, "signed in")

	// A signed-in user who starts another sign-in keeps the signed-in lifetime.
	r = h.postJSON(c, "/auth/otp/send", map[string]string{"channel": "email", "identifier": "ada@example.com"})
	require.Equal(t, http.StatusAccepted, r.StatusCode, r.body)
	within(h.sessionCookie(c), h.auth.cfg.SessionLifetime, "signed in, new flow")
}
