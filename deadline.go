package otlogin

import (
	"context"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
)

// This file bounds otlogin's waits on its dependencies: every session-store and limiter
// call runs under Config.StoreTimeout (a store past it fails like a store that is down,
// and the request gets the 503 answer), and the Mosaic calls of one request share one
// deadline, Config.Timeout (see mosaicCtx).

// mosaicCtx bounds the Mosaic calls made for the request of ctx: the first call starts a
// budget of Config.Timeout and every later call of the same request (a send's create and
// send, an authenticate's code exchange and ID-token key fetch) gets what is left of it,
// so one request never waits on Mosaic longer than Config.Timeout in all. Clean-up calls
// that must run even when the budget is spent (revocations) use callCtx instead.
func (a *Auth) mosaicCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	st := stateFrom(ctx)
	if st == nil {
		return a.callCtx(ctx)
	}
	if st.mosaicDeadline.IsZero() {
		st.mosaicDeadline = time.Now().Add(a.cfg.Timeout)
	}
	return context.WithDeadline(ctx, st.mosaicDeadline)
}

// withStoreTimeout returns store wrapped so that each of its calls ends after timeout,
// and true; or store itself and false when it cannot stall (the in-process stores,
// [MemoryStore] and scs's memstore) or timeout is not positive. The wrapper keeps store's
// [UpdateStore] ability.
func withStoreTimeout(store scs.Store, timeout time.Duration) (scs.Store, bool) {
	if timeout <= 0 {
		return store, false
	}
	switch store.(type) {
	case *MemoryStore, *memstore.MemStore, *deadlineStore, *deadlineUpdateStore:
		return store, false
	}
	d := &deadlineStore{s: store, timeout: timeout}
	d.cs, _ = store.(scs.CtxStore)
	if us, ok := store.(UpdateStore); ok {
		return &deadlineUpdateStore{deadlineStore: d, us: us}, true
	}
	return d, true
}

// deadlineStore is a session store whose calls end after timeout with
// context.DeadlineExceeded. A store with context-aware methods ([scs.CtxStore]) gets a
// context with the deadline; the calls of one without them run in a goroutine that the
// caller stops waiting for at the deadline (the call itself finishes in the background).
type deadlineStore struct {
	s       scs.Store
	cs      scs.CtxStore // nil when s has no context-aware methods
	timeout time.Duration
}

// deadlineUpdateStore is a deadlineStore over a store that implements [UpdateStore].
type deadlineUpdateStore struct {
	*deadlineStore
	us UpdateStore
}

type findResult struct {
	b     []byte
	found bool
	err   error
}

// await runs f, returning its result, or ctx's error if ctx ends first.
func await[T any](ctx context.Context, zero T, f func() T) (T, error) {
	ch := make(chan T, 1)
	go func() { ch <- f() }()
	select {
	case v := <-ch:
		return v, nil
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

func (d *deadlineStore) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	if d.cs != nil {
		return d.cs.FindCtx(ctx, token)
	}
	r, err := await(ctx, findResult{}, func() findResult {
		b, found, err := d.s.Find(token)
		return findResult{b, found, err}
	})
	if err != nil {
		return nil, false, err
	}
	return r.b, r.found, r.err
}

func (d *deadlineStore) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	if d.cs != nil {
		return d.cs.CommitCtx(ctx, token, b, expiry)
	}
	err, werr := await(ctx, nil, func() error { return d.s.Commit(token, b, expiry) })
	if werr != nil {
		return werr
	}
	return err
}

func (d *deadlineStore) DeleteCtx(ctx context.Context, token string) error {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	if d.cs != nil {
		return d.cs.DeleteCtx(ctx, token)
	}
	err, werr := await(ctx, nil, func() error { return d.s.Delete(token) })
	if werr != nil {
		return werr
	}
	return err
}

func (d *deadlineStore) Find(token string) ([]byte, bool, error) {
	return d.FindCtx(context.Background(), token)
}

func (d *deadlineStore) Commit(token string, b []byte, expiry time.Time) error {
	return d.CommitCtx(context.Background(), token, b, expiry)
}

func (d *deadlineStore) Delete(token string) error {
	return d.DeleteCtx(context.Background(), token)
}

func (d *deadlineUpdateStore) UpdateCtx(ctx context.Context, token string, b []byte, expiry time.Time) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	return d.us.UpdateCtx(ctx, token, b, expiry)
}

// deadlineLimiter is a [Limiter] whose calls end after timeout with
// context.DeadlineExceeded.
type deadlineLimiter struct {
	l       Limiter
	timeout time.Duration
}

// withLimiterTimeout returns l bounded by timeout, or l itself when it cannot stall (the
// in-process [MemoryLimiter]) or timeout is not positive.
func withLimiterTimeout(l Limiter, timeout time.Duration) Limiter {
	if timeout <= 0 {
		return l
	}
	switch l.(type) {
	case *MemoryLimiter, *deadlineLimiter:
		return l
	}
	return &deadlineLimiter{l: l, timeout: timeout}
}

type allowResult struct {
	ok    bool
	retry time.Duration
	err   error
}

// Allow runs the limiter's Allow with a context that ends after timeout, and stops
// waiting for it then even if the limiter ignores its context.
func (d *deadlineLimiter) Allow(ctx context.Context, key string, limit int, window time.Duration) (bool, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	r, err := await(ctx, allowResult{}, func() allowResult {
		ok, retry, err := d.l.Allow(ctx, key, limit, window)
		return allowResult{ok, retry, err}
	})
	if err != nil {
		return false, 0, err
	}
	return r.ok, r.retry, r.err
}
