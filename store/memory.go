package store

import (
	"context"
	"sync"
	"time"
)

// memory is the in-process backend. It has scs memstore's semantics; it exists because
// memstore (scs v2.9.0) assigns its stop channel inside the cleanup goroutine, so StopCleanup
// races with it (a data race under -race, and a leaked goroutine when it loses), and a
// [Store] must be able to stop its goroutines in Close.
type memory struct {
	mu    sync.RWMutex
	items map[string]memItem
	stop  chan struct{}
	done  chan struct{}
}

type memItem struct {
	data   []byte
	expiry time.Time
}

func newMemory(cleanupInterval time.Duration) *memory {
	m := &memory{items: make(map[string]memItem), stop: make(chan struct{}), done: make(chan struct{})}
	go m.cleanup(cleanupInterval)
	return m
}

func (m *memory) cleanup(interval time.Duration) {
	defer close(m.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case now := <-t.C:
			m.mu.Lock()
			for k, it := range m.items {
				if !now.Before(it.expiry) {
					delete(m.items, k)
				}
			}
			m.mu.Unlock()
		}
	}
}

func (m *memory) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	m.mu.RLock()
	it, ok := m.items[token]
	m.mu.RUnlock()
	if !ok || !time.Now().Before(it.expiry) {
		return nil, false, nil
	}
	return it.data, true, nil
}

func (m *memory) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	if time.Now().Before(expiry) {
		m.items[token] = memItem{data: b, expiry: expiry}
	} else {
		delete(m.items, token)
	}
	m.mu.Unlock()
	return nil
}

func (m *memory) DeleteCtx(ctx context.Context, token string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	delete(m.items, token)
	m.mu.Unlock()
	return nil
}

func (m *memory) Close() error {
	close(m.stop)
	<-m.done
	return nil
}
