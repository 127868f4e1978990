package otlogin

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMemStore(t *testing.T) {
	t.Parallel()
	m := newMemStore()
	require.NoError(t, m.Commit("a", []byte("1"), time.Now().Add(time.Hour)))
	require.NoError(t, m.Commit("old", []byte("2"), time.Now().Add(-time.Second)))
	b, ok, err := m.Find("a")
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, []byte("1"), b)
	_, ok, _ = m.Find("old")
	assert.False(t, ok, "expired")
	_, ok, _ = m.Find("missing")
	assert.False(t, ok)
	all, err := m.All()
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{"a": []byte("1")}, all)
	require.NoError(t, m.Delete("a"))
	_, ok, _ = m.Find("a")
	assert.False(t, ok)

	m.lastSweep = time.Time{}
	require.NoError(t, m.Commit("b", []byte("3"), time.Now().Add(time.Hour)))
	m.mu.RLock()
	_, kept := m.items["old"]
	m.mu.RUnlock()
	assert.False(t, kept, "a commit sweeps expired sessions")
}
