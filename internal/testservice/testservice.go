// Package testservice finds the Redis and PostgreSQL servers that tests may use, and holds
// the rule for anything else a test needs that a machine may lack.
//
// [Redis] and [Postgres] return a server's URL, or skip the calling test with a clear message
// when the server does not answer. When OTLOGIN_REQUIRE_SERVICES=1 (as in CI) they fail the
// test instead, so a missing service cannot turn into a green run. [Unavailable] applies the
// same rule to whatever else is missing (a binary, a browser, the OpenAPI documents).
//
// URLs come from OTLOGIN_REDIS_URL and OTLOGIN_POSTGRES_URL, with defaults
// redis://127.0.0.1:6379/0 and postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
// Reachability is a TCP connect with a 2s timeout. [RedisPrefixed] and [PostgresSchema] give
// a test keys or a schema of its own, so tests can run in parallel and repeatedly.
//
// It imports only the standard library (no database driver), so the root module requires
// nothing for it.
package testservice

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// Default URLs, used when the environment variables are unset.
const (
	DefaultRedisURL    = "redis://127.0.0.1:6379/0"
	DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
)

// Required reports whether OTLOGIN_REQUIRE_SERVICES=1, in which case an unreachable service
// fails the test instead of skipping it.
func Required() bool { return os.Getenv("OTLOGIN_REQUIRE_SERVICES") == "1" }

// Redis returns the URL of the test Redis server (OTLOGIN_REDIS_URL, default
// [DefaultRedisURL]), or skips (or fails, see [Required]) when it is unreachable.
func Redis(t testing.TB) string {
	t.Helper()
	return service(t, "redis", "OTLOGIN_REDIS_URL", DefaultRedisURL, "6379")
}

// Postgres returns the URL of the test PostgreSQL server (OTLOGIN_POSTGRES_URL, default
// [DefaultPostgresURL]), or skips (or fails, see [Required]) when it is unreachable.
func Postgres(t testing.TB) string {
	t.Helper()
	return service(t, "postgres", "OTLOGIN_POSTGRES_URL", DefaultPostgresURL, "5432")
}

// Unavailable skips t with msg, or fails it when [Required]: for a test that cannot run
// because something it needs is missing from the machine.
func Unavailable(t testing.TB, msg string) {
	t.Helper()
	if Required() {
		t.Fatal(msg + "; failing because OTLOGIN_REQUIRE_SERVICES=1")
	}
	t.Skip(msg)
}

// RedisPrefixed returns the [Redis] URL with a key_prefix parameter of the test's own (what
// store.Open puts before every key): name, a colon, 12 random hex digits and a colon.
func RedisPrefixed(t testing.TB, name string) string {
	t.Helper()
	return WithQuery(t, Redis(t), "key_prefix", name+":"+unique(t)+":")
}

// PostgresDriver is the database/sql driver name [PostgresSchema] drops its schema with. The
// calling test registers it by importing github.com/jackc/pgx/v5/stdlib (this package imports
// no driver, so that the root module requires none).
const PostgresDriver = "pgx"

// PostgresSchema returns the [Postgres] URL with a search_path parameter naming a schema of
// the test's own, name, an underscore and 12 random hex digits (store.Open creates it), and
// drops that schema with everything in it at the end of the test. It fails the test at once
// when no [PostgresDriver] is registered.
func PostgresSchema(t testing.TB, name string) string {
	t.Helper()
	if !slices.Contains(sql.Drivers(), PostgresDriver) {
		t.Fatalf("testservice: PostgresSchema needs the %q database/sql driver: import _ \"github.com/jackc/pgx/v5/stdlib\"", PostgresDriver)
	}
	base := Postgres(t)
	schema := name + "_" + unique(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		db, err := sql.Open(PostgresDriver, base)
		if err == nil {
			defer db.Close()
			_, err = db.ExecContext(ctx, "DROP SCHEMA IF EXISTS "+quoteIdent(schema)+" CASCADE")
		}
		if err != nil {
			t.Logf("dropping schema %s: %v", schema, err)
		}
	})
	return WithQuery(t, base, "search_path", schema)
}

// WithQuery returns the URL raw with the query parameter k set to v.
func WithQuery(t testing.TB, raw, k, v string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("testservice: %v", err)
	}
	q := u.Query()
	q.Set(k, v)
	u.RawQuery = q.Encode()
	return u.String()
}

// unique returns 12 random lowercase hex digits.
func unique(t testing.TB) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("testservice: %v", err)
	}
	return hex.EncodeToString(b)
}

// quoteIdent quotes name as a PostgreSQL identifier (as pgx.Identifier.Sanitize does).
func quoteIdent(name string) string {
	return `"` + strings.ReplaceAll(strings.ReplaceAll(name, "\x00", ""), `"`, `""`) + `"`
}

func service(t testing.TB, name, env, def, defPort string) string {
	t.Helper()
	raw := os.Getenv(env)
	if raw == "" {
		raw = def
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("testservice: %s is not a valid URL", env)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), defPort)
	}
	conn, err := net.DialTimeout("tcp", host, 2*time.Second)
	if err != nil {
		Unavailable(t, "testservice: "+name+" not available at "+host+" (set "+env+"): "+err.Error())
	}
	_ = conn.Close()
	return raw
}
