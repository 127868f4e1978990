package otlogin

import (
	"context"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// providerStore is a shared store that brings its own limiter.
type providerStore struct{ *MemoryStore }

func (providerStore) Limiter() Limiter { return NewMemoryLimiter() }

// countLimiter is a limiter an app passes in.
type countLimiter struct{}

func (countLimiter) Allow(context.Context, string, int, time.Duration) (bool, time.Duration, error) {
	return true, 0, nil
}

// networkStore stands for a store other processes can share (scs's goredisstore, say; the
// store module's TestGoredisstoreNeedsSharedLimiter uses the real one): any store that is not
// in process memory and brings no limiter.
type networkStore struct{ m *MemoryStore }

func (s networkStore) Find(token string) ([]byte, bool, error) { return s.m.Find(token) }
func (s networkStore) Commit(token string, b []byte, expiry time.Time) error {
	return s.m.Commit(token, b, expiry)
}
func (s networkStore) Delete(token string) error { return s.m.Delete(token) }

// TestSharedStoreNeedsSharedLimiter: a session store shared by several instances with no
// limiter of its own would silently count rate limits per process
// (n instances, n times the budget). New refuses that unless the app passes a Limiter or
// opts out with AllowLocalLimits.
func TestSharedStoreNeedsSharedLimiter(t *testing.T) {
	t.Parallel()
	shared := networkStore{NewMemoryStore()}
	managerWith := func(st scs.Store) *scs.SessionManager {
		sm := scs.New()
		sm.Store = st
		sm.Cookie.Name = "__Host-s"
		sm.Cookie.Secure = true
		return sm
	}
	cases := []struct {
		name string
		mod  func(*Config)
		ok   bool
	}{
		{"default memory store", func(*Config) {}, true},
		{"otlogin MemoryStore", func(c *Config) { c.SessionStore = NewMemoryStore() }, true},
		{"scs memstore", func(c *Config) { c.SessionStore = memstore.NewWithCleanupInterval(0) }, true},
		{"scs memstore in Sessions", func(c *Config) { c.Sessions = managerWith(memstore.NewWithCleanupInterval(0)) }, true},
		{"store with its own limiter", func(c *Config) { c.SessionStore = providerStore{NewMemoryStore()} }, true},
		{"shared store", func(c *Config) { c.SessionStore = shared }, false},
		{"shared store in Sessions", func(c *Config) { c.Sessions = managerWith(shared) }, false},
		{"shared store with a Limiter", func(c *Config) { c.SessionStore = shared; c.Limiter = countLimiter{} }, true},
		{"shared store with AllowLocalLimits", func(c *Config) { c.SessionStore = shared; c.AllowLocalLimits = true }, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := Config{Client: testClient(t), PublicURL: "https://a.example"}
			tc.mod(&cfg)
			a, err := New(cfg)
			if tc.ok {
				require.NoError(t, err)
				require.NotNil(t, a)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), "Config.Limiter")
			assert.Contains(t, err.Error(), "AllowLocalLimits")
		})
	}
}
