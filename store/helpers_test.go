package store

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // the database/sql driver testservice.PostgresSchema drops schemas with
	"github.com/otlogin/otlogin/internal/testservice"
	"github.com/otlogin/otlogin/store/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// redisURL returns the test Redis URL with a key prefix of its own.
func redisURL(t *testing.T) string {
	t.Helper()
	return testservice.RedisPrefixed(t, "otltest")
}

// postgresURL returns the test PostgreSQL URL with a fresh schema of its own (created by Open,
// dropped at cleanup).
func postgresURL(t *testing.T) string {
	t.Helper()
	return testservice.PostgresSchema(t, "otltest")
}

// miniredisURL starts a miniredis whose clock follows wall time (miniredis expires keys only
// when told to), and returns its URL.
func miniredisURL(t *testing.T) string {
	t.Helper()
	mr := miniredis.RunT(t)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				mr.FastForward(50 * time.Millisecond)
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
	return "redis://" + mr.Addr()
}

// open opens a store and closes it at cleanup.
func open(t *testing.T, raw string) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := Open(ctx, raw)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

// TestPostgresSchemaDropped: the schema postgresURL gives a test exists while the test runs
// (Open creates it) and is gone once the test has ended.
func TestPostgresSchemaDropped(t *testing.T) {
	t.Parallel()
	base := testservice.Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	require.NoError(t, err)
	defer conn.Close(ctx)
	schemas := func(name string) int {
		var n int
		require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1", name).Scan(&n))
		return n
	}

	var schema string
	t.Run("uses a schema", func(t *testing.T) {
		raw := postgresURL(t)
		u, err := url.Parse(raw)
		require.NoError(t, err)
		schema = u.Query().Get("search_path")
		require.True(t, strings.HasPrefix(schema, "otltest_"), schema)
		s := open(t, raw)
		require.NoError(t, s.Commit(storetest.Token(t), []byte("v"), time.Now().Add(time.Minute)))
		assert.Equal(t, 1, schemas(schema), "Open created the schema")
	})
	require.NotEmpty(t, schema)
	assert.Zero(t, schemas(schema), "the schema was dropped at the end of the test")
}
