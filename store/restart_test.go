package store

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/otlogin/otlogin/internal/tcpproxy"
	"github.com/otlogin/otlogin/internal/testservice"
	"github.com/otlogin/otlogin/store/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// warm makes n concurrent calls a few times so the pool holds several connections.
func warm(t *testing.T, s *Store, tok string, n int) {
	t.Helper()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for range 10 {
				_, _, err := s.Find(tok)
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
}

// countFailures makes n sequential Finds and returns how many failed.
func countFailures(s *Store, tok string, n int) int {
	failed := 0
	for range n {
		if _, _, err := s.Find(tok); err != nil {
			failed++
		}
	}
	return failed
}

// TestRedisRestart kills a private redis-server under a store with pooled connections and
// starts it again on the same port: calls fail while it is down and work again without
// reopening the store.
func TestRedisRestart(t *testing.T) {
	t.Parallel()
	srv := startRedisServer(t)
	raw := srv.URL()
	s := open(t, raw)
	noRetry := open(t, testservice.WithQuery(t, raw, "max_retries", "-1"))
	tok := storetest.Token(t)
	require.NoError(t, s.Commit(tok, []byte("v"), time.Now().Add(time.Minute)))
	warm(t, s, tok, 8)
	warm(t, noRetry, tok, 8)
	pooled := int(s.b.(*redisBackend).client.PoolStats().IdleConns)
	pooledNoRetry := int(noRetry.b.(*redisBackend).client.PoolStats().IdleConns)
	require.Positive(t, pooled)

	srv.stop()

	_, found, err := s.Find(tok)
	require.Error(t, err, "Find fails while Redis is down")
	assert.False(t, found, "an error, not a session")
	assert.Error(t, s.Commit(tok, []byte("v"), time.Now().Add(time.Minute)), "Commit fails while Redis is down")
	_, _, err = s.Limiter().Allow(context.Background(), "k:"+tok, 1, time.Minute)
	assert.Error(t, err, "the limiter reports the outage")

	srv.start()
	failed := countFailures(s, tok, pooled+5)
	failedNoRetry := countFailures(noRetry, tok, pooledNoRetry+5)
	t.Logf("after restart: default client %d failed of %d calls (%d pooled conns); max_retries=-1 client %d failed of %d (%d pooled)",
		failed, pooled+5, pooled, failedNoRetry, pooledNoRetry+5, pooledNoRetry)
	assert.LessOrEqual(t, failed, pooled, "at most one failed call per pooled connection")
	assert.LessOrEqual(t, failedNoRetry, pooledNoRetry, "at most one failed call per pooled connection, even without retries")

	_, found, err = s.Find(tok)
	require.NoError(t, err, "works again without reopening")
	assert.False(t, found, "the session was lost with the non-persistent Redis: the user is logged out")
	require.NoError(t, s.Commit(tok, []byte("v2"), time.Now().Add(time.Minute)))
	ok, _, err := s.Limiter().Allow(context.Background(), "k:"+tok, 1, time.Minute)
	require.NoError(t, err, "the limiter's script is loaded again after the restart")
	assert.True(t, ok)
}

func TestPostgresConnectionLoss(t *testing.T) {
	t.Parallel()
	raw, proxy := tcpproxy.InFront(t, postgresURL(t))
	s := open(t, raw)

	tok := storetest.Token(t)
	require.NoError(t, s.Commit(tok, []byte("v"), time.Now().Add(time.Minute)))
	warm(t, s, tok, 4)
	pooled := int(s.b.(*postgresBackend).pool.Stat().IdleConns())

	proxy.Stop()
	_, found, err := s.Find(tok)
	require.Error(t, err, "Find fails while the database is unreachable")
	assert.False(t, found)
	assert.Error(t, s.Commit(tok, []byte("v"), time.Now().Add(time.Minute)), "Commit fails too")
	_, _, err = s.Limiter().Allow(context.Background(), "k:"+tok, 1, time.Minute)
	assert.Error(t, err, "the limiter reports the outage")

	proxy.Start(t)
	failed := countFailures(s, tok, pooled+5)
	t.Logf("after the proxy came back: %d failed of %d calls (%d pooled conns before the loss)", failed, pooled+5, pooled)
	assert.LessOrEqual(t, failed, pooled, "at most one failed call per pooled connection")
	b, found, err := s.Find(tok)
	require.NoError(t, err, "works again without reopening")
	require.True(t, found, "PostgreSQL kept the session")
	assert.Equal(t, []byte("v"), b)
}
