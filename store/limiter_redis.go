package store

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// fixedWindowScript counts one event in a fixed window, in one round trip and atomically.
// KEYS[1] is the counter, ARGV[1] the window in milliseconds. It returns the count so far in
// the window and the milliseconds left in it. A counter found without a TTL (it cannot happen
// through this script, but a stray SET could do it) gets one, so no key lives forever.
var fixedWindowScript = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
`)

// RedisLimiter is a fixed-window rate limiter shared through Redis, returned by
// [Store.Limiter] for Redis stores. Each Allow is one atomic script call; counters are keys
// "otlogin:rl:<key>" (see [Open] for key_prefix) that expire with their window.
type RedisLimiter struct {
	client *redis.Client
	prefix string
}

// Allow implements [otlogin.Limiter]. A limit below 1 or a window of zero or less is an error;
// errors, these and Redis's, are returned with allowed false.
func (l *RedisLimiter) Allow(ctx context.Context, key string, limit int, window time.Duration) (bool, time.Duration, error) {
	if err := checkLimitArgs(limit, window); err != nil {
		return false, 0, err
	}
	ms := max(window.Milliseconds(), 1)
	res, err := fixedWindowScript.Run(ctx, l.client, []string{l.prefix + key}, ms).Int64Slice()
	if err != nil {
		return false, 0, fmt.Errorf("store: redis rate limit: %w", err)
	}
	if len(res) != 2 {
		return false, 0, fmt.Errorf("store: redis rate limit: unexpected script reply of %d values", len(res))
	}
	if res[0] <= int64(limit) {
		return true, 0, nil
	}
	return false, retryAfter(time.Duration(res[1]) * time.Millisecond), nil
}

// checkLimitArgs refuses arguments that cannot describe a limit.
func checkLimitArgs(limit int, window time.Duration) error {
	if limit < 1 {
		return fmt.Errorf("store: rate limit must be at least 1, got %d", limit)
	}
	if window <= 0 {
		return fmt.Errorf("store: rate limit window must be positive, got %s", window)
	}
	return nil
}

// retryAfter keeps a denial's wait positive even when the window is about to end.
func retryAfter(d time.Duration) time.Duration {
	return max(d, time.Millisecond)
}
