package otlogin

import (
	"context"
	"time"
)

// Limiter counts events per key in fixed windows. Implementations must be atomic: however many
// requests call Allow at once, no more than limit of them are allowed in one window.
// The in-memory implementation is [NewMemoryLimiter]; package store provides Redis- and
// PostgreSQL-backed ones shared by every instance of an app.
type Limiter interface {
	// Allow records one event under key and reports whether it is within limit events per
	// window. When it is not, retryAfter is the time until the window resets.
	Allow(ctx context.Context, key string, limit int, window time.Duration) (allowed bool, retryAfter time.Duration, err error)
}

// LimiterProvider is implemented by session stores that can also count rate limits for every
// instance of an app (package store's Redis and PostgreSQL stores). [New] uses the store's
// limiter when Config.Limiter is nil.
type LimiterProvider interface {
	Limiter() Limiter
}
