package otlogin

import (
	"context"
	"testing"
	"time"

	"github.com/alexedwards/scs/goredisstore"
	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/redis/go-redis/v9"
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

// TestSharedStoreNeedsSharedLimiter: a session store shared by several instances (here scs's
// own goredisstore) with no limiter of its own would silently count rate limits per process
// (n instances, n times the budget). New refuses that unless the app passes a Limiter or
// opts out with AllowLocalLimits.
func TestSharedStoreNeedsSharedLimiter(t *testing.T) {
	t.Parallel()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled: New makes no network call
	t.Cleanup(func() { _ = rdb.Close() })
	shared := goredisstore.New(rdb)
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
		{"goredisstore", func(c *Config) { c.SessionStore = shared }, false},
		{"goredisstore in Sessions", func(c *Config) { c.Sessions = managerWith(shared) }, false},
		{"goredisstore with a Limiter", func(c *Config) { c.SessionStore = shared; c.Limiter = countLimiter{} }, true},
		{"goredisstore with AllowLocalLimits", func(c *Config) { c.SessionStore = shared; c.AllowLocalLimits = true }, true},
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
