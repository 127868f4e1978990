package store_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin"
	"github.com/otlogin/otlogin/internal/apptest"
	"github.com/otlogin/otlogin/internal/apptest/safe"
	"github.com/otlogin/otlogin/store"
)

// storeTTL returns how long the Redis or PostgreSQL server at raw (a URL of this package's
// tests) keeps the session token: its own expiry, read from the server.
func storeTTL(t *testing.T, raw, token string) time.Duration {
	t.Helper()
	ctx := context.Background()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	switch u.Scheme {
	case "redis":
		q := u.Query()
		key := q.Get("key_prefix") + "session:" + token
		q.Del("key_prefix")
		u.RawQuery = q.Encode()
		opt, err := redis.ParseURL(u.String())
		require.NoError(t, err)
		client := redis.NewClient(opt)
		defer client.Close()
		ttl, err := client.PTTL(ctx, key).Result()
		require.NoError(t, err)
		require.Positive(t, ttl, "the session is stored, with an expiry")
		return ttl
	case "postgres":
		conn, err := pgx.Connect(ctx, raw) // the same search_path, so the same table
		require.NoError(t, err)
		defer conn.Close(ctx)
		var left time.Duration
		require.NoError(t, conn.QueryRow(ctx,
			`SELECT expiry - current_timestamp FROM sessions WHERE token = $1 AND current_timestamp < expiry`, token).Scan(&left))
		return left
	}
	t.Fatalf("storeTTL: %s", u.Scheme)
	return 0
}

// sessionMaxAge returns the Max-Age of the session cookie r sets, or -1.
func sessionMaxAge(r apptest.Response) int {
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == "otlogin" {
			return c.MaxAge
		}
	}
	return -1
}

// TestPreLoginAppValuesKeepLifetime: on Redis and PostgreSQL, a session that holds only a
// pending code flow is stored for the flow's lifetime, but once the app puts a value of its
// own in it (sm.Put on its manager, Config.Sessions) the server keeps it for the full
// SessionLifetime again, and a new send does not shorten it; the second code then works.
func TestPreLoginAppValuesKeepLifetime(t *testing.T) {
	t.Parallel()
	for _, b := range []struct {
		name string
		url  func(t *testing.T) string
	}{{"redis", store.RedisURLForTest}, {"postgres", store.PostgresURLForTest}} {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			raw := b.url(t)
			st := store.OpenForTest(t, raw)
			sm := scs.New()
			sm.Store = st
			sm.Cookie.Name = "otlogin"
			clock := safe.NewClock()
			c := apptest.New(t, apptest.Options{Store: st, Instances: 1,
				Config: func(cfg *otlogin.Config) {
					cfg.SessionStore, cfg.Sessions = nil, sm
					cfg.Now = clock.Now
					cfg.OTPTTL = time.Minute
				},
				Routes: func(_ int, _ *otlogin.Auth, mux *http.ServeMux) {
					mux.HandleFunc("GET /app/cart", func(w http.ResponseWriter, r *http.Request) {
						sm.Put(r.Context(), "cart", "book")
					})
				},
			})
			email := "ada-" + b.name + "@example.com"
			c.Emu.CreateUser(email, "")
			cl := c.NewClient()
			const flowOnly, full = time.Minute, 12 * time.Hour // OTPTTL, SessionLifetime

			r := cl.SendOTP(0, email)
			require.Equal(t, http.StatusAccepted, r.Status, r)
			assert.LessOrEqual(t, sessionMaxAge(r), int(flowOnly.Seconds()))
			assert.LessOrEqual(t, storeTTL(t, raw, cl.SessionCookie()), flowOnly, "a flow-only session: the flow's lifetime")

			r = cl.Get(0, "/app/cart")
			require.Equal(t, http.StatusOK, r.Status, r)
			assert.Greater(t, sessionMaxAge(r), int((full - time.Minute).Seconds()))
			assert.Greater(t, storeTTL(t, raw, cl.SessionCookie()), full-time.Minute, "with the app's value: the full lifetime")

			clock.Advance(40 * time.Second)
			r = cl.SendOTP(0, email)
			require.Equal(t, http.StatusAccepted, r.Status, r)
			assert.Greater(t, sessionMaxAge(r), int((full - time.Minute).Seconds()))
			assert.Greater(t, storeTTL(t, raw, cl.SessionCookie()), full-time.Minute, "a new send does not shorten it")

			clock.Advance(50 * time.Second) // past the first code, within the second
			r = cl.AuthenticateOTP(0, email)
			assert.Equal(t, http.StatusOK, r.Status, r)
		})
	}
}

// TestPreLoginJobValuesKeepLifetime: on Redis and PostgreSQL, a value a background job
// saves in a pending visitor's session (sm.Load and sm.Commit with a context of its own,
// outside Middleware) makes the server keep the session for the full SessionLifetime, and
// the browser's next request through Middleware gets the cookie again with that lifetime.
func TestPreLoginJobValuesKeepLifetime(t *testing.T) {
	t.Parallel()
	for _, b := range []struct {
		name string
		url  func(t *testing.T) string
	}{{"redis", store.RedisURLForTest}, {"postgres", store.PostgresURLForTest}} {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			raw := b.url(t)
			st := store.OpenForTest(t, raw)
			sm := scs.New()
			sm.Store = st
			sm.Cookie.Name = "otlogin"
			c := apptest.New(t, apptest.Options{Store: st, Instances: 1,
				Config: func(cfg *otlogin.Config) {
					cfg.SessionStore, cfg.Sessions = nil, sm
					cfg.OTPTTL = time.Minute
				},
				Routes: func(_ int, _ *otlogin.Auth, mux *http.ServeMux) {
					mux.HandleFunc("GET /app/cart", func(w http.ResponseWriter, r *http.Request) {
						_, _ = w.Write([]byte(sm.GetString(r.Context(), "cart")))
					})
				},
			})
			email := "job-" + b.name + "@example.com"
			c.Emu.CreateUser(email, "")
			cl := c.NewClient()
			const flowOnly, full = time.Minute, 12 * time.Hour // OTPTTL, SessionLifetime

			r := cl.SendOTP(0, email)
			require.Equal(t, http.StatusAccepted, r.Status, r)
			token := cl.SessionCookie()
			assert.LessOrEqual(t, storeTTL(t, raw, token), flowOnly, "a flow-only session: the flow's lifetime")

			ctx, err := sm.Load(context.Background(), token)
			require.NoError(t, err)
			sm.Put(ctx, "cart", "book")
			_, _, err = sm.Commit(ctx)
			require.NoError(t, err)
			assert.Greater(t, storeTTL(t, raw, token), full-time.Minute, "saved by a job with the app's value: the full lifetime")

			r = cl.Get(0, "/app/cart")
			require.Equal(t, http.StatusOK, r.Status, r)
			assert.Equal(t, "book", r.Body)
			assert.Greater(t, sessionMaxAge(r), int((full - time.Minute).Seconds()), "the cookie gets the full lifetime")
			assert.Greater(t, storeTTL(t, raw, token), full-time.Minute)
		})
	}
}
