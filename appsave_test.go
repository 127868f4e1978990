package otlogin

import (
	"context"
	"encoding/json"
	"fmt"
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
)

// This file tests the app's own writes through Config.Sessions that otlogin does not make:
// sm.RenewToken and sm.Destroy inside Middleware, sm.LoadAndSave mounted beside Middleware,
// and sm.Commit from a background job (docs/SECURITY.md S5, S10). None may undo a logout.

// saveApp is an app that already uses scs (its manager is Config.Sessions) and mounts
// otlogin's Middleware as documented, plus a sub-tree under sm.LoadAndSave beside it
// (/beside/, not served by Middleware). Its handlers can be held at a gate: started
// receives when a gated handler reaches it, release lets it go on.
//
//   - /auth/: otlogin's routes; a request with the header X-Test-Renew gets sm.RenewToken
//     first (an app middleware that renews the token around the sign-in).
//   - GET / counts visits in the session (an app-only session).
//   - GET /api/me (RequireAuth) answers the email, visits and org.
//   - GET /renew?when=before|after|now: sm.RenewToken then sm.Put("org", "42"); "before"
//     renews before the gate, "after" after it, "now" has no gate.
//   - GET /destroy: sm.Destroy; GET /destroy-late writes the answer first.
//   - GET /beside/put?gate=1 (sm.LoadAndSave, beside Middleware): sm.Put("note", "beside");
//     GET /beside/renew: sm.RenewToken.
type saveApp struct {
	*scsApp
	started chan struct{}
	release chan struct{}
}

// saveAppOptions: the store behind the app's manager (nil: a countingStore) and its codec
// (nil: scs's default, GobCodec).
type saveAppOptions struct {
	store scs.Store
	codec scs.Codec
	hash  bool // the manager's HashTokenInStore
}

func newSaveApp(t *testing.T, opts saveAppOptions) *saveApp {
	t.Helper()
	app := &saveApp{scsApp: &scsApp{t: t, store: newCountingStore(), logs: &safe.Buffer{}},
		started: make(chan struct{}, 1), release: make(chan struct{})}
	app.sm = scs.New()
	app.sm.Store = app.store
	if opts.store != nil {
		app.sm.Store = opts.store
	}
	if opts.codec != nil {
		app.sm.Codec = opts.codec
	}
	app.sm.HashTokenInStore = opts.hash
	app.sm.Cookie.Name = "app_session"
	app.h = newHarness(t, func(c *Config) {
		c.Sessions = app.sm
		c.Logger = slog.New(slog.NewJSONHandler(app.logs, nil))
	})
	a, sm := app.h.auth, app.sm
	gate := func() {
		app.started <- struct{}{}
		<-app.release
	}
	mux := http.NewServeMux()
	mux.Handle("/auth/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Test-Renew") != "" {
			if err := sm.RenewToken(r.Context()); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
		a.Handler().ServeHTTP(w, r)
	}))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		sm.Put(r.Context(), "visits", sm.GetInt(r.Context(), "visits")+1)
		_, _ = io.WriteString(w, "home")
	})
	mux.Handle("GET /api/me", a.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := UserFromContext(r.Context())
		writeJSON(w, http.StatusOK, map[string]any{"email": u.Email, "visits": sm.GetInt(r.Context(), "visits"),
			"org": sm.GetString(r.Context(), "org")})
	})))
	mux.HandleFunc("GET /renew", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		_ = sm.GetInt(ctx, "visits") // the session is loaded before the gate
		when := r.URL.Query().Get("when")
		if when == "after" {
			gate()
		}
		if err := sm.RenewToken(ctx); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		sm.Put(ctx, "org", "42")
		if when == "before" {
			gate()
		}
		_, _ = io.WriteString(w, "renewed")
	})
	mux.HandleFunc("GET /destroy", func(w http.ResponseWriter, r *http.Request) {
		if err := sm.Destroy(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, "destroyed")
	})
	mux.HandleFunc("GET /destroy-late", func(w http.ResponseWriter, r *http.Request) {
		_ = sm.GetInt(r.Context(), "visits")
		_, _ = io.WriteString(w, "destroying")
		if err := sm.Destroy(r.Context()); err != nil {
			panic(err)
		}
	})
	beside := http.NewServeMux()
	beside.HandleFunc("GET /beside/put", func(w http.ResponseWriter, r *http.Request) {
		_ = sm.GetInt(r.Context(), "visits")
		if r.URL.Query().Get("gate") != "" {
			gate()
		}
		sm.Put(r.Context(), "note", "beside")
		_, _ = io.WriteString(w, "put")
	})
	beside.HandleFunc("GET /beside/renew", func(w http.ResponseWriter, r *http.Request) {
		if err := sm.RenewToken(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, "renewed")
	})
	root := http.NewServeMux()
	root.Handle("/", a.Middleware(mux))
	root.Handle("/beside/", sm.LoadAndSave(beside))
	app.srv = httptest.NewServer(root)
	t.Cleanup(app.srv.Close)
	return app
}

// get sends GET path with only the session cookie token (none when "") and returns the
// status, the body and the session cookie the answer sets (absent: set is false).
func (app *saveApp) get(path, token string) (status int, body, cookie string, set bool) {
	app.t.Helper()
	resp, body := app.send(app.srv, http.MethodGet, path, token)
	for _, c := range resp.Cookies() {
		if c.Name == app.sm.Cookie.Name {
			cookie, set = c.Value, true
			if c.MaxAge < 0 {
				cookie = ""
			}
		}
	}
	return resp.StatusCode, body, cookie, set
}

// me returns what GET /api/me answers for token.
func (app *saveApp) me(token string) (int, map[string]any) {
	app.t.Helper()
	status, body, _, _ := app.get("/api/me", token)
	var v map[string]any
	if status == http.StatusOK {
		require.NoError(app.t, json.Unmarshal([]byte(body), &v), body)
	}
	return status, v
}

// logout logs token out and waits for the Mosaic revocation that runs in the background.
func (app *saveApp) logout(token string) {
	app.t.Helper()
	resp, body := app.send(app.srv, http.MethodPost, "/auth/logout", token)
	require.Equal(app.t, http.StatusNoContent, resp.StatusCode, body)
	require.NoError(app.t, app.h.auth.Shutdown(context.Background()))
}

// gated runs GET path with token in the background once the handler reached the gate, runs
// during, then releases the handler and returns its answer: status, body, the cookie set.
func (app *saveApp) gated(path, token string, during func()) (status int, body, cookie string, set bool) {
	type answer struct {
		status      int
		body, value string
		set         bool
	}
	done := make(chan answer, 1)
	go func() {
		var a answer
		defer func() { done <- a }()
		req, err := http.NewRequest(http.MethodGet, app.srv.URL+path, nil)
		if err != nil {
			return
		}
		req.AddCookie(&http.Cookie{Name: app.sm.Cookie.Name, Value: token})
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			return
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		a.status, a.body = resp.StatusCode, string(b)
		for _, c := range resp.Cookies() {
			if c.Name == app.sm.Cookie.Name {
				a.value, a.set = c.Value, true
				if c.MaxAge < 0 {
					a.value = ""
				}
			}
		}
	}()
	select {
	case <-app.started:
	case a := <-done:
		app.t.Fatalf("GET %s answered %d %q without reaching the gate", path, a.status, a.body)
	}
	during()
	close(app.release)
	a := <-done
	return a.status, a.body, a.value, a.set
}

// storeHas reports whether the app's store holds token.
func (app *saveApp) storeHas(token string) bool {
	app.t.Helper()
	found, err := app.h.auth.storeHas(context.Background(), token)
	require.NoError(app.t, err)
	return found
}

// warns returns the Warn lines of the log with outcome.
func (app *saveApp) warns(outcome string) []string {
	var out []string
	for _, l := range strings.Split(app.logs.String(), "\n") {
		if strings.Contains(l, `"level":"WARN"`) && strings.Contains(l, `"outcome":"`+outcome+`"`) {
			out = append(out, l)
		}
	}
	return out
}

// assertSignedOut checks that nothing of a logged-out session is signed in: not its old
// cookie, not the cookie a racing answer set, and no record of the store.
func (app *saveApp) assertSignedOut(old, answered string) {
	app.t.Helper()
	status, _ := app.me(old)
	assert.Equal(app.t, http.StatusUnauthorized, status, "the old cookie stays signed out")
	if answered != "" && answered != old {
		status, _ := app.me(answered)
		assert.Equal(app.t, http.StatusUnauthorized, status, "the cookie the racing answer set is not signed in")
	}
	assert.False(app.t, app.storeHas(old), "the logged-out session is not written back")
	assert.Zero(app.t, app.store.signedIn(), "no record of the store is signed in")
	assert.Zero(app.t, app.h.emu.SessionCount(), "the Mosaic session was revoked")
}

// TestSCSRenewTokenRacingLogout: the app's sm.RenewToken of a signed-in session inside
// Middleware (scs advises it at privilege changes), racing a logout (docs/SECURITY.md S5,
// S10). scs's RenewToken deletes the old token and the session is then saved under a new
// one: before, a logout between the two was undone (the new token was inserted, signed in),
// and a logout after the delete found no session and left the Mosaic session alive.
// otlogin holds the delete back until the request's save; a signed-in session keeps its
// token (otlogin renewed it at sign-in), saved only while it still exists.
func TestSCSRenewTokenRacingLogout(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		when string
		hash bool
	}{{"after", false}, {"before", false}, {"after", true}} {
		when := tc.when
		t.Run(fmt.Sprintf("renew %s the logout, HashTokenInStore=%v", when, tc.hash), func(t *testing.T) {
			t.Parallel()
			app := newSaveApp(t, saveAppOptions{hash: tc.hash})
			token := app.signIn("ada@example.com")
			require.Equal(t, 1, app.h.emu.SessionCount())
			status, body, cookie, _ := app.gated("/renew?when="+when, token, func() { app.logout(token) })
			assert.Equal(t, http.StatusOK, status)
			assert.Equal(t, "renewed", body)
			app.assertSignedOut(token, cookie)
		})
	}
	t.Run("anonymous", func(t *testing.T) {
		t.Parallel()
		app := newSaveApp(t, saveAppOptions{})
		_, _, token, set := app.get("/", "")
		require.True(t, set)
		status, body, cookie, set := app.get("/renew?when=now", token)
		require.Equal(t, http.StatusOK, status, body)
		require.True(t, set)
		assert.NotEqual(t, token, cookie, "an anonymous session renews as scs does")
		assert.False(t, app.storeHas(token), "the old token is deleted")
		_, body, _, _ = app.get("/", cookie)
		assert.Equal(t, "home", body)
		assert.True(t, app.storeHas(cookie))
		assert.Empty(t, app.warns("renew_ignored"))

		status, _, renewed, _ := app.gated("/renew?when=after", cookie, func() { app.logout(cookie) })
		assert.Equal(t, http.StatusOK, status)
		assert.False(t, app.storeHas(cookie))
		app.assertSignedOut(cookie, renewed)
	})
}

// TestSCSRenewTokenSignedInKeepsToken: without a race, the app's sm.RenewToken of a
// signed-in session keeps its token: the answer sets the same cookie, the app's change is
// saved under it, no second signed-in record appears, and one Warn says that otlogin renews
// the token at sign-in and ignores RenewToken on a signed-in session. With a store without
// UpdateStore, the save under the kept token is checked then written, as otlogin's own.
func TestSCSRenewTokenSignedInKeepsToken(t *testing.T) {
	t.Parallel()
	for _, update := range []bool{true, false} {
		t.Run(fmt.Sprintf("update=%v", update), func(t *testing.T) {
			t.Parallel()
			opts := saveAppOptions{}
			cs := newCountingStore()
			if !update {
				opts.store = plainStore{cs}
			} else {
				opts.store = cs
			}
			app := newSaveApp(t, opts)
			app.store = cs
			token := app.signIn("ada@example.com")
			for range 2 {
				status, body, cookie, set := app.get("/renew?when=now", token)
				require.Equal(t, http.StatusOK, status, body)
				assert.True(t, set)
				assert.Equal(t, token, cookie, "the signed-in session keeps its token")
			}
			status, me := app.me(token)
			require.Equal(t, http.StatusOK, status)
			assert.Equal(t, "42", me["org"], "the app's change is saved")
			assert.Equal(t, 1, app.store.signedIn(), "one signed-in record")
			renew := app.warns("renew_ignored")
			require.Len(t, renew, 1, "one Warn: %s", app.logs)
			assert.Contains(t, renew[0], "renews the session token at sign-in")
			assert.NotContains(t, renew[0], token)
		})
	}
}

// TestSCSRenewTokenAroundSignIn: an app middleware calls sm.RenewToken before otlogin's
// sign-in handler in the same request. The sign-in renews the token itself and gets a new
// session, never saved under the token the browser came with (session fixation, S1), over
// an anonymous session as over an earlier sign-in; the old token is deleted.
func TestSCSRenewTokenAroundSignIn(t *testing.T) {
	t.Parallel()
	for _, again := range []bool{false, true} {
		t.Run(fmt.Sprintf("over an earlier sign-in=%v", again), func(t *testing.T) {
			t.Parallel()
			app := newSaveApp(t, saveAppOptions{})
			token := ""
			if again {
				token = app.signIn("ada@example.com")
			}
			post := func(path, token string, renew bool, body map[string]string) (int, string) {
				t.Helper()
				b, err := json.Marshal(body)
				require.NoError(t, err)
				req, err := http.NewRequest(http.MethodPost, app.srv.URL+path, strings.NewReader(string(b)))
				require.NoError(t, err)
				req.Header.Set("Accept", "application/json")
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Origin", app.h.auth.origin)
				if renew {
					req.Header.Set("X-Test-Renew", "1")
				}
				if token != "" {
					req.AddCookie(&http.Cookie{Name: app.sm.Cookie.Name, Value: token})
				}
				resp, err := http.DefaultTransport.RoundTrip(req)
				require.NoError(t, err)
				_, _ = io.Copy(io.Discard, resp.Body)
				require.NoError(t, resp.Body.Close())
				for _, c := range resp.Cookies() {
					if c.Name == app.sm.Cookie.Name {
						return resp.StatusCode, c.Value
					}
				}
				return resp.StatusCode, ""
			}
			app.h.emu.CreateUser("bob@example.com", "")
			status, flow := post("/auth/otp/send", token, false, map[string]string{"channel": "email", "identifier": "bob@example.com"})
			require.Equal(t, http.StatusAccepted, status)
			if flow == "" {
				flow = token // a signed-in session keeps its cookie
			}
			require.NotEmpty(t, flow)
			status, signedIn := post("/auth/otp/authenticate", flow, true, map[string]string{"passcode": app.h.lastCode("bob@example.com")})
			require.Equal(t, http.StatusOK, status)
			assert.NotEqual(t, flow, signedIn, "the sign-in has a token of its own")
			assert.NotEqual(t, token, signedIn)
			assert.False(t, app.storeHas(flow), "the token the browser came with is deleted")
			status, me := app.me(signedIn)
			require.Equal(t, http.StatusOK, status)
			assert.Equal(t, "bob@example.com", me["email"])
			assert.Equal(t, 1, app.store.signedIn())
			assert.Empty(t, app.warns("renew_ignored"), "the sign-in renewed: nothing was ignored")
		})
	}
}

// TestSCSDestroyInsideMiddleware: the app's own sm.Destroy inside Middleware ends the
// session, before the answer is written (the delete runs at otlogin's save) or after it
// (the delete runs at once).
func TestSCSDestroyInsideMiddleware(t *testing.T) {
	t.Parallel()
	for _, path := range []string{"/destroy", "/destroy-late"} {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			app := newSaveApp(t, saveAppOptions{})
			token := app.signIn("ada@example.com")
			status, body, cookie, set := app.get(path, token)
			require.Equal(t, http.StatusOK, status, body)
			if path == "/destroy" {
				assert.True(t, set)
				assert.Empty(t, cookie, "the cookie is deleted")
			}
			assert.False(t, app.storeHas(token))
			status, _ = app.me(token)
			assert.Equal(t, http.StatusUnauthorized, status)
		})
	}
}

// TestSCSLoadAndSaveBesideLogoutRace: the app's sm.LoadAndSave mounted beside Middleware
// (a legacy sub-tree otlogin does not serve) saves with the app's manager, through the
// guard but outside otlogin's requests. A save of a session that holds otlogin's signed-in
// state is an update that finds a logged-out session gone, and is dropped (scs is told it
// succeeded; one Warn says what happened and what to change); before, it wrote the session
// back. Sessions without otlogin's state (an app-only one, a new one) save as before.
// Each codec: otlogin's Codec (read in place) and scs's GobCodec (decoded); a store without
// UpdateStore is checked then written.
func TestSCSLoadAndSaveBesideLogoutRace(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		codec  scs.Codec
		update bool
	}{{"Codec", Codec{}, true}, {"GobCodec", nil, true}, {"no UpdateStore", nil, false}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cs := newCountingStore()
			opts := saveAppOptions{store: cs, codec: tc.codec}
			if !tc.update {
				opts.store = plainStore{cs}
			}
			app := newSaveApp(t, opts)
			app.store = cs

			status, body, fresh, set := app.get("/beside/put", "")
			require.Equal(t, http.StatusOK, status, body)
			require.True(t, set, "a new session beside is saved")
			assert.True(t, app.storeHas(fresh))
			status, _, _, _ = app.get("/beside/put", fresh)
			require.Equal(t, http.StatusOK, status)
			assert.True(t, app.storeHas(fresh), "an app-only session beside is saved")

			token := app.signIn("ada@example.com")
			status, _, _, _ = app.get("/beside/put", token)
			require.Equal(t, http.StatusOK, status)
			status, _ = app.me(token)
			require.Equal(t, http.StatusOK, status, "a signed-in session saved beside stays signed in")
			assert.Empty(t, app.warns("save_after_logout_dropped"), "nothing to report yet")

			status, _, _, _ = app.gated("/beside/put?gate=1", token, func() { app.logout(token) })
			assert.Equal(t, http.StatusOK, status)
			app.assertSignedOut(token, "")
			warns := app.warns("save_after_logout_dropped")
			require.Len(t, warns, 1, "one Warn: %s", app.logs)
			assert.Contains(t, warns[0], "Middleware")
			assert.NotContains(t, warns[0], token)

			// sm.RenewToken beside Middleware deletes the old token at once (scs), so the
			// signed-in session saved under the new one is a save of a session that is gone:
			// the renew signs the browser out rather than risk undoing a logout.
			token = app.signIn("bob@example.com")
			status, _, renewed, set := app.get("/beside/renew", token)
			require.Equal(t, http.StatusOK, status)
			require.True(t, set)
			for _, tok := range []string{token, renewed} {
				status, _ := app.me(tok)
				assert.Equal(t, http.StatusUnauthorized, status)
			}
			assert.Zero(t, app.store.signedIn())
		})
	}
}

// TestSCSBackgroundCommitAfterLogout: a background job loads a signed-in session with a
// context of its own (sm.Load(context.Background(), token)) and commits after a logout:
// the commit returns nil and writes nothing (before, it wrote the session back). A job's
// commit of a session that still exists is saved (TestSCSCommitOutsideRequest).
func TestSCSBackgroundCommitAfterLogout(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		codec scs.Codec
	}{{"Codec", Codec{}}, {"GobCodec", nil}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			app := newSaveApp(t, saveAppOptions{codec: tc.codec})
			token := app.signIn("ada@example.com")
			job, err := app.sm.Load(context.Background(), token)
			require.NoError(t, err)
			app.logout(token)
			app.sm.Put(job, "job", "done")
			_, _, err = app.sm.Commit(job)
			require.NoError(t, err, "a dropped save is no error the job could act on")
			app.assertSignedOut(token, "")
			assert.Len(t, app.warns("save_after_logout_dropped"), 1, "one Warn: %s", app.logs)
		})
	}
}

// TestNestedMiddlewareSameManager: two Auths on one manager, the second's Middleware
// mounted inside the first's. The inner one serves its requests like a store outage (it
// cannot save the session a second time safely), and its Error names the real cause,
// another otlogin Middleware on the same session manager, and the fix; not sm.LoadAndSave.
func TestNestedMiddlewareSameManager(t *testing.T) {
	t.Parallel()
	app := newSaveApp(t, saveAppOptions{})
	a2, err := New(Config{Client: app.h.auth.client, PublicURL: app.h.auth.origin, Sessions: app.sm, Prefix: "/admin/auth",
		AllowLocalLimits: true, Logger: slog.New(slog.NewJSONHandler(app.logs, nil))})
	require.NoError(t, err)
	admin := http.NewServeMux()
	admin.Handle("/admin/auth/", a2.Handler())
	admin.Handle("GET /admin/me", a2.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "admin")
	})))
	mux := http.NewServeMux()
	mux.Handle("/auth/", app.h.auth.Handler())
	mux.Handle("/admin/", a2.Middleware(admin))
	srv := httptest.NewServer(app.h.auth.Middleware(mux))
	t.Cleanup(srv.Close)

	token := app.signIn("ada@example.com")
	resp, body := app.send(srv, http.MethodGet, "/admin/me", token)
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, body)
	errs := app.errorLines()
	require.Len(t, errs, 1, "one Error: %v", errs)
	assert.Contains(t, errs[0], `"outcome":"nested_middleware"`)
	assert.Contains(t, errs[0], "another otlogin Middleware")
	assert.Contains(t, errs[0], "same session manager")
	assert.NotContains(t, errs[0], "sm.LoadAndSave", "there is no sm.LoadAndSave to remove")
	assert.True(t, app.storeHas(token), "the session is intact")
}
