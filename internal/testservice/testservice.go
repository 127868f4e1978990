// Package testservice finds the Redis and PostgreSQL servers that tests may use.
//
// [Redis] and [Postgres] return a server's URL, or skip the calling test with a clear message
// when the server does not answer. When OTLOGIN_REQUIRE_SERVICES=1 (as in CI) they fail the
// test instead, so a missing service cannot turn into a green run.
//
// URLs come from OTLOGIN_REDIS_URL and OTLOGIN_POSTGRES_URL, with defaults
// redis://127.0.0.1:6379/0 and postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
// Reachability is a TCP connect with a 2s timeout; tests should still give their own
// resources unique names (key prefixes, schemas) so they can run in parallel and repeatedly.
package testservice

import (
	"net"
	"net/url"
	"os"
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
		msg := "testservice: " + name + " not available at " + host + " (set " + env + "): " + err.Error()
		if Required() {
			t.Fatal(msg + "; failing because OTLOGIN_REQUIRE_SERVICES=1")
		}
		t.Skip(msg)
	}
	_ = conn.Close()
	return raw
}
