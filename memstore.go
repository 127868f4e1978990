package otlogin

import (
	"context"
	"sync"
	"time"

	"github.com/alexedwards/scs/v2"
)

// memSweepEvery is how often, at most, a commit walks the whole map to drop expired
// sessions.
const memSweepEvery = time.Minute

// MemoryStore is an in-process session store for scs: the one [New] uses when
// Config.SessionStore is nil, and the one package store's Open("memory") returns. It suits a
// single instance; sessions are lost on restart. It implements [scs.Store] and
// [scs.IterableStore] and [UpdateStore], and is safe for concurrent use.
//
// It starts no goroutine: expired sessions are never found, and a commit drops them all at
// most once a minute, so the cost stays amortised and there is nothing to stop. scs's own
// memstore is not used because it runs a cleanup goroutine whose StopCleanup (scs v2.9.0)
// races with that goroutine (its stop channel is assigned inside it): a data race under
// -race, and a leaked goroutine when StopCleanup loses.
type MemoryStore struct {
	mu        sync.RWMutex
	items     map[string]memItem
	lastSweep time.Time
	now       func() time.Time // nil: time.Now (tests set a clock)
}

type memItem struct {
	b      []byte
	expiry time.Time
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
// in the future deletes the token. At most once a minute it also drops every expired session.
func (m *MemoryStore) Commit(token string, b []byte, expiry time.Time) error {
	now := m.clock()
	m.mu.Lock()
	defer m.mu.Unlock()
	if now.Before(expiry) {
		m.items[token] = memItem{b: b, expiry: expiry}
	} else {
		delete(m.items, token)
	}
	if now.Sub(m.lastSweep) >= memSweepEvery {
		m.lastSweep = now
		before := len(m.items)
		for k, it := range m.items {
			if !now.Before(it.expiry) {
				delete(m.items, k)
			}
		}
		if len(m.items) < before/4 {
			// A Go map keeps its peak size: after a flood of short pre-login sessions has
			// expired, copy the rest into a fresh map to give the memory back.
			fresh := make(map[string]memItem, len(m.items))
			for k, it := range m.items {
				fresh[k] = it
			}
			m.items = fresh
		}
	}
	return nil
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
		m.items[token] = memItem{b: b, expiry: expiry}
	} else {
		delete(m.items, token)
	}
	return true, nil
}

// Delete removes token; deleting an unknown token is not an error.
func (m *MemoryStore) Delete(token string) error {
	m.mu.Lock()
	delete(m.items, token)
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
