package otlogin

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Limiter counts events per key in fixed windows. Implementations must be atomic: however many
// requests call Allow at once, no more than limit of them are allowed in one window.
// The in-memory implementation is [NewMemoryLimiter]; package store provides Redis- and
// PostgreSQL-backed ones shared by every instance of an app.
type Limiter interface {
	// Allow records one event under key and reports whether it is within limit events per
	// window. When it is not, retryAfter is the time until the window resets.
	//
	// A limit below 1 or a window of zero or less is an error, with allowed false: an
	// implementation fails closed rather than reading such arguments as "no limit". otlogin
	// never makes such calls (a Rate with a negative N is skipped before Allow). Any other
	// error also comes with allowed false, and otlogin then refuses the request (503).
	Allow(ctx context.Context, key string, limit int, window time.Duration) (allowed bool, retryAfter time.Duration, err error)
}

// LimiterProvider is implemented by session stores that can also count rate limits for every
// instance of an app (package store's Redis and PostgreSQL stores). [New] uses the store's
// limiter when Config.Limiter is nil. A provider whose Limiter returns nil declares that its
// sessions stay in this process (package store's memory store), so an in-memory limiter
// counts them all; New refuses any other store that brings no limiter, unless
// Config.Limiter or Config.AllowLocalLimits is set.
type LimiterProvider interface {
	Limiter() Limiter
}

// memoryLimiterSweepEvery is how often, at most, [MemoryLimiter] walks all its windows to drop
// expired ones; it also sweeps whenever the number of windows has doubled since the last sweep.
const memoryLimiterSweepEvery = time.Minute

// memoryLimiterMinSweepSize is the map size below which only the time-based sweep runs.
const memoryLimiterMinSweepSize = 1024

// MemoryLimiter is a [Limiter] that keeps fixed windows in process memory. It suits an app
// running on one machine; apps on several machines need a shared limiter (package store).
// Expired windows are dropped lazily by amortised sweeps; it starts no goroutine. The zero
// value is ready to use, like the result of [NewMemoryLimiter].
type MemoryLimiter struct {
	// Now returns the current time. Tests may set it before the first call to Allow.
	// Default: time.Now.
	Now func() time.Time

	mu        sync.Mutex
	windows   map[string]memoryLimiterWindow
	nextSweep time.Time
	sweepSize int // sweep when len(windows) reaches this
}

type memoryLimiterWindow struct {
	start, reset time.Time
	count        int
}

// NewMemoryLimiter returns an empty in-memory limiter.
func NewMemoryLimiter() *MemoryLimiter {
	return &MemoryLimiter{Now: time.Now, windows: make(map[string]memoryLimiterWindow)}
}

// Allow implements [Limiter]. A limit below 1 or a window of zero or less is an error (with
// allowed false), never "no limit". Each key has a fixed window that starts with its first
// event; when the window is full, retryAfter is the time until it resets, at least one
// second. Denied events are not counted. As with any fixed window, up to 2×limit events can
// pass around a window boundary.
func (l *MemoryLimiter) Allow(_ context.Context, key string, limit int, window time.Duration) (bool, time.Duration, error) {
	if limit < 1 {
		return false, 0, fmt.Errorf("otlogin: rate limit must be at least 1, got %d", limit)
	}
	if window <= 0 {
		return false, 0, fmt.Errorf("otlogin: rate limit window must be positive, got %s", window)
	}
	now := time.Now()
	if l.Now != nil {
		now = l.Now()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.windows == nil {
		l.windows = make(map[string]memoryLimiterWindow)
	}
	l.memoryLimiterMaybeSweep(now)
	w, ok := l.windows[key]
	if !ok || !now.Before(w.reset) || now.Before(w.start) {
		w = memoryLimiterWindow{start: now, reset: now.Add(window)}
	}
	if w.count >= limit {
		return false, max(w.reset.Sub(now), time.Second), nil
	}
	w.count++
	l.windows[key] = w
	return true, 0, nil
}

// memoryLimiterMaybeSweep drops expired windows once a minute, or sooner when the map has
// doubled since the last sweep, so the cost stays amortised O(1) per call and memory follows
// the number of live windows.
func (l *MemoryLimiter) memoryLimiterMaybeSweep(now time.Time) {
	if now.Before(l.nextSweep) && len(l.windows) < max(l.sweepSize, memoryLimiterMinSweepSize) {
		return
	}
	before := len(l.windows)
	for k, w := range l.windows {
		if !now.Before(w.reset) || now.Before(w.start) {
			delete(l.windows, k)
		}
	}
	if len(l.windows) < before/4 {
		// A Go map keeps its peak capacity; copy into a fresh one to give memory back.
		fresh := make(map[string]memoryLimiterWindow, len(l.windows))
		for k, w := range l.windows {
			fresh[k] = w
		}
		l.windows = fresh
	}
	l.nextSweep = now.Add(memoryLimiterSweepEvery)
	l.sweepSize = max(2*len(l.windows), memoryLimiterMinSweepSize)
}
