package otlogin

import (
	"context"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// allOnly is a store with All but no other ability (scs's memstore, say).
type allOnly struct{ networkStore }

func (s allOnly) All() (map[string][]byte, error) { return s.m.All() }

// allCtxOnly is a store with AllCtx but not All.
type allCtxOnly struct{ networkStore }

func (s allCtxOnly) AllCtx(ctx context.Context) (map[string][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return s.m.All()
}

// iterLimiter is a store with iteration and a limiter, without the atomic update.
type iterLimiter struct{ allOnly }

func (iterLimiter) Limiter() Limiter { return NewMemoryLimiter() }

// updateLimiter is a store with the atomic update and a limiter, without iteration.
type updateLimiter struct{ *countingStore }

func (updateLimiter) Limiter() Limiter { return NewMemoryLimiter() }

// TestGuardIteration: the guard in front of the app's store claims iteration exactly when
// the store can iterate, with every combination of the store's other abilities (kept), and
// its iteration returns the sessions without otlogin's records, whichever of All and AllCtx
// the store has.
func TestGuardIteration(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name                      string
		store                     scs.Store
		update, limiter, iterates bool
	}{
		{"neither", plainStore{newCountingStore()}, false, false, false},
		{"iteration", allOnly{networkStore{NewMemoryStore()}}, false, false, true},
		{"context-aware iteration", allCtxOnly{networkStore{NewMemoryStore()}}, false, false, true},
		{"scs memstore", memstore.NewWithCleanupInterval(0), false, false, true},
		{"update", newCountingStore(), true, false, false},
		{"update, iteration", NewMemoryStore(), true, false, true},
		{"limiter", limiterOnly{networkStore{NewMemoryStore()}}, false, true, false},
		{"limiter, iteration", iterLimiter{allOnly{networkStore{NewMemoryStore()}}}, false, true, true},
		{"update, limiter", updateLimiter{newCountingStore()}, true, true, false},
		{"update, limiter, iteration", providerStore{NewMemoryStore()}, true, true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := withIteration(newGuard(tc.store, Codec{}))
			_, update := g.(UpdateStore)
			_, limiter := g.(LimiterProvider)
			is, iterates := g.(scs.IterableCtxStore)
			_, iteratesNoCtx := g.(scs.IterableStore)
			assert.Equal(t, tc.update, update, "UpdateStore")
			assert.Equal(t, tc.limiter, limiter, "LimiterProvider")
			assert.Equal(t, tc.iterates, iterates, "IterableCtxStore")
			assert.Equal(t, tc.iterates, iteratesNoCtx, "IterableStore")
			assert.True(t, unguarded(g) == tc.store, "unguarded finds the store")
			if !iterates {
				return
			}
			ctx := context.Background()
			exp := time.Now().Add(time.Hour)
			a := &Auth{}
			for _, key := range []string{a.latestOTPKey("email", "ada@example.com"), linkRecordKey("s"), rotatedKey("mosaic")} {
				require.NoError(t, g.CommitCtx(ctx, key, []byte("record"), exp))
			}
			require.NoError(t, g.CommitCtx(ctx, "tok1", []byte("one"), exp))
			require.NoError(t, g.CommitCtx(ctx, "tok2", []byte("two"), exp))
			want := map[string][]byte{"tok1": []byte("one"), "tok2": []byte("two")}
			all, err := is.AllCtx(ctx)
			require.NoError(t, err)
			assert.Equal(t, want, all, "the sessions, not otlogin's records")
			all, err = g.(scs.IterableStore).All()
			require.NoError(t, err)
			assert.Equal(t, want, all)

			cancelled, cancel := context.WithCancel(ctx)
			cancel()
			if _, ctxAware := tc.store.(scs.IterableCtxStore); ctxAware {
				_, err = is.AllCtx(cancelled)
				assert.ErrorIs(t, err, context.Canceled, "the context reaches the store's AllCtx")
			}
		})
	}
}

// TestRecordKeys: every record otlogin keeps in the session store besides sessions has a
// key that isRecordKey knows and that is not shaped like one of scs's 43-character tokens.
func TestRecordKeys(t *testing.T) {
	t.Parallel()
	a := &Auth{}
	for _, key := range []string{a.latestOTPKey("email", "ada@example.com"), linkRecordKey("state"), rotatedKey("mosaic")} {
		assert.True(t, isRecordKey(key), key)
		assert.Greater(t, len(key), 43, key)
	}
	assert.False(t, isRecordKey("INuJ9_CrROGgZwc8lEkG1KxVtjEPFaovhlr0VhNOspQ"), "a session token")
}
