package otlogin

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin/transmit/transmittest"
)

// TestRevalidateSignsOutGoneUsers: a user disabled or deleted at Mosaic is signed out at the
// first request after one revalidation period, and not before; Mosaic is asked once.
func TestRevalidateSignsOutGoneUsers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		gone func(emu *transmittest.Server, id string) bool
	}{
		{"disabled", (*transmittest.Server).DisableUser},
		{"deleted", (*transmittest.Server).DeleteUser},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			id := h.emu.CreateUser("ada@example.com", "")
			c := h.newClient()
			require.Equal(t, http.StatusSeeOther, h.signInLink(c, "ada@example.com", "/").StatusCode)
			require.True(t, tc.gone(h.emu, id))

			// Within the period nothing asks Mosaic: the user is still served.
			h.clock.Advance(DefaultRevalidateEvery - time.Minute)
			assert.Equal(t, http.StatusOK, h.get(c, "/dashboard").StatusCode)
			assert.Equal(t, 0, h.emu.Calls(transmittest.EndpointRefresh))

			h.clock.Advance(2 * time.Minute)
			r := h.get(c, "/dashboard")
			assert.Equal(t, http.StatusSeeOther, r.StatusCode, "signed out after one period: %s", r.body)
			assert.Equal(t, 1, h.emu.Calls(transmittest.EndpointRefresh))
			assert.Equal(t, http.StatusUnauthorized, h.get(c, "/api/me", "Accept", "application/json").StatusCode)
			assert.Contains(t, h.logs.String(), `"outcome":"user_gone"`)
		})
	}
}

// TestRevalidateOncePerPeriod: an active user's session is revalidated once per period,
// however many requests it makes, and stays signed in.
func TestRevalidateOncePerPeriod(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.RevalidateEvery = 10 * time.Minute })
	h.emu.CreateUser("ada@example.com", "")
	c := h.newClient()
	require.Equal(t, http.StatusSeeOther, h.signInLink(c, "ada@example.com", "/").StatusCode)
	for period := 1; period <= 3; period++ {
		h.clock.Advance(10*time.Minute + time.Second)
		for range 5 {
			require.Equal(t, http.StatusOK, h.get(c, "/dashboard").StatusCode)
			h.clock.Advance(time.Minute)
		}
		assert.Equal(t, period, h.emu.Calls(transmittest.EndpointRefresh), "one Mosaic call in period %d", period)
	}
	// The refreshed tokens were saved: the access token is the newest one.
	r := h.get(c, "/token")
	assert.Equal(t, http.StatusOK, r.StatusCode)
	assert.Equal(t, 3, h.emu.Calls(transmittest.EndpointRefresh), "no extra refresh for the access token")
}

// TestRevalidateMosaicDown: while Mosaic is down revalidation signs nobody out and is not
// retried on every request; it is retried the next period.
func TestRevalidateMosaicDown(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.emu.CreateUser("ada@example.com", "")
	h.emu.CreateUser("bob@example.com", "")
	ada, bob := h.newClient(), h.newClient()
	require.Equal(t, http.StatusSeeOther, h.signInLink(ada, "ada@example.com", "/").StatusCode)
	require.Equal(t, http.StatusSeeOther, h.signInLink(bob, "bob@example.com", "/").StatusCode)

	h.emu.Force(transmittest.EndpointRefresh, transmittest.FaultUnavailable())
	h.clock.Advance(DefaultRevalidateEvery + time.Minute)
	for range 3 {
		assert.Equal(t, http.StatusOK, h.get(ada, "/dashboard").StatusCode, "Mosaic down signs nobody out")
		assert.Equal(t, http.StatusOK, h.get(bob, "/api/me", "Accept", "application/json").StatusCode)
	}
	assert.Equal(t, 2, h.emu.Calls(transmittest.EndpointRefresh), "one attempt per session, not one per request")
	assert.Contains(t, h.logs.String(), `"outcome":"unavailable"`)

	h.emu.ClearForced()
	h.clock.Advance(DefaultRevalidateEvery + time.Minute)
	assert.Equal(t, http.StatusOK, h.get(ada, "/dashboard").StatusCode)
	assert.Equal(t, 3, h.emu.Calls(transmittest.EndpointRefresh), "retried the next period")
}

// TestRevalidateOff: a negative RevalidateEvery never asks Mosaic.
func TestRevalidateOff(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.RevalidateEvery = -1 })
	id := h.emu.CreateUser("ada@example.com", "")
	c := h.newClient()
	require.Equal(t, http.StatusSeeOther, h.signInLink(c, "ada@example.com", "/").StatusCode)
	require.True(t, h.emu.DisableUser(id))
	h.clock.Advance(DefaultRevalidateEvery + time.Minute)
	assert.Equal(t, http.StatusOK, h.get(c, "/dashboard").StatusCode)
	assert.Equal(t, 0, h.emu.Calls(transmittest.EndpointRefresh))
}

// noRevalidate turns revalidation off, for tests that count the refreshes AccessToken makes.
func noRevalidate(c *Config) { c.RevalidateEvery = -1 }
