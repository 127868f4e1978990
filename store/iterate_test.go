package store

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin/internal/testservice"
	"github.com/otlogin/otlogin/store/storetest"
)

// TestAllIsTheStoresOwn: iteration returns the sessions of this store only. Redis: under its
// key_prefix taken literally (a prefix with glob characters finds its own keys and not those
// of a prefix its unescaped pattern would match), never its rate-limit keys. PostgreSQL: the
// sessions table of its search_path's schema, not another schema's.
func TestAllIsTheStoresOwn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	exp := time.Now().Add(time.Minute)
	// own and other are two stores on one server; other's keys must not show in own's All.
	check := func(t *testing.T, own, other *Store) {
		t.Helper()
		mine, theirs := storetest.Token(t), storetest.Token(t)
		require.NoError(t, own.CommitCtx(ctx, mine, []byte("mine"), exp))
		require.NoError(t, other.CommitCtx(ctx, theirs, []byte("theirs"), exp))
		if l := own.Limiter(); l != nil {
			ok, _, err := l.Allow(ctx, "iterate-test", 5, time.Minute)
			require.NoError(t, err)
			require.True(t, ok)
		}
		var _ scs.IterableCtxStore = own
		all, err := own.AllCtx(ctx)
		require.NoError(t, err)
		assert.Equal(t, map[string][]byte{mine: []byte("mine")}, all, "only this store's session")
		all, err = other.All()
		require.NoError(t, err)
		assert.Equal(t, map[string][]byte{theirs: []byte("theirs")}, all)
	}

	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		u, err := url.Parse(redisURL(t))
		require.NoError(t, err)
		base := u.Query().Get("key_prefix") // unique to this test
		require.NotEmpty(t, base)
		// own's keys are base+"[ab]*?\:session:<token>"; unescaped, its pattern would also
		// match other's base+"a-x\:session:<token>".
		own := open(t, testservice.WithQuery(t, u.String(), "key_prefix", base+`[ab]*?\:`))
		other := open(t, testservice.WithQuery(t, u.String(), "key_prefix", base+`a-x\:`))
		check(t, own, other)
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		check(t, open(t, postgresURL(t)), open(t, postgresURL(t)))
	})
}

// TestAllAfterClose: iteration of a closed store fails with ErrClosed, like its other calls.
func TestAllAfterClose(t *testing.T) {
	t.Parallel()
	s, err := Open(context.Background(), "memory")
	require.NoError(t, err)
	require.NoError(t, s.Close())
	_, err = s.AllCtx(context.Background())
	assert.ErrorIs(t, err, ErrClosed)
}

// TestAllManyKeys: Redis iteration reads every session however many SCAN batches it takes.
func TestAllManyKeys(t *testing.T) {
	t.Parallel()
	s := open(t, redisURL(t))
	ctx := context.Background()
	exp := time.Now().Add(time.Minute)
	want := make(map[string][]byte)
	for range 3*redisScanBatch + 7 {
		tok := storetest.Token(t)
		want[tok] = []byte(tok)
		require.NoError(t, s.CommitCtx(ctx, tok, []byte(tok), exp))
	}
	all, err := s.AllCtx(ctx)
	require.NoError(t, err)
	assert.Equal(t, want, all)
}
