package storetest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Limiter has the method set of otlogin.Limiter.
type Limiter interface {
	Allow(ctx context.Context, key string, limit int, window time.Duration) (allowed bool, retryAfter time.Duration, err error)
}

// RunLimiter runs the rate limiter conformance suite. Besides counting, it checks that a limit
// below 1 or a window of zero or less is an error with allowed false (fail closed), as
// otlogin.Limiter requires. newLimiter is called once per case; it
// should register its own cleanup with t.Cleanup.
func RunLimiter(t *testing.T, newLimiter func(t *testing.T) Limiter) {
	t.Helper()
	cases := []struct {
		name string
		run  func(t *testing.T, l Limiter)
	}{
		{"ConcurrentExactlyLimit", testExactlyLimit},
		{"IndependentKeys", testIndependentKeys},
		{"RetryAfterWhenDenied", testRetryAfter},
		{"WindowExpiry", testWindowExpiry},
		{"InvalidArgs", testInvalidArgs},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t, newLimiter(t))
		})
	}
}

func testExactlyLimit(t *testing.T, l Limiter) {
	const n, limit = 60, 7
	key := "conc:" + Token(t)
	var allowed atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			ok, _, err := l.Allow(context.Background(), key, limit, time.Minute)
			errs <- err
			if ok {
				allowed.Add(1)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, int64(limit), allowed.Load(), "exactly limit of %d concurrent calls are allowed", n)
}

func testIndependentKeys(t *testing.T, l Limiter) {
	a, b := "a:"+Token(t), "b:"+Token(t)
	for i := range 2 {
		ok, _, err := l.Allow(context.Background(), a, 2, time.Minute)
		require.NoError(t, err)
		require.True(t, ok, "call %d on key a is allowed", i+1)
	}
	ok, _, err := l.Allow(context.Background(), a, 2, time.Minute)
	require.NoError(t, err)
	require.False(t, ok, "key a is exhausted")
	ok, _, err = l.Allow(context.Background(), b, 2, time.Minute)
	require.NoError(t, err)
	assert.True(t, ok, "key b does not share key a's count")
}

func testRetryAfter(t *testing.T, l Limiter) {
	key := "ra:" + Token(t)
	ok, ra, err := l.Allow(context.Background(), key, 1, time.Minute)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Zero(t, ra, "no retryAfter when allowed")
	ok, ra, err = l.Allow(context.Background(), key, 1, time.Minute)
	require.NoError(t, err)
	require.False(t, ok)
	assert.Greater(t, ra, time.Duration(0), "retryAfter is positive when denied")
	assert.LessOrEqual(t, ra, time.Minute, "retryAfter is within the window")
}

func testWindowExpiry(t *testing.T, l Limiter) {
	key := "win:" + Token(t)
	window := time.Second
	ok, _, err := l.Allow(context.Background(), key, 1, window)
	require.NoError(t, err)
	require.True(t, ok)
	ok, ra, err := l.Allow(context.Background(), key, 1, window)
	require.NoError(t, err)
	require.False(t, ok, "second call in the window is denied")
	assert.Greater(t, ra, time.Duration(0))
	require.Eventually(t, func() bool {
		ok, _, err := l.Allow(context.Background(), key, 1, window)
		return err == nil && ok
	}, 10*time.Second, 100*time.Millisecond, "a new window allows again")
}

func testInvalidArgs(t *testing.T, l Limiter) {
	tests := []struct {
		name   string
		limit  int
		window time.Duration
	}{
		{"zero limit", 0, time.Minute},
		{"negative limit", -1, time.Minute},
		{"zero window", 1, 0},
		{"negative window", 1, -time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := "bad:" + Token(t)
			for i := range 3 {
				ok, _, err := l.Allow(context.Background(), key, tt.limit, tt.window)
				require.Error(t, err, "call %d: invalid arguments are an error, never \"no limit\"", i+1)
				assert.False(t, ok, "call %d: invalid arguments never allow", i+1)
			}
		})
	}
}
