package otlogin

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// putExpired stores token as if its expiry had passed since it was committed.
func putExpired(t *testing.T, m *MemoryStore, token string) {
	t.Helper()
	m.mu.Lock()
	m.items[token] = memItem{b: []byte("stale"), expiry: time.Now().Add(-time.Second)}
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
			m.lastSweep = time.Now() // no sweep: the commit itself deletes
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
		{"commit sweeps at most once a minute", func(t *testing.T, m *MemoryStore) {
			m.lastSweep = time.Now()
			putExpired(t, m, "old")
			require.NoError(t, m.Commit("b", []byte("3"), hour))
			assert.True(t, held(m, "old"), "no sweep within a minute of the last one")
			m.lastSweep = time.Now().Add(-memSweepEvery)
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
