package store

import "testing"

// Helpers of the internal tests, exported to package store_test (scale-out and failure tests
// that use only the public API).

// RedisURLForTest returns the test Redis URL with a key prefix of its own.
func RedisURLForTest(t *testing.T) string { t.Helper(); return redisURL(t) }

// PostgresURLForTest returns the test PostgreSQL URL with a fresh schema of its own.
func PostgresURLForTest(t *testing.T) string { t.Helper(); return postgresURL(t) }

// OpenForTest opens a store and closes it at cleanup.
func OpenForTest(t *testing.T, raw string) *Store { t.Helper(); return open(t, raw) }
