package store

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/jackc/pgx/v5"
	"github.com/otlogin/otlogin/internal/testservice"
	"github.com/otlogin/otlogin/store/storetest"
	"github.com/stretchr/testify/require"
)

// withQuery returns raw with the query parameter k set to v.
func withQuery(t *testing.T, raw, k, v string) string {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	q := u.Query()
	q.Set(k, v)
	u.RawQuery = q.Encode()
	return u.String()
}

// redisURL returns the test Redis URL with a key prefix of its own.
func redisURL(t *testing.T) string {
	t.Helper()
	return withQuery(t, testservice.Redis(t), "key_prefix", "otltest:"+storetest.Token(t)[:12]+":")
}

// postgresURL returns the test PostgreSQL URL with a fresh schema of its own (created by Open,
// dropped at cleanup).
func postgresURL(t *testing.T) string {
	t.Helper()
	base := testservice.Postgres(t)
	schema := "otltest_" + strings.ToLower(storetest.Token(t)[:12])
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Logf("dropping schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Logf("dropping schema %s: %v", schema, err)
		}
	})
	return withQuery(t, base, "search_path", schema)
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
