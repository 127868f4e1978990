package otlogin

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// putExpired stores token as if its expiry had passed since it was committed.
func putExpired(t *testing.T, m *MemoryStore, token string) {
	t.Helper()
	m.mu.Lock()
	m.setLocked(token, []byte("stale"), time.Now().Add(-time.Second))
	m.mu.Unlock()
}

func held(m *MemoryStore, token string) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	_, ok := m.items[token]
	return ok
}

func TestMemoryStore(t *testing.T) {
	t.Parallel()
	hour := time.Now().Add(time.Hour)
	tests := []struct {
		name string
		run  func(t *testing.T, m *MemoryStore)
	}{
		{"commit then find", func(t *testing.T, m *MemoryStore) {
			require.NoError(t, m.Commit("a", []byte("1"), hour))
			b, ok, err := m.Find("a")
			require.NoError(t, err)
			assert.True(t, ok, "a committed token is found")
			assert.Equal(t, []byte("1"), b)
		}},
		{"missing", func(t *testing.T, m *MemoryStore) {
			b, ok, err := m.Find("missing")
			require.NoError(t, err)
			assert.False(t, ok)
			assert.Nil(t, b)
		}},
		{"expired is missing", func(t *testing.T, m *MemoryStore) {
			putExpired(t, m, "old")
			b, ok, err := m.Find("old")
			require.NoError(t, err)
			assert.False(t, ok, "an expired token is not found before any sweep")
			assert.Nil(t, b)
		}},
		{"past expiry deletes", func(t *testing.T, m *MemoryStore) {
			require.NoError(t, m.Commit("a", []byte("1"), hour))
			require.NoError(t, m.Commit("a", []byte("2"), time.Now().Add(-time.Second)))
			assert.False(t, held(m, "a"), "a commit with a past expiry deletes the token")
		}},
		{"delete", func(t *testing.T, m *MemoryStore) {
			require.NoError(t, m.Commit("a", []byte("1"), hour))
			require.NoError(t, m.Delete("a"))
			_, ok, err := m.Find("a")
			require.NoError(t, err)
			assert.False(t, ok, "a deleted token is not found")
			assert.NoError(t, m.Delete("a"), "deleting an unknown token is fine")
		}},
		{"all skips expired", func(t *testing.T, m *MemoryStore) {
			require.NoError(t, m.Commit("a", []byte("1"), hour))
			putExpired(t, m, "old")
			all, err := m.All()
			require.NoError(t, err)
			assert.Equal(t, map[string][]byte{"a": []byte("1")}, all)
		}},
		{"commits sweep expired sessions", func(t *testing.T, m *MemoryStore) {
			putExpired(t, m, "old")
			require.NoError(t, m.Commit("b", []byte("3"), hour))
			require.NoError(t, m.Commit("c", []byte("4"), hour))
			assert.False(t, held(m, "old"), "a commit sweeps expired sessions")
			assert.True(t, held(m, "b") && held(m, "c"), "live sessions stay")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, NewMemoryStore())
		})
	}
}

// TestMemoryStoreSweepInSteps: one step of the sweep looks at memSweepStep sessions; a flood
// of expired sessions is dropped by the next commit in such steps, and the map is rebuilt
// at its live size.
func TestMemoryStoreSweepInSteps(t *testing.T) {
	t.Parallel()
	m := NewMemoryStore()
	now := time.Now()
	m.now = func() time.Time { return now }
	for i := range 20_000 {
		require.NoError(t, m.Commit("t"+strconv.Itoa(i), []byte("x"), now.Add(5*time.Minute)))
	}
	require.NoError(t, m.Commit("live", []byte("x"), now.Add(time.Hour)))
	now = now.Add(10 * time.Minute)

	m.mu.Lock()
	more := m.sweepStepLocked(now)
	left := len(m.items)
	m.mu.Unlock()
	assert.True(t, more, "a step of expired sessions asks for more")
	assert.GreaterOrEqual(t, left, 20_001-memSweepStep, "one step looks at memSweepStep sessions at most")

	require.NoError(t, m.Commit("new", []byte("x"), now.Add(time.Hour)))
	m.mu.RLock()
	defer m.mu.RUnlock()
	assert.Len(t, m.items, 2, "the next commit dropped every expired session")
	assert.Len(t, m.order, 2)
	assert.Less(t, m.peak, 20_000/8, "the map was rebuilt near its live size")
	for i, slot := range m.order {
		assert.Equal(t, i, m.items[slot.token].idx)
	}
}
