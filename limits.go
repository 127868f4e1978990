package otlogin

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
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

// defaultMemoryLimiterMaxKeys is the number of windows a [MemoryLimiter] keeps when its
// MaxKeys is zero: about 15 MB.
const defaultMemoryLimiterMaxKeys = 100_000

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
	// Default: 100,000 (about 15 MB).
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
		maxKeys = defaultMemoryLimiterMaxKeys
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

// allow checks one rate limit; a limiter failure fails closed (503).
func (a *Auth) allow(ctx context.Context, key string, r Rate) *Error {
	if r.N < 0 {
		return nil
	}
	ok, retry, err := a.limiter.Allow(ctx, "otlogin:"+key, r.N, r.Per)
	if err != nil {
		return errUnavailable(err)
	}
	if !ok {
		return errRateLimited(retry)
	}
	return nil
}

// checkSendLimits applies, in this order, the SMS country allow-list, the per-IP send
// limit, the per-identifier (per mailbox: see identifierRateKey) send limit from this client
// network, the absolute per-identifier send limit, and for SMS this client network's SMS
// budget, the budget of the number's country and the global SMS budget. Mosaic is not called when one refuses.
func (a *Auth) checkSendLimits(r *http.Request, f *flow) *Error {
	ctx, identifier, channel := r.Context(), f.Identifier, f.Channel
	if channel == channelSMS && len(a.smsCodes) > 0 {
		ok := false
		for _, c := range a.smsCodes {
			if strings.HasPrefix(identifier[1:], c) {
				ok = true
				break
			}
		}
		if !ok {
			return newError(http.StatusBadRequest, "sms_country_not_allowed",
				"We can't send text messages to that country. Use email instead.")
		}
	}
	// Each limit is checked only after the narrower ones passed, so a request refused by the
	// sender's own limits (per IP, then per address from this network) never spends the
	// address's absolute budget: an attacker on one network cannot lock a victim out, and
	// the victim's own network keeps its own budget for the address.
	cnet := a.clientNet(r)
	if e := a.allow(ctx, "send:ip:"+a.limitKey(cnet), a.cfg.Limits.SendsPerIP); e != nil {
		return e
	}
	idKey := identifierRateKey(identifier)
	if e := a.allow(ctx, "send:idnet:"+a.limitKey(idKey+"\x00"+cnet), a.cfg.Limits.SendsPerIdentifier); e != nil {
		return e
	}
	if e := a.allow(ctx, "send:id:"+a.limitKey(idKey), a.cfg.Limits.SendsPerIdentifierTotal); e != nil {
		return e
	}
	if channel != channelSMS {
		return nil
	}
	// SMS budgets, narrowest first: this client network's, the number's country's, the app's.
	if n := a.cfg.Limits.SMSPerIPPerHour; n > 0 {
		if e := a.allow(ctx, "sms:net:"+a.limitKey(cnet), Rate{N: n, Per: time.Hour}); e != nil {
			return smsPaused(e)
		}
	}
	if e := a.checkSMSCountryBudget(r, f.country); e != nil {
		return e // its own message: that country is paused, other numbers and email work
	}
	if a.cfg.Limits.SMSPerHour > 0 {
		if e := a.allow(ctx, "sms:global", Rate{N: a.cfg.Limits.SMSPerHour, Per: time.Hour}); e != nil {
			return smsPaused(e)
		}
	}
	return nil
}

// smsPaused words a refused SMS budget for the person: texts are paused for a while (often
// an hour), and email still works.
func smsPaused(e *Error) *Error {
	if e.Status == http.StatusTooManyRequests {
		e.Message = msgSMSPaused
	}
	return e
}

// limitPreLogin gives a session that holds nothing but a pending flow the lifetime of that
// flow (a new flow sets it again), so what an anonymous visitor's send stores lives minutes,
// not SessionLifetime, and marks it (keyPreLogin) as holding such a deadline. A sign-in
// renews the token, which gives the full lifetime; a session holding anything else (a
// signed-in state, the app's own values) keeps its deadline, and one that comes to hold
// something else later gets the full lifetime back (see endPreLogin).
func (a *Auth) limitPreLogin(ctx context.Context, f *flow) {
	for _, k := range a.sm.Keys(ctx) {
		if !preLoginKey(k) {
			return
		}
	}
	a.sm.Put(ctx, keyPreLogin, true)
	// Stores and cookies count in wall-clock time; the flow in Config.Now's.
	a.sm.SetDeadline(ctx, time.Now().Add(time.Unix(f.Expires, 0).Sub(a.cfg.Now())).UTC())
}

// preLoginKey reports whether k is one of the keys a pre-login session holds (the pending
// flow and limitPreLogin's mark); any other key makes it a session to keep.
func preLoginKey(k string) bool { return k == keyFlow || k == keyPreLogin }

// endPreLogin runs before every save of a changed session (see sessionWriter.commit). A
// session that limitPreLogin gave its flow's deadline and that now holds something besides
// the flow (the app's sm.Put after the send, a sign-in) gets the full SessionLifetime from
// now, as a new session would, and loses the mark: values the app stores must not expire
// with a pending flow, nor a later send shorten their session again. Sessions without the
// mark (every signed-in one) cost a single lookup.
//
// It also runs when Middleware loads an anonymous session that holds the mark and such a
// value (see Auth.begin; with Codec, scanSession tells it without decoding): the value was
// saved outside Middleware (an sm.LoadAndSave beside it, a background job's sm.Commit),
// which keeps the flow's deadline and cookie. The request then saves the session with the
// full lifetime and sets the cookie again, so the value outlives the flow as long as the
// browser comes back through Middleware before the flow's deadline (the cookie set by the
// send, or by the save beside, ends then). Such saves get the full deadline in the store
// too (see guardStore.commitOutside).
func (a *Auth) endPreLogin(ctx context.Context) {
	if !a.sm.Exists(ctx, keyPreLogin) {
		return
	}
	for _, k := range a.sm.Keys(ctx) {
		if !preLoginKey(k) {
			a.sm.Remove(ctx, keyPreLogin)
			a.sm.SetDeadline(ctx, time.Now().Add(a.sm.Lifetime).UTC())
			return
		}
	}
}

// limitKey names an identifier, client IP or code in rate-limit keys; it is never the raw
// value. Counts are shared through the session store, so every instance of an app must name
// a value the same way: with Config.HashKey it is an HMAC under that key (not reversible with
// a dictionary of addresses), else an unkeyed SHA-256 (unlike hashID's per-process key).
func (a *Auth) limitKey(s string) string {
	const domain = "otlogin-limit\x00"
	var sum []byte
	if a.hashKey != nil {
		m := hmac.New(sha256.New, a.hashKey)
		m.Write([]byte(domain))
		m.Write([]byte(s))
		sum = m.Sum(nil)
	} else {
		h := sha256.Sum256([]byte(domain + s))
		sum = h[:]
	}
	return hex.EncodeToString(sum[:16])
}

// checkCrossDeviceRedeem spends one of the client network's redeems of a link without a
// matching flow (Limits.RedeemsPerIP; IPv6: per /64).
func (a *Auth) checkCrossDeviceRedeem(r *http.Request) *Error {
	return a.allow(r.Context(), "redeem:ip:"+a.limitKey(a.clientNet(r)), a.cfg.Limits.RedeemsPerIP)
}

// claimOnce is a single-use claim shared by all instances (through the limiter): first is
// true for the one caller that claims key within ttl, false for every later claim. A
// limiter failure is returned as err, and the caller fails closed.
func (a *Auth) claimOnce(ctx context.Context, key string, ttl time.Duration) (first bool, err error) {
	first, _, err = a.limiter.Allow(ctx, key, 1, ttl)
	return first, err
}

// checkSMSCountryBudget spends one SMS of the budget of country, the number's (see
// normalizePhone; Limits.SMSPerCountryPerHour), so pumping one country cannot use up the
// app's SMS budget.
func (a *Auth) checkSMSCountryBudget(r *http.Request, country string) *Error {
	n := a.cfg.Limits.SMSPerCountryPerHour
	if n <= 0 {
		return nil
	}
	e := a.allow(r.Context(), "sms:country:"+country, Rate{N: n, Per: time.Hour})
	if e != nil && e.Status == http.StatusTooManyRequests {
		e.Message = "We can't send more text messages to that country right now. Try again later, or use email."
	}
	return e
}
