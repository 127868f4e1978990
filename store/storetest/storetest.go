// Package storetest is a conformance suite for scs session stores and for rate limiters with
// otlogin's Limiter method set. Package store runs it on its memory, Redis and PostgreSQL
// backends; anyone writing another store can run it on theirs.
//
// Every case uses fresh random tokens and keys, so the suite can run in parallel and
// repeatedly against a shared server.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Expiry is the lifetime the expiry cases give a session; they then wait (polling, at most
// [ExpiryWait]) for it to disappear.
const (
	Expiry     = 1500 * time.Millisecond
	ExpiryWait = 10 * time.Second
)

// Run runs the session store conformance suite. newStore is called once per case and returns a
// ready store; it should register its own cleanup with t.Cleanup. Cases that need
// context-aware methods run only when the store implements [scs.CtxStore].
func Run(t *testing.T, newStore func(t *testing.T) scs.Store) {
	t.Helper()
	cases := []struct {
		name string
		run  func(t *testing.T, s scs.Store)
	}{
		{"FindMissing", testFindMissing},
		{"CommitFind", testCommitFind},
		{"Update", testUpdate},
		{"Expiry", testExpiry},
		{"PastExpiry", testPastExpiry},
		{"Delete", testDelete},
		{"DeleteMissing", testDeleteMissing},
		{"Renew", testRenew},
		{"ConcurrentWriters", testConcurrentWriters},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t, newStore(t))
		})
	}
	t.Run("ContextCancelled", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		cs, ok := s.(scs.CtxStore)
		if !ok {
			t.Logf("storetest: %T is not an scs.CtxStore; nothing to check", s)
			return
		}
		testContextCancelled(t, cs)
	})
	t.Run("All", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		all := allOf(s)
		if all == nil {
			t.Logf("storetest: %T is not an scs.IterableStore or scs.IterableCtxStore; nothing to check", s)
			return
		}
		testAll(t, s, all)
	})
	updates := []struct {
		name string
		run  func(t *testing.T, s UpdateStore)
	}{
		{"UpdateExisting", testUpdateExisting},
		{"UpdateMissing", testUpdateMissing},
		{"UpdateAfterDelete", testUpdateAfterDelete},
		{"UpdateExpired", testUpdateExpired},
		{"UpdatePastExpiry", testUpdatePastExpiry},
		{"UpdateRacesDelete", testUpdateRacesDelete},
	}
	for _, c := range updates {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			us, ok := s.(UpdateStore)
			if !ok {
				t.Logf("storetest: %T has no UpdateCtx (otlogin.UpdateStore); nothing to check", s)
				return
			}
			c.run(t, us)
		})
	}
}

// UpdateStore is the method set of otlogin.UpdateStore, the optional atomic "update only if
// it still exists" write; the Update cases run only on stores that have it.
type UpdateStore interface {
	scs.Store
	UpdateCtx(ctx context.Context, token string, b []byte, expiry time.Time) (bool, error)
}

func testUpdateExisting(t *testing.T, s UpdateStore) {
	tok := Token(t)
	require.NoError(t, s.Commit(tok, []byte("v1"), time.Now().Add(time.Minute)))
	ok, err := s.UpdateCtx(context.Background(), tok, []byte("v2"), time.Now().Add(Expiry))
	require.NoError(t, err)
	assert.True(t, ok, "an existing token is updated")
	b, found, err := s.Find(tok)
	require.NoError(t, err)
	require.True(t, found)
	assert.Equal(t, []byte("v2"), b)
	require.Eventually(t, func() bool {
		_, found, err := s.Find(tok)
		return err == nil && !found
	}, ExpiryWait, 50*time.Millisecond, "the update set the new expiry")
}

func testUpdateMissing(t *testing.T, s UpdateStore) {
	tok := Token(t)
	ok, err := s.UpdateCtx(context.Background(), tok, []byte("v"), time.Now().Add(time.Minute))
	require.NoError(t, err)
	assert.False(t, ok, "an unknown token is not updated")
	_, found, err := s.Find(tok)
	require.NoError(t, err)
	assert.False(t, found, "an update never creates a token")
}

func testUpdateAfterDelete(t *testing.T, s UpdateStore) {
	tok := Token(t)
	require.NoError(t, s.Commit(tok, []byte("v1"), time.Now().Add(time.Minute)))
	require.NoError(t, s.Delete(tok))
	ok, err := s.UpdateCtx(context.Background(), tok, []byte("v2"), time.Now().Add(time.Minute))
	require.NoError(t, err)
	assert.False(t, ok)
	_, found, err := s.Find(tok)
	require.NoError(t, err)
	assert.False(t, found, "a deleted token stays deleted")
}

func testUpdateExpired(t *testing.T, s UpdateStore) {
	tok := Token(t)
	require.NoError(t, s.Commit(tok, []byte("v1"), time.Now().Add(Expiry)))
	require.Eventually(t, func() bool {
		_, found, err := s.Find(tok)
		return err == nil && !found
	}, ExpiryWait, 50*time.Millisecond)
	ok, err := s.UpdateCtx(context.Background(), tok, []byte("v2"), time.Now().Add(time.Minute))
	require.NoError(t, err)
	assert.False(t, ok, "an expired token is not updated")
	_, found, err := s.Find(tok)
	require.NoError(t, err)
	assert.False(t, found, "an expired token is not brought back")
}

func testUpdatePastExpiry(t *testing.T, s UpdateStore) {
	tok := Token(t)
	require.NoError(t, s.Commit(tok, []byte("v1"), time.Now().Add(time.Minute)))
	ok, err := s.UpdateCtx(context.Background(), tok, []byte("v2"), time.Now().Add(-time.Second))
	require.NoError(t, err)
	assert.True(t, ok)
	_, found, err := s.Find(tok)
	require.NoError(t, err)
	assert.False(t, found, "an update with a past expiry deletes the token")
}

// testUpdateRacesDelete runs updates against a delete of the same token many times: once
// the delete has returned, the token must stay gone, whatever order the writes took.
func testUpdateRacesDelete(t *testing.T, s UpdateStore) {
	const rounds, writers = 50, 4
	resurrected := 0
	for range rounds {
		tok := Token(t)
		require.NoError(t, s.Commit(tok, []byte("v0"), time.Now().Add(time.Minute)))
		var wg sync.WaitGroup
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = s.UpdateCtx(context.Background(), tok, fmt.Appendf(nil, "v%d", w+1), time.Now().Add(time.Minute))
			}()
		}
		require.NoError(t, s.Delete(tok))
		wg.Wait()
		if _, found, err := s.Find(tok); err == nil && found {
			resurrected++
		}
	}
	assert.Zero(t, resurrected, "tokens written back after their delete returned")
}

// allOf returns the iteration of s (what sm.Iterate calls: AllCtx when s has it, else
// All), or nil when s cannot iterate.
func allOf(s scs.Store) func() (map[string][]byte, error) {
	if is, ok := s.(scs.IterableCtxStore); ok {
		return func() (map[string][]byte, error) { return is.AllCtx(context.Background()) }
	}
	if is, ok := s.(scs.IterableStore); ok {
		return is.All
	}
	return nil
}

// testAll: iteration returns every live token with its data, and no token that was deleted,
// committed with a past expiry, or has expired. Other tokens may be there (a shared server).
func testAll(t *testing.T, s scs.Store, all func() (map[string][]byte, error)) {
	live1, live2, deleted, past, short := Token(t), Token(t), Token(t), Token(t), Token(t)
	exp := time.Now().Add(time.Minute)
	require.NoError(t, s.Commit(live1, []byte("one\x00"), exp))
	require.NoError(t, s.Commit(live2, []byte("two"), exp))
	require.NoError(t, s.Commit(deleted, []byte("gone"), exp))
	require.NoError(t, s.Delete(deleted))
	require.NoError(t, s.Commit(past, []byte("dead"), time.Now().Add(-time.Second)))
	require.NoError(t, s.Commit(short, []byte("short"), time.Now().Add(Expiry)))
	m, err := all()
	require.NoError(t, err)
	assert.Equal(t, []byte("one\x00"), m[live1])
	assert.Equal(t, []byte("two"), m[live2])
	assert.NotContains(t, m, deleted, "a deleted token is not iterated")
	assert.NotContains(t, m, past, "a token committed with a past expiry is not iterated")
	require.Eventually(t, func() bool {
		m, err := all()
		_, found := m[short]
		return err == nil && !found && m[live1] != nil
	}, ExpiryWait, 50*time.Millisecond, "an expired token is no longer iterated")
}

// Token returns a random session token, unique across runs.
func Token(t testing.TB) string {
	t.Helper()
	b := make([]byte, 16)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

func testFindMissing(t *testing.T, s scs.Store) {
	b, found, err := s.Find(Token(t))
	require.NoError(t, err)
	assert.False(t, found, "an unknown token is not found")
	assert.Nil(t, b)
}

func testCommitFind(t *testing.T, s scs.Store) {
	tok := Token(t)
	data := []byte("hello\x00world")
	require.NoError(t, s.Commit(tok, data, time.Now().Add(time.Minute)))
	b, found, err := s.Find(tok)
	require.NoError(t, err)
	require.True(t, found, "a committed token is found")
	assert.Equal(t, data, b)
}

func testUpdate(t *testing.T, s scs.Store) {
	tok := Token(t)
	require.NoError(t, s.Commit(tok, []byte("v1"), time.Now().Add(time.Minute)))
	require.NoError(t, s.Commit(tok, []byte("v2"), time.Now().Add(2*time.Minute)))
	b, found, err := s.Find(tok)
	require.NoError(t, err)
	require.True(t, found)
	assert.Equal(t, []byte("v2"), b, "a second commit replaces the data")
}

func testExpiry(t *testing.T, s scs.Store) {
	tok := Token(t)
	require.NoError(t, s.Commit(tok, []byte("short"), time.Now().Add(Expiry)))
	_, found, err := s.Find(tok)
	require.NoError(t, err)
	require.True(t, found, "found before its expiry")
	require.Eventually(t, func() bool {
		_, found, err := s.Find(tok)
		return err == nil && !found
	}, ExpiryWait, 50*time.Millisecond, "an expired token is no longer found")
}

func testPastExpiry(t *testing.T, s scs.Store) {
	tok := Token(t)
	require.NoError(t, s.Commit(tok, []byte("dead"), time.Now().Add(-time.Second)))
	_, found, err := s.Find(tok)
	require.NoError(t, err)
	assert.False(t, found, "a token committed with a past expiry is not found")
}

func testDelete(t *testing.T, s scs.Store) {
	tok := Token(t)
	require.NoError(t, s.Commit(tok, []byte("x"), time.Now().Add(time.Minute)))
	require.NoError(t, s.Delete(tok))
	_, found, err := s.Find(tok)
	require.NoError(t, err)
	assert.False(t, found, "a deleted token is not found")
}

func testDeleteMissing(t *testing.T, s scs.Store) {
	assert.NoError(t, s.Delete(Token(t)), "deleting an unknown token is not an error")
}

// testRenew does what scs's RenewToken does: commit the data under a new token, then delete
// the old one.
func testRenew(t *testing.T, s scs.Store) {
	oldTok, newTok := Token(t), Token(t)
	exp := time.Now().Add(time.Minute)
	require.NoError(t, s.Commit(oldTok, []byte("payload"), exp))
	require.NoError(t, s.Commit(newTok, []byte("payload"), exp))
	require.NoError(t, s.Delete(oldTok))
	_, found, err := s.Find(oldTok)
	require.NoError(t, err)
	assert.False(t, found, "the old token is gone")
	b, found, err := s.Find(newTok)
	require.NoError(t, err)
	require.True(t, found, "the new token is found")
	assert.Equal(t, []byte("payload"), b)
}

func testConcurrentWriters(t *testing.T, s scs.Store) {
	const n = 50
	shared := Token(t)
	toks := make([]string, n)
	for i := range toks {
		toks[i] = Token(t)
	}
	exp := time.Now().Add(time.Minute)
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		wg.Go(func() {
			errs <- s.Commit(toks[i], fmt.Appendf(nil, "own-%d", i), exp)
			errs <- s.Commit(shared, fmt.Appendf(nil, "shared-%d", i), exp)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	for i, tok := range toks {
		b, found, err := s.Find(tok)
		require.NoError(t, err)
		require.True(t, found, "token %d is found", i)
		assert.Equal(t, fmt.Appendf(nil, "own-%d", i), b)
	}
	b, found, err := s.Find(shared)
	require.NoError(t, err)
	require.True(t, found, "the shared token is found")
	assert.True(t, bytes.HasPrefix(b, []byte("shared-")), "the shared token holds one writer's whole value, got %q", b)
}

func testContextCancelled(t *testing.T, s scs.CtxStore) {
	tok := Token(t)
	require.NoError(t, s.CommitCtx(context.Background(), tok, []byte("kept"), time.Now().Add(time.Minute)))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	_, found, err := s.FindCtx(ctx, tok)
	require.Error(t, err, "FindCtx with a cancelled context fails")
	assert.True(t, errors.Is(err, context.Canceled), "FindCtx error wraps context.Canceled: %v", err)
	assert.False(t, found)

	err = s.CommitCtx(ctx, tok, []byte("changed"), time.Now().Add(time.Minute))
	require.Error(t, err, "CommitCtx with a cancelled context fails")
	assert.True(t, errors.Is(err, context.Canceled), "CommitCtx error wraps context.Canceled: %v", err)

	err = s.DeleteCtx(ctx, tok)
	require.Error(t, err, "DeleteCtx with a cancelled context fails")
	assert.True(t, errors.Is(err, context.Canceled), "DeleteCtx error wraps context.Canceled: %v", err)

	b, found, err := s.FindCtx(context.Background(), tok)
	require.NoError(t, err)
	require.True(t, found, "cancelled calls changed nothing")
	assert.Equal(t, []byte("kept"), b)
}
