package otlogin

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/alexedwards/scs/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin/internal/apptest/safe"
	"github.com/otlogin/otlogin/transmit/transmittest"
)

// scsApp is an app that already uses scs: its own manager (given to otlogin as
// Config.Sessions), a public page that keeps a value in the session, a protected API.
type scsApp struct {
	t     *testing.T
	h     *harness
	sm    *scs.SessionManager
	store *countingStore
	logs  *safe.Buffer
	srv   *httptest.Server
}

func newSCSApp(t *testing.T, stacked bool) *scsApp {
	t.Helper()
	app := &scsApp{t: t, store: newCountingStore(), logs: &safe.Buffer{}}
	app.sm = scs.New()
	app.sm.Store = app.store
	app.sm.Cookie.Name = "app_session"
	app.sm.Cookie.HttpOnly = true
	app.h = newHarness(t, func(c *Config) {
		c.Sessions = app.sm
		c.Logger = slog.New(slog.NewJSONHandler(app.logs, nil))
	})
	a, sm := app.h.auth, app.sm
	mux := http.NewServeMux()
	mux.Handle("/auth/", a.Handler())
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		sm.Put(r.Context(), "visits", sm.GetInt(r.Context(), "visits")+1)
		_, _ = io.WriteString(w, "home")
	})
	mux.Handle("GET /api/me", a.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := UserFromContext(r.Context())
		writeJSON(w, http.StatusOK, map[string]any{"email": u.Email, "visits": sm.GetInt(r.Context(), "visits")})
	})))
	var h http.Handler = a.Middleware(mux) // the documented way: otlogin replaces LoadAndSave
	if stacked {
		h = sm.LoadAndSave(h) // the mistake: LoadAndSave of the same manager around it
	}
	app.srv = httptest.NewServer(h)
	t.Cleanup(app.srv.Close)
	return app
}

func (app *scsApp) client() *http.Client { return safe.NewBrowser(0) }

func (app *scsApp) do(c *http.Client, method, path string, body any) (int, string) {
	app.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(app.t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, app.srv.URL+path, rd)
	require.NoError(app.t, err)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", app.h.auth.origin)
	}
	resp, err := c.Do(req)
	require.NoError(app.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestSCSDocumentedMount: an app that already uses scs gives its manager to otlogin and
// mounts otlogin's Middleware in place of sm.LoadAndSave. Its own session values and the
// sign-in live in the one session, saved once per request.
func TestSCSDocumentedMount(t *testing.T) {
	t.Parallel()
	app := newSCSApp(t, false)
	app.h.emu.CreateUser("ada@example.com", "")
	c := app.client()
	status, _ := app.do(c, "GET", "/", nil)
	require.Equal(t, http.StatusOK, status)
	before := app.store.commits.Load()
	status, _ = app.do(c, "GET", "/", nil)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, int64(1), app.store.commits.Load()-before, "one store write for a request that changed the session")

	status, body := app.do(c, "POST", "/auth/otp/send", map[string]string{"channel": "email", "identifier": "ada@example.com"})
	require.Equal(t, http.StatusAccepted, status, body)
	status, body = app.do(c, "POST", "/auth/otp/authenticate", map[string]string{"passcode": app.h.lastCode("ada@example.com")})
	require.Equal(t, http.StatusOK, status, body)
	status, body = app.do(c, "GET", "/api/me", nil)
	require.Equal(t, http.StatusOK, status, body)
	assert.JSONEq(t, `{"email":"ada@example.com","visits":2}`, body, "the app's value survived the sign-in")
	assert.NotContains(t, app.logs.String(), "stacked_load_and_save")
}

// TestSCSStackedLoadAndSave: otlogin mounted inside sm.LoadAndSave of the same manager
// would save each changed session twice, the second time without otlogin's checks (the
// update-if-exists save, the 503 on a failed save). Middleware detects it at the first
// request, logs at Error what to change, and takes no part: no session is saved twice,
// nothing is signed in, public routes keep working with the app's own session values.
func TestSCSStackedLoadAndSave(t *testing.T) {
	t.Parallel()
	app := newSCSApp(t, true)
	app.h.emu.CreateUser("ada@example.com", "")
	c := app.client()
	status, _ := app.do(c, "GET", "/", nil)
	require.Equal(t, http.StatusOK, status)
	before := app.store.commits.Load()
	status, body := app.do(c, "GET", "/", nil)
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, int64(1), app.store.commits.Load()-before, "one store write for a request that changed the session, not two")

	sends := app.h.emu.Calls(transmittest.EndpointSendOTP)
	before = app.store.commits.Load()
	status, body = app.do(c, "POST", "/auth/otp/send", map[string]string{"channel": "email", "identifier": "ada@example.com"})
	assert.Equal(t, http.StatusServiceUnavailable, status, "no sign-in through a session otlogin cannot save safely: %s", body)
	assert.Equal(t, sends, app.h.emu.Calls(transmittest.EndpointSendOTP), "nothing sent")
	assert.LessOrEqual(t, app.store.commits.Load()-before, int64(1))
	status, body = app.do(c, "GET", "/api/me", nil)
	assert.Equal(t, http.StatusServiceUnavailable, status, body)

	logs := app.logs.String()
	assert.Equal(t, 1, strings.Count(logs, `"level":"ERROR"`), "one Error line: %s", logs)
	assert.Contains(t, logs, "Remove sm.LoadAndSave around otlogin")
}

// TestSCSLoadAndSaveInside: sm.LoadAndSave of the same manager inside otlogin's Middleware
// saves the session before otlogin can; Middleware cannot undo that write, but logs at
// Error, once, what to change.
func TestSCSLoadAndSaveInside(t *testing.T) {
	t.Parallel()
	app := newSCSApp(t, false)
	sm := app.sm
	inner := sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sm.Put(r.Context(), "visits", sm.GetInt(r.Context(), "visits")+1)
		_, _ = io.WriteString(w, "inner")
	}))
	srv := httptest.NewServer(app.h.auth.Middleware(inner))
	t.Cleanup(srv.Close)
	c := app.client()
	for range 2 {
		resp, err := c.Get(srv.URL + "/")
		require.NoError(t, err)
		_ = resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	logs := app.logs.String()
	assert.Equal(t, 1, strings.Count(logs, `"level":"ERROR"`), "one Error line: %s", logs)
	assert.Contains(t, logs, "Remove sm.LoadAndSave")
}
