package otlogin

import (
	"sync"
	"time"
)

// memSweepEvery is how often, at most, a commit walks the whole map to drop expired
// sessions.
const memSweepEvery = time.Minute

// memStore is the default session store: an in-memory map with amortised cleanup on
// commit, so it needs no background goroutine. It implements scs.Store and
// scs.IterableStore.
type memStore struct {
	mu        sync.RWMutex
	items     map[string]memItem
	lastSweep time.Time
}

type memItem struct {
	b      []byte
	expiry time.Time
}

func newMemStore() *memStore { return &memStore{items: make(map[string]memItem)} }

// Find returns the data of an unexpired token.
func (m *memStore) Find(token string) ([]byte, bool, error) {
	m.mu.RLock()
	it, ok := m.items[token]
	m.mu.RUnlock()
	if !ok || !time.Now().Before(it.expiry) {
		return nil, false, nil
	}
	return it.b, true, nil
}

// Commit stores b under token until expiry, sweeping expired entries now and then.
func (m *memStore) Commit(token string, b []byte, expiry time.Time) error {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.items[token] = memItem{b: b, expiry: expiry}
	if now.Sub(m.lastSweep) >= memSweepEvery {
		m.lastSweep = now
		for k, it := range m.items {
			if !now.Before(it.expiry) {
				delete(m.items, k)
			}
		}
	}
	return nil
}

// Delete removes token.
func (m *memStore) Delete(token string) error {
	m.mu.Lock()
	delete(m.items, token)
	m.mu.Unlock()
	return nil
}

// All returns every unexpired session (scs.IterableStore).
func (m *memStore) All() (map[string][]byte, error) {
	now := time.Now()
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
