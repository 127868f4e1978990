package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the database/sql driver testservice.PostgresSchema drops schemas with
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin"
	"github.com/otlogin/otlogin/internal/testservice"
	"github.com/otlogin/otlogin/transmit"
)

func TestRunProducesNumbers(t *testing.T) {
	checkRun(t, "", "memory")
}

// TestRunOnEachStore: SESSION_STORE (-store) picks the store, as in the example apps, and
// /raw reads the signed-in session from it.
func TestRunOnEachStore(t *testing.T) {
	t.Run("memory", func(t *testing.T) { checkRun(t, "memory", "memory") })
	t.Run("redis", func(t *testing.T) { checkRun(t, testservice.RedisPrefixed(t, "otltest:loadtest"), "redis") })
	t.Run("postgres", func(t *testing.T) { checkRun(t, testservice.PostgresSchema(t, "otltest_loadtest"), "postgres") })
}

// checkRun runs a short load test on store and checks that every route served.
func checkRun(t *testing.T, store, kind string) {
	t.Helper()
	res, err := run(context.Background(), options{Duration: 200 * time.Millisecond, Conns: 2, Store: store})
	require.NoError(t, err)
	assert.Equal(t, kind, res.Store)
	for name, r := range map[string]rate{"healthz": res.Healthz, "raw": res.Raw, "me": res.Me} {
		assert.Positive(t, r.Requests, "%s: requests served", name)
		assert.Zero(t, r.Errors, "%s: no failed requests", name)
		assert.Positive(t, r.PerSecond, "%s: requests per second", name)
	}
	assert.Positive(t, res.Ratio, "ratio of /api/me to /healthz")
	assert.Positive(t, res.MedianRatio, "median of per-round ratios")
	assert.Positive(t, res.RawRatio, "ratio of /api/me to /raw")
	assert.Positive(t, res.MedianRawRatio, "median of per-round ratios to /raw")

	var out bytes.Buffer
	report(&out, res)
	assert.Contains(t, out.String(), "loadtest: "+kind+" store")
	assert.Contains(t, out.String(), "GET /api/me (signed in)")
	assert.Contains(t, out.String(), "GET /raw (one store read)")
	assert.Contains(t, out.String(), "ratio /api/me : /healthz = ")
	assert.Contains(t, out.String(), "ratio /api/me : /raw     = ")
	assert.Contains(t, out.String(), "median of per-round ratios")
}

// TestRawRoute: /raw answers 401 without a cookie or for an unknown session, and the
// record's size for a stored one.
func TestRawRoute(t *testing.T) {
	t.Parallel()
	sessions := otlogin.NewMemoryStore()
	require.NoError(t, sessions.Commit("tok", []byte("12345"), time.Now().Add(time.Hour)))
	auth, err := otlogin.New(otlogin.Config{Client: &transmit.Client{}, PublicURL: "http://127.0.0.1:1"})
	require.NoError(t, err)
	h := newRouter(auth, http.NotFoundHandler(), sessions)
	for _, tc := range []struct {
		cookie string
		code   int
		body   string
	}{
		{"", http.StatusUnauthorized, "no session cookie"},
		{sessionCookie + "=nope", http.StatusUnauthorized, "no such session"},
		{sessionCookie + "=tok", http.StatusOK, `{"bytes":5}`},
	} {
		req := httptest.NewRequest(http.MethodGet, "/raw", nil)
		if tc.cookie != "" {
			req.Header.Set("Cookie", tc.cookie)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		assert.Equal(t, tc.code, rec.Code, tc.cookie)
		assert.Contains(t, rec.Body.String(), tc.body, tc.cookie)
	}
}

func TestRunRejectsBadOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		o    options
	}{
		{"zero duration", options{Duration: 0, Conns: 1}},
		{"too long", options{Duration: time.Hour, Conns: 1}},
		{"no conns", options{Duration: time.Second, Conns: 0}},
		{"too many conns", options{Duration: time.Second, Conns: 1000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := run(context.Background(), tt.o)
			require.Error(t, err)
		})
	}
}
