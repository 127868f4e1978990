package otlogin

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin/internal/apptest/safe"
)

// assertOwnCopy checks what New did with the app's manager app: otlogin works on a copy
// of it that shares its session (same cookie and context key) over the store without the
// guard, and the app's manager saves through the guard of a.
func assertOwnCopy(t *testing.T, app *scs.SessionManager, a *Auth) {
	t.Helper()
	assert.NotSame(t, app, a.sm, "otlogin works on its own copy")
	g, ok := app.Store.(guarded)
	require.True(t, ok, "the app's manager saves through the guard, not %T", app.Store)
	assert.Same(t, a.stack.guard, g.base())
	_, own := a.sm.Store.(guarded)
	assert.False(t, own, "otlogin's copy does not save through the guard")
	assert.Equal(t, app.Cookie, a.sm.Cookie)
	ctx, err := a.sm.Load(context.Background(), "")
	require.NoError(t, err)
	app.Put(ctx, "k", "v") // scs panics if the context keys differ
	assert.Equal(t, "v", a.sm.GetString(ctx, "k"), "one session for both")
}

// TestGuardKeepsStoreAbilities: the guard in front of the app's store has the optional
// abilities of that store, no more: the atomic update and the limiter a type assertion looks
// for, and iteration for sm.Iterate; the context-aware methods always.
func TestGuardKeepsStoreAbilities(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name             string
		store            scs.Store
		update, limiter  bool
		iterates, hasCtx bool
	}{
		{"MemoryStore", NewMemoryStore(), true, false, true, false},
		{"update, no iteration", newCountingStore(), true, false, false, false},
		{"neither", plainStore{newCountingStore()}, false, false, false, false},
		{"limiter", limiterOnly{networkStore{NewMemoryStore()}}, false, true, false, false},
		{"update and limiter", providerStore{NewMemoryStore()}, true, true, true, false},
		{"context-aware", ctxOnly{NewMemoryStore(), new(atomic.Int64)}, false, false, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := withIteration(newGuard(tc.store, Codec{}))
			_, update := g.(UpdateStore)
			_, limiter := g.(LimiterProvider)
			assert.Equal(t, tc.update, update, "UpdateStore")
			assert.Equal(t, tc.limiter, limiter, "LimiterProvider")
			assert.True(t, unguarded(g) == tc.store, "unguarded finds the store")
			if limiter {
				assert.NotNil(t, g.(LimiterProvider).Limiter())
			}

			ctx := context.Background()
			exp := time.Now().Add(time.Hour)
			require.NoError(t, g.CommitCtx(ctx, "tok", []byte("data"), exp), "no request: the save goes through")
			b, found, err := g.FindCtx(ctx, "tok")
			require.NoError(t, err)
			assert.True(t, found)
			assert.Equal(t, "data", string(b))
			if update {
				ok, err := g.(UpdateStore).UpdateCtx(ctx, "tok", []byte("new"), exp)
				require.NoError(t, err)
				assert.True(t, ok)
			}
			is, iterates := g.(scs.IterableCtxStore)
			_, iteratesNoCtx := g.(scs.IterableStore)
			assert.Equal(t, tc.iterates, iterates, "IterableCtxStore")
			assert.Equal(t, tc.iterates, iteratesNoCtx, "IterableStore")
			if iterates {
				all, err := is.AllCtx(ctx)
				require.NoError(t, err)
				assert.Len(t, all, 1)
			}
			require.NoError(t, g.DeleteCtx(ctx, "tok"))
			_, found, err = g.FindCtx(ctx, "tok")
			require.NoError(t, err)
			assert.False(t, found)
			if cs, ok := tc.store.(ctxOnly); ok {
				// DeleteCtx reads the session first (deleteThrough): 5 context-aware calls.
				assert.Equal(t, int64(5), cs.calls.Load(), "CommitCtx, FindCtx and DeleteCtx reached the store's own")
			}
		})
	}
}

// limiterOnly is a store that brings a limiter but no atomic update.
type limiterOnly struct{ networkStore }

func (limiterOnly) Limiter() Limiter { return NewMemoryLimiter() }

// ctxOnly is a context-aware store that counts its context-aware calls.
type ctxOnly struct {
	m     *MemoryStore
	calls *atomic.Int64
}

func (s ctxOnly) Find(string) ([]byte, bool, error)      { return nil, false, errors.New("Find") }
func (s ctxOnly) Commit(string, []byte, time.Time) error { return errors.New("Commit") }
func (s ctxOnly) Delete(string) error                    { return errors.New("Delete") }
func (s ctxOnly) FindCtx(_ context.Context, token string) ([]byte, bool, error) {
	s.calls.Add(1)
	return s.m.Find(token)
}
func (s ctxOnly) CommitCtx(_ context.Context, token string, b []byte, expiry time.Time) error {
	s.calls.Add(1)
	return s.m.Commit(token, b, expiry)
}
func (s ctxOnly) DeleteCtx(_ context.Context, token string) error {
	s.calls.Add(1)
	return s.m.Delete(token)
}

// TestNewTwiceOnOneManager: a manager given to two Auths (two New calls) keeps one guard,
// and the second New still finds the store's abilities behind it: the atomic update (no
// warning) and the store's limiter (a shared store without one is refused). Both Auths'
// requests have their saves through the app's manager refused.
func TestNewTwiceOnOneManager(t *testing.T) {
	t.Parallel()
	st := providerStore{NewMemoryStore()} // not in-process to New: it needs the store's limiter
	sm := scs.New()
	sm.Store = st
	sm.Cookie.Name, sm.Cookie.Secure = "__Host-app", true
	logs := &safe.Buffer{}
	var auths []*Auth
	for range 2 {
		a, err := New(Config{Client: testClient(t), PublicURL: "https://a.example", Sessions: sm,
			Logger: slog.New(slog.NewJSONHandler(logs, nil))})
		require.NoError(t, err, "the store's limiter is found behind the guard")
		assertOwnCopy(t, sm, a)
		d, ok := a.sm.Store.(*deadlineUpdateStore)
		require.True(t, ok, "otlogin's copy: the store under StoreTimeout, with its atomic update, not %T", a.sm.Store)
		assert.True(t, d.s == scs.Store(st), "otlogin's copy works on the store itself, not the guard")
		auths = append(auths, a)
	}
	assert.NotContains(t, logs.String(), "no_atomic_update", "the atomic update is found behind the guard")
	assert.Same(t, auths[0].stack.guard, auths[1].stack.guard, "one guard")
	assert.True(t, unguarded(sm.Store) == scs.Store(st), "not a guard of a guard")
	for _, a := range auths {
		ctx := context.WithValue(context.Background(), ctxKey{}, &reqState{auth: a})
		err := sm.Store.(scs.CtxStore).CommitCtx(ctx, "tok", []byte("x"), time.Now().Add(time.Hour))
		assert.ErrorIs(t, err, errCommitRefused)
	}
	_, found, err := st.Find("tok")
	require.NoError(t, err)
	assert.False(t, found)
	state := context.WithValue(context.Background(), ctxKey{}, &reqState{user: &User{}}) // WithUser's: no Auth
	require.NoError(t, sm.Store.(scs.CtxStore).CommitCtx(state, "tok", []byte("x"), time.Now().Add(time.Hour)))
}
