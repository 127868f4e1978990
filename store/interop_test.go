package store

import (
	"context"
	"testing"
	"time"

	"github.com/alexedwards/scs/goredisstore"
	"github.com/alexedwards/scs/pgxstore"
	"github.com/alexedwards/scs/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/otlogin/otlogin/internal/testservice"
	"github.com/otlogin/otlogin/store/storetest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// interop checks that ours and theirs (one of scs's own stores, on the same server, table or
// key prefix) read each other's sessions, see each other's deletes, and agree on expiry.
func interop(t *testing.T, ours *Store, theirs scs.CtxStore) {
	t.Helper()
	exp := time.Now().Add(time.Minute)
	ctx := context.Background()

	t.Run("OursToTheirs", func(t *testing.T) {
		tok := storetest.Token(t)
		require.NoError(t, ours.Commit(tok, []byte("written by store.Open"), exp))
		b, found, err := theirs.FindCtx(ctx, tok)
		require.NoError(t, err)
		require.True(t, found, "scs's store finds the session we committed")
		assert.Equal(t, []byte("written by store.Open"), b)
		require.NoError(t, ours.Delete(tok))
		_, found, err = theirs.FindCtx(ctx, tok)
		require.NoError(t, err)
		assert.False(t, found, "our delete is seen by scs's store")
	})
	t.Run("TheirsToOurs", func(t *testing.T) {
		tok := storetest.Token(t)
		require.NoError(t, theirs.CommitCtx(ctx, tok, []byte("written by scs"), exp))
		b, found, err := ours.Find(tok)
		require.NoError(t, err)
		require.True(t, found, "we find the session scs's store committed")
		assert.Equal(t, []byte("written by scs"), b)
		require.NoError(t, ours.Commit(tok, []byte("replaced"), exp))
		b, found, err = theirs.FindCtx(ctx, tok)
		require.NoError(t, err)
		require.True(t, found)
		assert.Equal(t, []byte("replaced"), b, "our commit replaces theirs in place")
		require.NoError(t, theirs.DeleteCtx(ctx, tok))
		_, found, err = ours.Find(tok)
		require.NoError(t, err)
		assert.False(t, found, "their delete is seen by us")
	})
	t.Run("Expired", func(t *testing.T) {
		tok := storetest.Token(t)
		require.NoError(t, ours.Commit(tok, []byte("short"), time.Now().Add(time.Second)))
		require.Eventually(t, func() bool {
			_, found, err := theirs.FindCtx(ctx, tok)
			return err == nil && !found
		}, 10*time.Second, 50*time.Millisecond, "scs's store stops finding it after its expiry")
	})
}

// noCtx gives a store without context-aware methods (pgxstore) the CtxStore method set.
type noCtx struct{ scs.Store }

func (s noCtx) FindCtx(_ context.Context, token string) ([]byte, bool, error) { return s.Find(token) }
func (s noCtx) CommitCtx(_ context.Context, token string, b []byte, expiry time.Time) error {
	return s.Commit(token, b, expiry)
}
func (s noCtx) DeleteCtx(_ context.Context, token string) error { return s.Delete(token) }

// TestInteropPgxstore shows the PostgreSQL backend is scs's pgxstore on the wire: the same
// table and the same rows, read and written by pgxstore.New on its own pool.
func TestInteropPgxstore(t *testing.T) {
	t.Parallel()
	raw := postgresURL(t)
	ours := open(t, raw) // creates the schema and the sessions table
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, raw) // same search_path, so the same table
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	interop(t, ours, noCtx{pgxstore.NewWithCleanupInterval(pool, 0)})
}

// TestInteropGoredisstore shows the Redis backend is scs's goredisstore: a separate client with
// goredisstore, on the same keys, reads and writes the same sessions.
func TestInteropGoredisstore(t *testing.T) {
	t.Parallel()
	base := testservice.Redis(t)
	tests := []struct {
		name   string
		url    string
		theirs func(c *redis.Client) scs.CtxStore
	}{
		{"DefaultPrefix", base, func(c *redis.Client) scs.CtxStore { return goredisstore.New(c) }},
		{"KeyPrefix", testservice.WithQuery(t, base, "key_prefix", "otlinterop:"), func(c *redis.Client) scs.CtxStore {
			return goredisstore.NewWithPrefix(c, "otlinterop:session:")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ours := open(t, tt.url)
			opt, err := redis.ParseURL(base)
			require.NoError(t, err)
			client := redis.NewClient(opt)
			t.Cleanup(func() { _ = client.Close() })
			interop(t, ours, tt.theirs(client))
		})
	}
}
