package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/alicebob/miniredis/v2"
	"github.com/otlogin/otlogin"
	"github.com/otlogin/otlogin/internal/testservice"
	"github.com/otlogin/otlogin/store/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	backends := []struct {
		name string
		open func(t *testing.T) scs.Store
	}{
		{"memory", func(t *testing.T) scs.Store { return open(t, "memory") }},
		// The memory backend's store on its own (scs.Store only, as otlogin.New uses it).
		{"otlogin-memorystore", func(*testing.T) scs.Store { return otlogin.NewMemoryStore() }},
		// scs's own memstore, for comparison: the memory backend keeps its semantics.
		{"scs-memstore", func(t *testing.T) scs.Store { return memstore.NewWithCleanupInterval(0) }},
		{"miniredis", func(t *testing.T) scs.Store { return open(t, miniredisURL(t)) }},
		{"redis", func(t *testing.T) scs.Store { return open(t, redisURL(t)) }},
		{"postgres", func(t *testing.T) scs.Store { return open(t, postgresURL(t)) }},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			storetest.Run(t, b.open)
		})
	}
}

func TestLimiterConformance(t *testing.T) {
	t.Parallel()
	shared := func(url func(t *testing.T) string) func(t *testing.T) storetest.Limiter {
		return func(t *testing.T) storetest.Limiter {
			l := open(t, url(t)).Limiter()
			require.NotNil(t, l)
			return l
		}
	}
	backends := []struct {
		name string
		new  func(t *testing.T) storetest.Limiter
	}{
		// otlogin's in-memory limiter, the fallback for the memory store: same contract.
		{"memory", func(*testing.T) storetest.Limiter { return otlogin.NewMemoryLimiter() }},
		{"miniredis", shared(miniredisURL)},
		{"redis", shared(redisURL)},
		{"postgres", shared(postgresURL)},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			storetest.RunLimiter(t, b.new)
		})
	}
}

func TestKindAndLimiter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, kind string
		url        func(t *testing.T) string
		limiter    bool
	}{
		{"empty", KindMemory, func(*testing.T) string { return "" }, false},
		{"memory", KindMemory, func(*testing.T) string { return "memory" }, false},
		{"redis", KindRedis, redisURL, true},
		{"postgres", KindPostgres, postgresURL, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := open(t, tt.url(t))
			assert.Equal(t, tt.kind, s.Kind())
			assert.Equal(t, tt.limiter, s.Limiter() != nil, "has a shared limiter")
		})
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	const pw = "s3cr3t-Passw0rd"
	tests := []struct {
		name, url, want string
	}{
		{"unknown scheme", "mysql://u:" + pw + "@127.0.0.1/x", `store: unsupported store URL scheme "mysql"`},
		{"unparsable", "redis://u:" + pw + "@127.0.0.1:notaport/0", "store: invalid store URL"},
		{"redis bad option", "redis://u:" + pw + "@127.0.0.1:6379/0?bogus=1", "store: invalid redis URL"},
		{"redis unreachable", "redis://u:" + pw + "@127.0.0.1:1/0", "store: cannot reach redis at 127.0.0.1:1: "},
		{"postgres bad option", "postgres://u:" + pw + "@127.0.0.1:5432/x?pool_max_conns=zero", "store: invalid postgres URL"},
		{"postgres unreachable", "postgres://u:" + pw + "@127.0.0.1:1/test?sslmode=disable", "store: cannot reach postgres at 127.0.0.1:1: "},
		{"postgres password param", "postgres://u@127.0.0.1:1/test?sslmode=disable&password=" + pw, "store: cannot reach postgres at 127.0.0.1:1: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var s *Store
			var err error
			require.NotPanics(t, func() { s, err = Open(ctx, tt.url) })
			require.Error(t, err)
			assert.Nil(t, s)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), pw, "the password never appears in the error")
			assert.NotContains(t, err.Error(), "s3cr3t", "no part of the password appears")
		})
	}
}

func TestOpenHonoursDeadline(t *testing.T) {
	t.Parallel()
	// 192.0.2.1 (TEST-NET-1) does not answer; the expired context must end Open at once.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, u := range []string{"redis://192.0.2.1:6379/0", "postgres://postgres@192.0.2.1:5432/test"} {
		_, err := Open(ctx, u)
		require.Error(t, err, u)
		assert.True(t, errors.Is(err, context.Canceled) || strings.Contains(err.Error(), "context canceled"), "%s: %v", u, err)
	}
}

func TestClose(t *testing.T) {
	t.Parallel()
	for _, u := range []func(t *testing.T) string{
		func(*testing.T) string { return "memory" },
		func(t *testing.T) string { return "redis://" + miniredis.RunT(t).Addr() },
		postgresURL,
	} {
		s, err := Open(context.Background(), u(t))
		require.NoError(t, err)
		require.NoError(t, s.Close())
		require.NoError(t, s.Close(), "Close twice is fine")
		_, _, err = s.Find("x")
		assert.ErrorIs(t, err, ErrClosed, "%s: Find after Close", s.Kind())
		assert.ErrorIs(t, s.Commit("x", nil, time.Now().Add(time.Minute)), ErrClosed)
		assert.ErrorIs(t, s.Delete("x"), ErrClosed)
	}
}

func TestConcurrentPostgresOpen(t *testing.T) {
	t.Parallel()
	u := postgresURL(t) // a schema that does not exist yet
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			s, err := Open(ctx, u)
			if err == nil {
				err = s.Commit(fmt.Sprintf("tok-%d", i), []byte("x"), time.Now().Add(time.Minute))
				err = errors.Join(err, s.Close())
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		assert.NoError(t, err, "open %d", i)
	}
}

func TestRedisLimiterKeysExpire(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	l := open(t, "redis://"+mr.Addr()).Limiter()
	ok, _, err := l.Allow(context.Background(), "user@example.com", 1, 10*time.Second)
	require.NoError(t, err)
	require.True(t, ok)
	key := "otlogin:rl:user@example.com"
	require.True(t, mr.Exists(key), "counter key uses the otlogin:rl: prefix")
	assert.Greater(t, mr.TTL(key), time.Duration(0), "counter key has a TTL")
	ok, _, err = l.Allow(context.Background(), "user@example.com", 1, 10*time.Second)
	require.NoError(t, err)
	require.False(t, ok)
	mr.FastForward(11 * time.Second)
	assert.False(t, mr.Exists(key), "counter key expired with its window")
	ok, _, err = l.Allow(context.Background(), "user@example.com", 1, 10*time.Second)
	require.NoError(t, err)
	assert.True(t, ok, "allowed again in a new window")
}

func TestRedisSessionExpiryAndErrors(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	s := open(t, "redis://"+mr.Addr())
	require.NoError(t, s.Commit("tok", []byte("v"), time.Now().Add(time.Hour)))
	require.True(t, mr.Exists("scs:session:tok"), "session keys keep goredisstore's prefix")
	mr.FastForward(time.Hour + time.Second)
	_, found, err := s.Find("tok")
	require.NoError(t, err)
	assert.False(t, found, "expired in Redis")

	mr.SetError("LOADING Redis is loading the dataset in memory")
	_, found, err = s.Find("tok")
	require.Error(t, err, "a Redis error is an error, not \"not found\"")
	assert.False(t, found)
	_, _, err = s.Limiter().Allow(context.Background(), "k", 1, time.Minute)
	assert.Error(t, err, "limiter errors are returned (the caller fails closed)")
	mr.SetError("")
	_, _, err = s.Find("tok")
	assert.NoError(t, err, "works again once Redis answers")
}

func TestServicesHelper(t *testing.T) {
	t.Parallel()
	assert.True(t, strings.HasPrefix(testservice.DefaultRedisURL, "redis://"))
	assert.True(t, strings.HasPrefix(testservice.DefaultPostgresURL, "postgres://"))
}
