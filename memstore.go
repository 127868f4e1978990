package otlogin

import (
	"context"
	"sync"
	"time"

	"github.com/alexedwards/scs/v2"
)

// memSweepStep is how many sessions one step of the expiry sweep looks at under the lock.
// Each commit takes one step; a commit whose step found mostly expired sessions (a flood's
// pre-login sessions ending) takes further steps, releasing the lock between them.
const memSweepStep = 64

// MemoryStore is an in-process session store for scs: the one [New] uses when
// Config.SessionStore is nil, and the one package store's Open("memory") returns. It suits a
// single instance; sessions are lost on restart. It implements [scs.Store] and
// [scs.IterableStore] and [UpdateStore], and is safe for concurrent use.
//
// It starts no goroutine: expired sessions are never found, and each commit checks a few
// sessions (a sweep hand going round all of them) and drops the expired ones, so the lock is
// never held for a walk of every session; after a flood the map is rebuilt at its live size
// to give the memory back. scs's own memstore is not used because it runs a cleanup
// goroutine whose StopCleanup (scs v2.9.0) races with that goroutine (its stop channel is
// assigned inside it): a data race under -race, and a leaked goroutine when StopCleanup
// loses.
type MemoryStore struct {
	mu       sync.RWMutex
	items    map[string]memItem
	order    []memSlot        // every token of items, in no order; items[t].idx is t's index
	hand     int              // the next index the sweep looks at
	peak     int              // largest len(items) since the map was last rebuilt
	sweeping bool             // a commit is taking extra sweep steps
	now      func() time.Time // nil: time.Now (tests set a clock)
}

// memSlot is a token and its expiry, kept in a slice so the sweep reads memory in order
// instead of looking each token up in the map.
type memSlot struct {
	token  string
	expiry int64 // Unix nanoseconds
}

type memItem struct {
	b      []byte
	expiry time.Time
	idx    int // index of the token in order
}

var (
	_ scs.Store         = (*MemoryStore)(nil)
	_ scs.IterableStore = (*MemoryStore)(nil)
	_ UpdateStore       = (*MemoryStore)(nil)
)

// NewMemoryStore returns an empty [MemoryStore].
func NewMemoryStore() *MemoryStore { return &MemoryStore{items: make(map[string]memItem)} }

func (m *MemoryStore) clock() time.Time {
	if m.now != nil {
		return m.now()
	}
	return time.Now()
}

// Find returns the data of token. found is false when the token is unknown or expired.
func (m *MemoryStore) Find(token string) (b []byte, found bool, err error) {
	m.mu.RLock()
	it, ok := m.items[token]
	m.mu.RUnlock()
	if !ok || !m.clock().Before(it.expiry) {
		return nil, false, nil
	}
	return it.b, true, nil
}

// Commit stores b under token until expiry, replacing what was there; an expiry that is not
// in the future deletes the token. It also takes a step of the expiry sweep.
func (m *MemoryStore) Commit(token string, b []byte, expiry time.Time) error {
	now := m.clock()
	m.mu.Lock()
	if now.Before(expiry) {
		m.setLocked(token, b, expiry)
	} else {
		m.removeLocked(token)
	}
	more := m.sweepStepLocked(now)
	if !more || m.sweeping {
		m.mu.Unlock()
		return nil
	}
	m.sweeping = true
	m.mu.Unlock()
	for more {
		m.mu.Lock()
		more = m.sweepStepLocked(now)
		m.sweeping = more
		m.mu.Unlock()
	}
	return nil
}

// setLocked stores token. m.mu must be held.
func (m *MemoryStore) setLocked(token string, b []byte, expiry time.Time) {
	if it, ok := m.items[token]; ok {
		m.items[token] = memItem{b: b, expiry: expiry, idx: it.idx}
		m.order[it.idx].expiry = expiry.UnixNano()
		return
	}
	m.items[token] = memItem{b: b, expiry: expiry, idx: len(m.order)}
	m.order = append(m.order, memSlot{token: token, expiry: expiry.UnixNano()})
	m.peak = max(m.peak, len(m.items))
}

// removeLocked deletes token, moving the last token of order into its place. m.mu must be
// held.
func (m *MemoryStore) removeLocked(token string) {
	it, ok := m.items[token]
	if !ok {
		return
	}
	last := len(m.order) - 1
	if it.idx != last {
		moved := m.order[last]
		m.order[it.idx] = moved
		mi := m.items[moved.token]
		mi.idx = it.idx
		m.items[moved.token] = mi
	}
	m.order[last] = memSlot{}
	m.order = m.order[:last]
	delete(m.items, token)
}

// sweepStepLocked looks at up to memSweepStep sessions from the hand on and drops the
// expired ones; it reports whether most of them were expired (more are likely). When the
// store holds a small part of its peak, it rebuilds the map and the order at their live
// size. m.mu must be held.
func (m *MemoryStore) sweepStepLocked(now time.Time) (more bool) {
	expired, n := 0, now.UnixNano()
	for range min(memSweepStep, len(m.order)) {
		if len(m.order) == 0 {
			break
		}
		if m.hand >= len(m.order) {
			m.hand = 0
		}
		if slot := m.order[m.hand]; n >= slot.expiry {
			m.removeLocked(slot.token) // the last token moves to the hand: look at it next
			expired++
			continue
		}
		m.hand++
	}
	if m.peak >= 4096 && len(m.items) <= m.peak/8 {
		// A Go map keeps its peak size: after a flood of short pre-login sessions has
		// expired, copy the rest into a fresh map to give the memory back.
		fresh := make(map[string]memItem, len(m.items))
		order := make([]memSlot, 0, len(m.items))
		for _, slot := range m.order {
			it := m.items[slot.token]
			it.idx = len(order)
			fresh[slot.token] = it
			order = append(order, slot)
		}
		m.items, m.order, m.hand, m.peak = fresh, order, 0, len(fresh)
	}
	return expired > memSweepStep/2
}

// UpdateCtx replaces the data and expiry of token only if it exists and has not expired,
// under the store's lock, and reports whether it did ([UpdateStore]). An expiry that is not
// in the future deletes the token.
func (m *MemoryStore) UpdateCtx(ctx context.Context, token string, b []byte, expiry time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	now := m.clock()
	m.mu.Lock()
	defer m.mu.Unlock()
	it, ok := m.items[token]
	if !ok || !now.Before(it.expiry) {
		return false, nil
	}
	if now.Before(expiry) {
		m.setLocked(token, b, expiry)
	} else {
		m.removeLocked(token)
	}
	return true, nil
}

// Delete removes token; deleting an unknown token is not an error.
func (m *MemoryStore) Delete(token string) error {
	m.mu.Lock()
	m.removeLocked(token)
	m.mu.Unlock()
	return nil
}

// All returns every unexpired session, keyed by token ([scs.IterableStore]).
func (m *MemoryStore) All() (map[string][]byte, error) {
	now := m.clock()
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make(map[string][]byte, len(m.items))
	for k, it := range m.items {
		if now.Before(it.expiry) {
			out[k] = it.b
		}
	}
	return out, nil
}
