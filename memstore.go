package otlogin

import (
	"context"
	"hash/maphash"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alexedwards/scs/v2"
)

// memShards is how many independently locked parts a MemoryStore has (a power of two). At a
// million sessions a part holds about 4,000, which one expiry step walks in well under a
// millisecond.
const memShards = 256

// memSweepEvery is about how long a whole expiry pass over a MemoryStore takes: commits
// walk one part at a time, at most one part every memSweepEvery/memShards.
const memSweepEvery = time.Minute

// MemoryStore is an in-process session store for scs: the one [New] uses when
// Config.SessionStore is nil, and the one package store's Open("memory") returns. It suits a
// single instance; sessions are lost on restart. It implements [scs.Store] and
// [scs.IterableStore] and [UpdateStore], and is safe for concurrent use.
//
// Sessions are spread over 256 parts by a hash of the token, each with its own lock, so a
// request only ever waits for work on its own part. It starts no goroutine: expired sessions
// are never found, and commits drop them incrementally, one part at a time, at most one part
// every 234 ms (a whole pass a minute), walking the part under its read lock and writing only
// to delete, so no request waits for a walk over the whole store and there is nothing to
// stop. scs's own memstore is not used because it runs a cleanup
// goroutine whose StopCleanup (scs v2.9.0) races with that goroutine (its stop channel is
// assigned inside it): a data race under -race, and a leaked goroutine when StopCleanup
// loses.
type MemoryStore struct {
	seed   maphash.Seed
	shards [memShards]memShard
	// nextSweep is when (unix nanoseconds) the next commit walks a part; sweepAt is the part.
	nextSweep atomic.Int64
	sweepAt   atomic.Uint32
	now       func() time.Time // nil: time.Now
}

// memShard is one part of a MemoryStore. Every read or write of items holds mu; code that
// must check and write atomically (for example "update only if the token still exists")
// locks the token's part with shard, checks and writes under mu.Lock.
type memShard struct {
	mu    sync.RWMutex
	items map[string]memItem
	_     [32]byte // a part per 64-byte cache line: parts' locks do not share one
}

type memItem struct {
	b      []byte
	expiry int64 // unix nanoseconds
}

var (
	_ scs.Store         = (*MemoryStore)(nil)
	_ scs.IterableStore = (*MemoryStore)(nil)
	_ UpdateStore       = (*MemoryStore)(nil)
)

// NewMemoryStore returns an empty [MemoryStore].
func NewMemoryStore() *MemoryStore {
	m := &MemoryStore{seed: maphash.MakeSeed()}
	for i := range m.shards {
		m.shards[i].items = make(map[string]memItem)
	}
	return m
}

// shard returns the part that holds token.
func (m *MemoryStore) shard(token string) *memShard {
	return &m.shards[maphash.String(m.seed, token)&(memShards-1)]
}

// unixNano is t in unix nanoseconds, saturated rather than wrapped outside 1678-2262.
func unixNano(t time.Time) int64 {
	const maxSec = math.MaxInt64/int64(time.Second) - 1
	switch s := t.Unix(); {
	case s > maxSec:
		return math.MaxInt64
	case s < -maxSec:
		return math.MinInt64
	}
	return t.UnixNano()
}

// Find returns the data of token. found is false when the token is unknown or expired.
func (m *MemoryStore) Find(token string) (b []byte, found bool, err error) {
	s := m.shard(token)
	s.mu.RLock()
	it, ok := s.items[token]
	s.mu.RUnlock()
	if !ok || m.nowNano() >= it.expiry {
		return nil, false, nil
	}
	return it.b, true, nil
}

// Commit stores b under token until expiry, replacing what was there; an expiry that is not
// in the future deletes the token. It may also drop the expired sessions of one part of the
// store (see [MemoryStore]).
func (m *MemoryStore) Commit(token string, b []byte, expiry time.Time) error {
	now := m.nowNano()
	exp := unixNano(expiry)
	s := m.shard(token)
	s.mu.Lock()
	if now < exp {
		s.items[token] = memItem{b: b, expiry: exp}
	} else {
		delete(s.items, token)
	}
	s.mu.Unlock()
	m.sweepStep(now)
	return nil
}

// sweepStep drops the expired sessions of the next part when a step is due, and claims the
// step so that concurrent commits do not repeat it. It walks the part under its read lock,
// so readers of the part go on meanwhile, and takes the write lock only to delete what it
// found expired (checked again: a commit may have renewed it).
func (m *MemoryStore) sweepStep(now int64) {
	next := m.nextSweep.Load()
	if now < next || !m.nextSweep.CompareAndSwap(next, now+int64(memSweepEvery/memShards)) {
		return
	}
	s := &m.shards[m.sweepAt.Add(1)&(memShards-1)]
	var expired []string
	s.mu.RLock()
	for k, it := range s.items {
		if now >= it.expiry {
			expired = append(expired, k)
		}
	}
	s.mu.RUnlock()
	if len(expired) == 0 {
		return
	}
	s.mu.Lock()
	for _, k := range expired {
		if it, ok := s.items[k]; ok && now >= it.expiry {
			delete(s.items, k)
		}
	}
	if len(expired) >= memRebuildAfter && len(expired) > 2*len(s.items) {
		// Go maps never shrink: after a flood expired, copy what is left into a new map so
		// the memory goes back (one part's live sessions, under its lock).
		fresh := make(map[string]memItem, len(s.items))
		for k, it := range s.items {
			fresh[k] = it
		}
		s.items = fresh
	}
	s.mu.Unlock()
}

// memRebuildAfter is how many expired sessions one sweep step of a part must drop before it
// rebuilds the part's map (see sweepStep).
const memRebuildAfter = 32

// nowNano is the store's clock (the now field, a test seam; time.Now when nil).
func (m *MemoryStore) nowNano() int64 {
	if m.now != nil {
		return m.now().UnixNano()
	}
	return time.Now().UnixNano()
}

// UpdateCtx replaces the data and expiry of token only if it exists and has not expired,
// under the store's lock, and reports whether it did ([UpdateStore]). An expiry that is not
// in the future deletes the token.
func (m *MemoryStore) UpdateCtx(ctx context.Context, token string, b []byte, expiry time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	now := m.nowNano()
	exp := unixNano(expiry)
	s := m.shard(token)
	s.mu.Lock()
	defer s.mu.Unlock()
	it, ok := s.items[token]
	if !ok || now >= it.expiry {
		return false, nil
	}
	if now < exp {
		s.items[token] = memItem{b: b, expiry: exp}
	} else {
		delete(s.items, token)
	}
	return true, nil
}

// Delete removes token; deleting an unknown token is not an error.
func (m *MemoryStore) Delete(token string) error {
	s := m.shard(token)
	s.mu.Lock()
	delete(s.items, token)
	s.mu.Unlock()
	return nil
}

// All returns every unexpired session, keyed by token ([scs.IterableStore]), and the
// records otlogin keeps in the store besides sessions (keys starting "otlogin-"), which
// sm.Iterate through a manager given to [New] as Config.Sessions leaves out. It reads one
// part at a time, so it is a consistent view of each part, not of the whole store at one
// instant.
func (m *MemoryStore) All() (map[string][]byte, error) {
	now := m.nowNano()
	out := make(map[string][]byte)
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.RLock()
		for k, it := range s.items {
			if now < it.expiry {
				out[k] = it.b
			}
		}
		s.mu.RUnlock()
	}
	return out, nil
}
