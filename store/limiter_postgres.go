package store

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// pgLimitSQL counts one event in a fixed window with a single atomic statement: the row of the
// key is created, or reset when its window has ended, or incremented. It returns the count in
// the window and the milliseconds left in it, computed by the database (one clock).
const pgLimitSQL = `
INSERT INTO otlogin_rate_limits AS r (key, count, window_end)
VALUES ($1, 1, now() + $2::bigint * interval '1 millisecond')
ON CONFLICT (key) DO UPDATE SET
	count = CASE WHEN r.window_end <= now() THEN 1 ELSE r.count + 1 END,
	window_end = CASE WHEN r.window_end <= now() THEN EXCLUDED.window_end ELSE r.window_end END
RETURNING count, CEIL(EXTRACT(EPOCH FROM (window_end - now())) * 1000)::bigint`

// pgSweepSQL deletes a bounded batch of rows whose window ended a while ago.
const pgSweepSQL = `
DELETE FROM otlogin_rate_limits WHERE key IN (
	SELECT key FROM otlogin_rate_limits WHERE window_end < now() - interval '1 minute' LIMIT 1000)`

// pgSweepEvery is how often, at most, Allow deletes old rows.
const pgSweepEvery = time.Minute

// PostgresLimiter is a fixed-window rate limiter shared through PostgreSQL (table
// otlogin_rate_limits), returned by [Store.Limiter] for PostgreSQL stores. Each Allow is
// one atomic statement; rows of ended windows are deleted lazily, at most once a minute, by the
// Allow call that finds the sweep due.
type PostgresLimiter struct {
	pool      *pgxpool.Pool
	lastSweep atomic.Int64 // unix nanoseconds
}

// Allow implements [otlogin.Limiter]. A limit below 1 or a window of zero or less is an error;
// errors, these and PostgreSQL's, are returned with allowed false.
func (l *PostgresLimiter) Allow(ctx context.Context, key string, limit int, window time.Duration) (bool, time.Duration, error) {
	if err := checkLimitArgs(limit, window); err != nil {
		return false, 0, err
	}
	var count, leftMS int64
	ms := max(window.Milliseconds(), 1)
	if err := l.pool.QueryRow(ctx, pgLimitSQL, key, ms).Scan(&count, &leftMS); err != nil {
		return false, 0, fmt.Errorf("store: postgres rate limit: %w", err)
	}
	l.maybeSweep(ctx)
	if count <= int64(limit) {
		return true, 0, nil
	}
	return false, retryAfter(time.Duration(leftMS) * time.Millisecond), nil
}

func (l *PostgresLimiter) maybeSweep(ctx context.Context) {
	now := time.Now().UnixNano()
	last := l.lastSweep.Load()
	if now-last < int64(pgSweepEvery) || !l.lastSweep.CompareAndSwap(last, now) {
		return
	}
	// Best effort: a failed sweep only leaves rows for the next one.
	_, _ = l.pool.Exec(ctx, pgSweepSQL)
}
