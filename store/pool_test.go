package store

import (
	"runtime"
	"testing"

	"github.com/otlogin/otlogin/internal/testservice"
	"github.com/stretchr/testify/assert"
)

// TestPoolSizeFromURL: the connection pool's size is set through the store URL (Redis:
// go-redis's pool_size; PostgreSQL: pgxpool's pool_max_conns), with the documented
// defaults when the URL does not set it.
func TestPoolSizeFromURL(t *testing.T) {
	t.Parallel()
	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		raw := redisURL(t)
		def := open(t, raw)
		assert.Equal(t, 10*runtime.GOMAXPROCS(0), def.b.(*redisBackend).client.Options().PoolSize, "default")
		set := open(t, testservice.WithQuery(t, raw, "pool_size", "3"))
		assert.Equal(t, 3, set.b.(*redisBackend).client.Options().PoolSize)
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		raw := postgresURL(t)
		def := open(t, raw)
		assert.Equal(t, int32(pgMaxConns), def.b.(*postgresBackend).pool.Config().MaxConns, "default")
		set := open(t, testservice.WithQuery(t, raw, "pool_max_conns", "4"))
		assert.Equal(t, int32(4), set.b.(*postgresBackend).pool.Config().MaxConns)
	})
}
