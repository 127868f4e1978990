package testservice

import (
	"fmt"
	"net/url"
	"regexp"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stubTB records how a helper ends the test (Fatal or Skip) instead of ending the real one.
type stubTB struct {
	testing.TB
	fatal, skip string
}

func (s *stubTB) Helper()                   {}
func (s *stubTB) Fatal(a ...any)            { s.fatal = fmt.Sprint(a...); runtime.Goexit() }
func (s *stubTB) Fatalf(f string, a ...any) { s.fatal = fmt.Sprintf(f, a...); runtime.Goexit() }
func (s *stubTB) Skip(a ...any)             { s.skip = fmt.Sprint(a...); runtime.Goexit() }

// ending runs f with a stub on a goroutine of its own (Fatal and Skip end it) and returns
// the stub.
func ending(f func(t testing.TB)) *stubTB {
	s := &stubTB{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(s)
	}()
	<-done
	return s
}

// TestUnavailable: a missing need skips the test, and fails it under
// OTLOGIN_REQUIRE_SERVICES=1 with the same message and the reason it fails.
func TestUnavailable(t *testing.T) {
	t.Setenv("OTLOGIN_REQUIRE_SERVICES", "")
	s := ending(func(t testing.TB) { Unavailable(t, "no widget") })
	assert.Equal(t, "no widget", s.skip)
	assert.Empty(t, s.fatal)

	t.Setenv("OTLOGIN_REQUIRE_SERVICES", "1")
	s = ending(func(t testing.TB) { Unavailable(t, "no widget") })
	assert.Empty(t, s.skip)
	assert.Equal(t, "no widget; failing because OTLOGIN_REQUIRE_SERVICES=1", s.fatal)
}

// TestPostgresSchemaNeedsADriver: without the database/sql driver the schema could not be
// dropped, so the helper fails at once (before looking for the server) and names the import.
func TestPostgresSchemaNeedsADriver(t *testing.T) {
	s := ending(func(t testing.TB) { PostgresSchema(t, "otltest") })
	assert.Contains(t, s.fatal, `import _ "github.com/jackc/pgx/v5/stdlib"`)
	assert.Empty(t, s.skip)
}

func TestWithQuery(t *testing.T) {
	got := WithQuery(t, "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "search_path", "otltest_ab12")
	u, err := url.Parse(got)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:5432", u.Host)
	assert.Equal(t, url.Values{"sslmode": {"disable"}, "search_path": {"otltest_ab12"}}, u.Query())
	assert.Equal(t, "redis://127.0.0.1:6379/0?key_prefix=b", WithQuery(t, "redis://127.0.0.1:6379/0?key_prefix=a", "key_prefix", "b"), "set, not added")
}

func TestUnique(t *testing.T) {
	a, b := unique(t), unique(t)
	assert.Regexp(t, regexp.MustCompile(`^[0-9a-f]{12}$`), a)
	assert.NotEqual(t, a, b)
}

func TestQuoteIdent(t *testing.T) {
	assert.Equal(t, `"otltest_ab12"`, quoteIdent("otltest_ab12"))
	assert.Equal(t, `"a""b"`, quoteIdent("a\"b\x00"))
}
