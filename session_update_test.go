package otlogin

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLoadedSessionsAreUpdatedNewOnesInserted: a session loaded from the store is saved with
// the store's atomic update (never Commit, which would create it again); a new session and
// the renewed session of a sign-in are inserts.
func TestLoadedSessionsAreUpdatedNewOnesInserted(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.emu.CreateUser("ada@example.com", "")
	c := h.newClient()
	require.Equal(t, http.StatusSeeOther, h.signInLink(c, "ada@example.com", "/").StatusCode)
	assert.Zero(t, h.store.updates.Load(), "the first save and the sign-in's renewed session are inserts")
	commits := h.store.commits.Load()
	h.clock.Advance(2 * time.Minute)
	require.Equal(t, http.StatusOK, h.get(c, "/dashboard").StatusCode)
	assert.EqualValues(t, 1, h.store.updates.Load(), "the activity record is an update")
	assert.Equal(t, commits+1, h.store.commits.Load(), "and nothing else was written")

	// The same write after a logout updates nothing and creates nothing.
	token := h.sessionCookie(c)
	require.Equal(t, http.StatusSeeOther, h.postForm(c, "/auth/logout", nil).StatusCode)
	h.clock.Advance(2 * time.Minute)
	r := h.get(h.clientWithCookie(token), "/auth/me", "Accept", "application/json")
	assert.Equal(t, http.StatusUnauthorized, r.StatusCode)
	found, err := h.auth.storeHas(t.Context(), token)
	require.NoError(t, err)
	assert.False(t, found)
}

// TestStoreWithoutUpdateIsLoggedOnce: New warns once when the session store cannot update
// atomically, and stays silent when it can; such a store still works (check, then write).
func TestStoreWithoutUpdateIsLoggedOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.SessionStore = plainStore{newCountingStore()} })
	assert.Equal(t, 1, strings.Count(h.logs.String(), "no_atomic_update"), h.logs.String())
	h.emu.CreateUser("ada@example.com", "")
	c := h.newClient()
	require.Equal(t, http.StatusSeeOther, h.signInLink(c, "ada@example.com", "/").StatusCode)
	h.clock.Advance(2 * time.Minute)
	require.Equal(t, http.StatusOK, h.get(c, "/dashboard").StatusCode)
	assert.Equal(t, 1, strings.Count(h.logs.String(), "no_atomic_update"), "logged once, at New only")

	h2 := newHarness(t)
	assert.NotContains(t, h2.logs.String(), "no_atomic_update")
}
