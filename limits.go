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

// DefaultMemoryLimiterMaxKeys is the number of windows a [MemoryLimiter] keeps when its
// MaxKeys is zero: about 15 MB.
const DefaultMemoryLimiterMaxKeys = 100_000

// memoryLimiterSweepStep is how many queued windows one step of the expiry sweep looks at
// while holding the lock; a caller that finds more expired windows takes further steps,
// releasing the lock between them, so other callers wait at most one step.
const memoryLimiterSweepStep = 256

// MemoryLimiter is a [Limiter] that keeps fixed windows in process memory. It suits an app
// running on one machine; apps on several machines need a shared limiter (package store).
//
// Its memory is bounded: it holds at most MaxKeys windows, and when a new key would exceed
// that it forgets the window that counted least (closest to its reset among equals), so a
// flood of one-off keys cannot push out a spent budget. Forgetting a live window lets that
// key start afresh, so size MaxKeys above the number of
// keys your busiest window needs (a send uses three: client IP, address from that network,
// address in all). Expired windows are dropped in small steps as calls arrive, oldest
// first, never with a walk of all windows under the lock; once most are gone the map is
// rebuilt at its live size so the memory goes back. It starts no goroutine. The zero value
// is ready to use, like the result of [NewMemoryLimiter].
type MemoryLimiter struct {
	// Now returns the current time. Tests may set it before the first call to Allow.
	// Default: time.Now.
	Now func() time.Time
	// MaxKeys caps the number of windows kept. Set it before the first call to Allow.
	// Default: DefaultMemoryLimiterMaxKeys.
	MaxKeys int

	mu      sync.Mutex
	windows map[string]memoryLimiterWindow
	// queues holds, per window length, the keys in the order their windows started, which
	// for one length is also the order they reset. An entry whose key has since started a
	// newer window (or was dropped) is stale and skipped.
	queues   map[time.Duration]*memoryLimiterQueue
	peak     int  // largest len(windows) since the map was last rebuilt
	sweeping bool // a caller is taking sweep steps
}

type memoryLimiterWindow struct {
	start, reset int64 // Unix nanoseconds
	count        int
}

type memoryLimiterEntry struct {
	key   string
	start int64
}

// memoryLimiterQueue is a FIFO of window starts.
type memoryLimiterQueue struct {
	items []memoryLimiterEntry
	head  int
}

func (q *memoryLimiterQueue) len() int { return len(q.items) - q.head }

func (q *memoryLimiterQueue) front() memoryLimiterEntry { return q.items[q.head] }

func (q *memoryLimiterQueue) pop() {
	q.items[q.head] = memoryLimiterEntry{}
	q.head++
	switch {
	case q.head == len(q.items):
		q.items, q.head = nil, 0
	case q.head >= 1024 && q.head*2 >= len(q.items):
		// Move the live half down so the array does not keep the dropped half.
		q.items = append([]memoryLimiterEntry(nil), q.items[q.head:]...)
		q.head = 0
	}
}

// NewMemoryLimiter returns an empty in-memory limiter.
func NewMemoryLimiter() *MemoryLimiter {
	return &MemoryLimiter{Now: time.Now}
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
	n := now.UnixNano()
	l.mu.Lock()
	if l.windows == nil {
		l.windows = make(map[string]memoryLimiterWindow)
		l.queues = make(map[time.Duration]*memoryLimiterQueue)
	}
	more := l.sweepStep(n)
	w, ok := l.windows[key]
	if !ok || n >= w.reset || n < w.start {
		if !ok {
			l.makeRoom()
		}
		w = memoryLimiterWindow{start: n, reset: now.Add(window).UnixNano()}
		q := l.queues[window]
		if q == nil {
			q = &memoryLimiterQueue{}
			l.queues[window] = q
		}
		q.items = append(q.items, memoryLimiterEntry{key: key, start: n})
	}
	if w.count >= limit {
		l.windows[key] = w
		l.mu.Unlock()
		return false, max(time.Duration(w.reset-n), time.Second), nil
	}
	w.count++
	l.windows[key] = w
	l.peak = max(l.peak, len(l.windows))
	if more && !l.sweeping {
		// Many windows expired at once (a flood's window ended): this caller drops them in
		// steps, letting other callers in between.
		l.sweeping = true
		l.mu.Unlock()
		for {
			l.mu.Lock()
			more = l.sweepStep(n)
			if !more {
				l.sweeping = false
				l.mu.Unlock()
				break
			}
			l.mu.Unlock()
		}
		return true, 0, nil
	}
	l.mu.Unlock()
	return true, 0, nil
}

// sweepStep drops up to memoryLimiterSweepStep expired or stale queue entries (and their
// expired windows), and rebuilds the map once it holds a small part of its peak. It reports
// whether expired entries may remain. l.mu must be held.
func (l *MemoryLimiter) sweepStep(now int64) (more bool) {
	budget := memoryLimiterSweepStep
	for _, q := range l.queues {
		for budget > 0 && q.len() > 0 {
			e := q.front()
			w, ok := l.windows[e.key]
			if ok && w.start == e.start {
				if now < w.reset && now >= w.start {
					break // the oldest live window of this length: the rest are newer
				}
				delete(l.windows, e.key)
			}
			q.pop()
			budget--
		}
		if budget == 0 {
			more = true
			break
		}
	}
	for d, q := range l.queues {
		if q.len() == 0 {
			delete(l.queues, d)
		}
	}
	if l.peak >= 4096 && len(l.windows) <= l.peak/8 {
		// A Go map keeps its peak size; copy the live windows (found through the queues,
		// not by walking the big map) into a fresh one to give the memory back.
		fresh := make(map[string]memoryLimiterWindow, len(l.windows))
		for _, q := range l.queues {
			for _, e := range q.items[q.head:] {
				if w, ok := l.windows[e.key]; ok && w.start == e.start {
					fresh[e.key] = w
				}
			}
		}
		l.windows = fresh
		l.peak = len(fresh)
	}
	return more
}

// makeRoom forgets windows until there is room for one more. It forgets the window that
// counted least, the one closest to its reset among equals, looking at the oldest
// memoryLimiterEvictScan live windows of each window length. Forgetting a window that counted
// one event forgets that event only, so a flood of one-off keys (each new client or address
// makes some) cannot make the limiter forget a budget that was spent, such as the app's SMS
// budget or an attacker's own per-IP window: to push those out, every candidate would have to
// count at least as much. A forgotten window's queue entry goes stale and sweepStep drops it.
// l.mu must be held.
func (l *MemoryLimiter) makeRoom() {
	maxKeys := l.MaxKeys
	if maxKeys <= 0 {
		maxKeys = DefaultMemoryLimiterMaxKeys
	}
	for len(l.windows) >= maxKeys {
		victim, found := "", false
		var least memoryLimiterWindow
		for _, q := range l.queues {
			// Stale entries at the front go; then look at the oldest live windows.
			for q.len() > 0 {
				e := q.front()
				if w, ok := l.windows[e.key]; ok && w.start == e.start {
					break
				}
				q.pop()
			}
			seen := 0
			for i := q.head; i < len(q.items) && seen < memoryLimiterEvictScan; i++ {
				e := q.items[i]
				w, ok := l.windows[e.key]
				if !ok || w.start != e.start {
					continue
				}
				seen++
				if !found || w.count < least.count || (w.count == least.count && w.reset < least.reset) {
					victim, least, found = e.key, w, true
				}
			}
		}
		if !found {
			return // every window is queued, so this cannot happen; never loop forever
		}
		delete(l.windows, victim)
	}
}

// memoryLimiterEvictScan is how many of the oldest live windows of each window length
// makeRoom compares when the limiter is full.
const memoryLimiterEvictScan = 64
