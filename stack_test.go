package otlogin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
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

// insideApp is scsApp's Auth served a second time, at inside, with the app's own
// sm.LoadAndSave of Config.Sessions mounted inside otlogin's Middleware (the mistake). With
// late, LoadAndSave is mounted the way a gin middleware wraps the rest of the chain: the
// handlers write to Middleware's writer, not LoadAndSave's, so LoadAndSave commits after
// the answer was written. GET /visit counts visits in the session; GET /slow puts a value
// in the session, then blocks until release is closed; GET /read only reads the session.
type insideApp struct {
	*scsApp
	inside  *httptest.Server
	started chan struct{}
	release chan struct{}
	commit  chan error // what sm.Commit(r.Context()) returned in GET /commit
}

func newInsideApp(t *testing.T, late bool) *insideApp {
	t.Helper()
	app := &insideApp{scsApp: newSCSApp(t, false), started: make(chan struct{}, 1), release: make(chan struct{}),
		commit: make(chan error, 1)}
	a, sm := app.h.auth, app.sm
	mux := http.NewServeMux()
	mux.Handle("/auth/", a.Handler())
	mux.HandleFunc("GET /visit", func(w http.ResponseWriter, r *http.Request) {
		sm.Put(r.Context(), "visits", sm.GetInt(r.Context(), "visits")+1)
		_, _ = io.WriteString(w, "visited")
	})
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		sm.Put(r.Context(), "note", "written late")
		app.started <- struct{}{}
		<-app.release
		_, _ = io.WriteString(w, "slow done")
	})
	mux.HandleFunc("GET /read", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "visits="+strconv.Itoa(sm.GetInt(r.Context(), "visits")))
	})
	mux.HandleFunc("GET /commit", func(w http.ResponseWriter, r *http.Request) {
		sm.Put(r.Context(), "note", "committed by hand")
		_, _, err := sm.Commit(r.Context())
		app.commit <- err
		_, _ = io.WriteString(w, "committed")
	})
	mux.Handle("GET /api/me", a.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := UserFromContext(r.Context())
		writeJSON(w, http.StatusOK, map[string]any{"email": u.Email})
	})))
	var h http.Handler = sm.LoadAndSave(mux)
	if late {
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sm.LoadAndSave(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				mux.ServeHTTP(w, r) // Middleware's writer, as gin's c.Writer stays
			})).ServeHTTP(w, r)
		})
	}
	app.inside = httptest.NewServer(a.Middleware(h))
	t.Cleanup(app.inside.Close)
	return app
}

// send sends method path to srv with only the session cookie token (none when "") and
// returns the answer with its body read.
func (app *scsApp) send(srv *httptest.Server, method, path, token string) (*http.Response, string) {
	app.t.Helper()
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader("{}")
	}
	req, err := http.NewRequest(method, srv.URL+path, body)
	require.NoError(app.t, err)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", app.h.auth.origin)
	}
	if token != "" {
		req.AddCookie(&http.Cookie{Name: app.sm.Cookie.Name, Value: token})
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	require.NoError(app.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(app.t, err)
	return resp, string(b)
}

// signIn signs a new browser in through the documented mount and returns its cookie.
func (app *scsApp) signIn(email string) string {
	app.t.Helper()
	app.h.emu.CreateUser(email, "")
	c := app.client()
	status, body := app.do(c, "POST", "/auth/otp/send", map[string]string{"channel": "email", "identifier": email})
	require.Equal(app.t, http.StatusAccepted, status, body)
	status, body = app.do(c, "POST", "/auth/otp/authenticate", map[string]string{"passcode": app.h.lastCode(email)})
	require.Equal(app.t, http.StatusOK, status, body)
	u, err := url.Parse(app.srv.URL)
	require.NoError(app.t, err)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == app.sm.Cookie.Name {
			return ck.Value
		}
	}
	app.t.Fatal("no session cookie after the sign-in")
	return ""
}

// errorLines returns the Error lines of the app's log.
func (app *scsApp) errorLines() []string {
	var lines []string
	for _, l := range strings.Split(app.logs.String(), "\n") {
		if strings.Contains(l, `"level":"ERROR"`) {
			lines = append(lines, l)
		}
	}
	return lines
}

// TestSCSLoadAndSaveInsideLogoutRace: with the app's sm.LoadAndSave mounted inside
// otlogin's Middleware, a slow request that changed the session before a logout must not
// write it back when it ends (docs/SECURITY.md S5, S10). scs's LoadAndSave saves
// unconditionally (sm.Commit), which the app's manager refuses inside Middleware; otlogin's
// own save is an update that finds the session gone. Before the guard, the old cookie was
// signed in again.
func TestSCSLoadAndSaveInsideLogoutRace(t *testing.T) {
	t.Parallel()
	for _, late := range []bool{false, true} {
		t.Run(fmt.Sprintf("late=%v", late), func(t *testing.T) {
			t.Parallel()
			app := newInsideApp(t, late)
			token := app.signIn("ada@example.com")
			resp, body := app.send(app.inside, "GET", "/api/me", token)
			require.Equal(t, http.StatusOK, resp.StatusCode, body)

			type answer struct {
				status int
				body   string
			}
			done := make(chan answer, 1)
			go func() {
				req, _ := http.NewRequest(http.MethodGet, app.inside.URL+"/slow", nil)
				req.AddCookie(&http.Cookie{Name: app.sm.Cookie.Name, Value: token})
				resp, err := http.DefaultTransport.RoundTrip(req)
				if err != nil {
					done <- answer{}
					return
				}
				b, _ := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				done <- answer{resp.StatusCode, string(b)}
			}()
			<-app.started
			resp, body = app.send(app.inside, "POST", "/auth/logout", token)
			require.Equal(t, http.StatusNoContent, resp.StatusCode, body)
			close(app.release)
			slow := <-done

			for _, srv := range []*httptest.Server{app.inside, app.srv} {
				resp, body := app.send(srv, "GET", "/api/me", token)
				assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "signed out stays signed out: %s", body)
			}
			found, err := app.h.auth.storeHas(context.Background(), token)
			require.NoError(t, err)
			assert.False(t, found, "the slow request did not write the session back")

			if late {
				// The answer was written before LoadAndSave's save: it stands, and scs's
				// error page is not appended to it.
				assert.Equal(t, answer{http.StatusOK, "slow done"}, slow)
			} else {
				assert.Equal(t, http.StatusServiceUnavailable, slow.status, slow.body)
				assert.Contains(t, slow.body, msgUnavailable)
			}
			errs := app.errorLines()
			require.Len(t, errs, 1, "one Error line")
			assert.Contains(t, errs[0], `"outcome":"stacked_load_and_save"`)
			assert.Contains(t, errs[0], "Remove sm.LoadAndSave")
			assert.NotContains(t, errs[0], token)
		})
	}
}

// TestSCSLoadAndSaveInside: sm.LoadAndSave of Config.Sessions inside otlogin's Middleware.
// Its save is refused from the first request that changes the session: that answer is
// otlogin's 503 (nothing secret in it), nothing is written to the store, no cookie is set,
// and one Error names the fix. sm.Commit called by a handler inside Middleware is refused
// the same way, with an error that names the fix. A request that only reads the session
// is served as usual and logs nothing.
func TestSCSLoadAndSaveInside(t *testing.T) {
	t.Parallel()
	for _, late := range []bool{false, true} {
		t.Run(fmt.Sprintf("late=%v", late), func(t *testing.T) {
			t.Parallel()
			app := newInsideApp(t, late)
			token := app.signIn("ada@example.com")
			writes := app.store.commits.Load()

			resp, body := app.send(app.inside, "GET", "/read", token)
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, "visits=0", body)
			assert.Empty(t, app.errorLines(), "a read-only request is not a mistake to report")

			resp, body = app.send(app.inside, "GET", "/visit", "")
			if late {
				// otlogin saved the new session first; the second save was refused.
				assert.Equal(t, http.StatusOK, resp.StatusCode)
				assert.Equal(t, "visited", body)
				assert.Equal(t, int64(1), app.store.commits.Load()-writes, "otlogin's save only")
			} else {
				assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
				assert.JSONEq(t, `{"error":"unavailable","message":"`+msgUnavailable+`"}`, body)
				assert.Empty(t, resp.Header.Values("Set-Cookie"))
				assert.Zero(t, app.store.commits.Load()-writes, "nothing saved")
			}
			errs := app.errorLines()
			require.Len(t, errs, 1, "one Error line: %v", errs)
			assert.Contains(t, errs[0], `"outcome":"stacked_load_and_save"`)
			assert.Contains(t, errs[0], "Remove sm.LoadAndSave, and any sm.Commit")
			assert.NotContains(t, errs[0], "same session manager", "the guard cannot know which manager saved")

			writes = app.store.commits.Load()
			resp, _ = app.send(app.inside, "GET", "/commit", token)
			err := <-app.commit
			require.ErrorIs(t, err, errCommitRefused)
			assert.Contains(t, err.Error(), "remove sm.LoadAndSave")
			assert.NotContains(t, err.Error(), token)
			assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "the handler's sm.Commit was refused before it answered")
			if !late {
				assert.Zero(t, app.store.commits.Load()-writes, "nothing saved")
			}
			assert.Len(t, app.errorLines(), 1, "still one Error line")
			resp, body = app.send(app.srv, "GET", "/api/me", token)
			assert.Equal(t, http.StatusOK, resp.StatusCode, "the session is intact: %s", body)
		})
	}
}

// TestSCSCommitOutsideRequest: the app's sm.Commit outside a request otlogin serves (a
// background job with its own context) saves as before, and otlogin's requests see it.
func TestSCSCommitOutsideRequest(t *testing.T) {
	t.Parallel()
	app := newSCSApp(t, false)
	token := app.signIn("ada@example.com")
	done := make(chan error, 1)
	go func() {
		ctx, err := app.sm.Load(context.Background(), token)
		if err != nil {
			done <- err
			return
		}
		app.sm.Put(ctx, "visits", 41)
		_, _, err = app.sm.Commit(ctx)
		done <- err
	}()
	require.NoError(t, <-done)
	resp, body := app.send(app.srv, "GET", "/api/me", token)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	assert.JSONEq(t, `{"email":"ada@example.com","visits":41}`, body)
	assert.Empty(t, app.errorLines())
}

// TestSCSOtherManagerSameCookie: a second session manager whose cookie has otlogin's name,
// used inside Middleware, overwrites the browser's session cookie. Its store is not
// otlogin's, so only the cookie shows it: one Error names the cookie and says to give the
// managers different names. A logout through sm.LoadAndSave of Config.Sessions, whose
// deletion cookie matches otlogin's, is not mistaken for it.
func TestSCSOtherManagerSameCookie(t *testing.T) {
	t.Parallel()
	app := newSCSApp(t, false)
	other := scs.New()
	other.Store = NewMemoryStore()
	other.Cookie.Name = app.sm.Cookie.Name
	mux := http.NewServeMux()
	mux.Handle("/auth/", app.h.auth.Handler())
	mux.Handle("GET /cart", other.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		other.Put(r.Context(), "cart", "1 item")
		_, _ = io.WriteString(w, "cart")
	})))
	mux.Handle("POST /auth/logout", app.sm.LoadAndSave(app.h.auth.Handler()))
	srv := httptest.NewServer(app.h.auth.Middleware(mux))
	t.Cleanup(srv.Close)

	token := app.signIn("ada@example.com")
	resp, body := app.send(srv, "POST", "/auth/logout", token)
	require.Equal(t, http.StatusNoContent, resp.StatusCode, body)
	assert.Len(t, resp.Header.Values("Set-Cookie"), 2, "LoadAndSave's deletion cookie, then otlogin's")
	assert.Empty(t, app.errorLines(), "a deletion cookie of Config.Sessions is no clash")

	resp, body = app.send(srv, "GET", "/cart", "")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	errs := app.errorLines()
	require.Len(t, errs, 1)
	assert.Contains(t, errs[0], `"outcome":"cookie_name_clash"`)
	assert.Contains(t, errs[0], `the cookie \"app_session\"`)
	assert.Contains(t, errs[0], "different cookie name")
}

// TestIterateCommitWithRequestContext: sm.Iterate run with a signed-in request's context,
// committing inside, has every commit refused (it could write back a session a logout
// deleted) and the answer is the 503; the error sm.Iterate returns and the one Error line
// name the fix, a context of its own, not sm.LoadAndSave. With context.Background() the
// same commits go through.
func TestIterateCommitWithRequestContext(t *testing.T) {
	t.Parallel()
	sm := scs.New()
	sm.Store = NewMemoryStore()
	sm.Cookie.Name = "app_session"
	h := newHarness(t, func(c *Config) { c.Sessions = sm })
	touchAll := func(ctx context.Context) error {
		return sm.Iterate(ctx, func(ctx context.Context) error {
			sm.Put(ctx, "app.touched", "yes")
			_, _, err := sm.Commit(ctx)
			return err
		})
	}
	iterErr := make(chan error, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /touch-all", func(w http.ResponseWriter, r *http.Request) {
		err := touchAll(r.Context())
		iterErr <- err
		if err != nil {
			http.Error(w, "failed", http.StatusInternalServerError)
		}
	})
	srv := httptest.NewServer(h.auth.Middleware(mux))
	t.Cleanup(srv.Close)

	h.emu.CreateUser("ada@example.com", "")
	h.emu.CreateUser("bob@example.com", "")
	ada, admin := h.newClient(), h.newClient()
	require.Equal(t, http.StatusSeeOther, h.signInLink(ada, "ada@example.com", "/").StatusCode)
	require.Equal(t, http.StatusSeeOther, h.signInLink(admin, "bob@example.com", "/").StatusCode)

	r := h.get(admin, srv.URL+"/touch-all") // the jar's cookie: same host, another port
	assert.Equal(t, http.StatusServiceUnavailable, r.StatusCode, r.body)
	err := <-iterErr
	require.ErrorIs(t, err, errCommitOtherRefused)
	assert.Contains(t, err.Error(), "context.Background()")
	var errs []string
	for _, l := range strings.Split(h.logs.String(), "\n") {
		if strings.Contains(l, `"level":"ERROR"`) {
			errs = append(errs, l)
		}
	}
	require.Len(t, errs, 1, "one Error line: %v", errs)
	assert.Contains(t, errs[0], `"outcome":"commit_with_request_context"`)
	assert.Contains(t, errs[0], "sm.Iterate")
	assert.Contains(t, errs[0], "context.Background()")
	assert.NotContains(t, errs[0], "Remove sm.LoadAndSave", "not the fix for this mistake")
	assert.Equal(t, "", h.get(ada, "/app/get?k=touched").body, "nothing was saved")

	require.NoError(t, touchAll(context.Background()), "a context of its own: saved")
	assert.Equal(t, "yes", h.get(ada, "/app/get?k=touched").body)
	assert.Equal(t, http.StatusOK, h.get(ada, "/dashboard").StatusCode, "still signed in")
}
