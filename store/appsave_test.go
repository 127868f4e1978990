package store_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/alexedwards/scs/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin"
	"github.com/otlogin/otlogin/internal/apptest/safe"
	"github.com/otlogin/otlogin/transmit"
	"github.com/otlogin/otlogin/transmit/transmittest"
)

// TestAppSavesRacingLogout: an app passes its own manager over a Store of this package as
// Config.Sessions and saves the session itself while a logout runs (docs/SECURITY.md S5,
// S10), on each backend:
//   - renew: sm.RenewToken of the signed-in session inside Middleware, after the logout's
//     delete or before the logout (then the logout must still find the session and revoke
//     its Mosaic session);
//   - beside: sm.Put under sm.LoadAndSave mounted beside Middleware, saved after the logout.
//
// Afterwards nothing is signed in: not the old cookie, not a cookie the racing answer set,
// and the store holds no record of the old token.
func TestAppSavesRacingLogout(t *testing.T) {
	t.Parallel()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			st := b.open(t)
			for _, tc := range []struct{ name, path string }{
				{"renew after the logout", "/renew?when=after"},
				{"renew before the logout", "/renew?when=before"},
				{"beside", "/beside/put"},
			} {
				path := tc.path
				t.Run(tc.name, func(t *testing.T) {
					app := newSavingApp(t, st)
					token := app.signIn("ada-" + b.name + "@example.com")
					require.Equal(t, 1, app.emu.SessionCount())

					type answer struct {
						status int
						cookie string
					}
					done := make(chan answer, 1)
					go func() {
						resp, err := app.send(http.MethodGet, path, token, nil)
						if err != nil {
							done <- answer{}
							return
						}
						done <- answer{resp.StatusCode, cookieOf(resp, app.sm.Cookie.Name)}
					}()
					<-app.started
					resp, err := app.send(http.MethodPost, "/auth/logout", token, map[string]string{})
					require.NoError(t, err)
					require.Equal(t, http.StatusNoContent, resp.StatusCode)
					close(app.release)
					racing := <-done
					require.Equal(t, http.StatusOK, racing.status)
					require.NoError(t, app.auth.Shutdown(context.Background()))

					for _, tok := range []string{token, racing.cookie} {
						if tok == "" {
							continue
						}
						resp, err := app.send(http.MethodGet, "/api/me", tok, nil)
						require.NoError(t, err)
						assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "signed out stays signed out")
					}
					_, found, err := st.FindCtx(context.Background(), token)
					require.NoError(t, err)
					assert.False(t, found, "the session was not written back")
					assert.Zero(t, app.emu.SessionCount(), "the Mosaic session was revoked")
				})
			}
		})
	}
}

// savingApp is TestAppSavesRacingLogout's app: Middleware over its routes, and a sub-tree
// under sm.LoadAndSave beside it. The racing handlers stop at a gate: started receives
// when one reaches it, release lets it go on.
type savingApp struct {
	t                *testing.T
	emu              *transmittest.Server
	auth             *otlogin.Auth
	sm               *scs.SessionManager
	srv              *httptest.Server
	origin           string
	started, release chan struct{}
}

func newSavingApp(t *testing.T, st scs.Store) *savingApp {
	t.Helper()
	app := &savingApp{t: t, emu: transmittest.NewTestServer(t, transmittest.Options{}), started: make(chan struct{}, 1),
		release: make(chan struct{})}
	app.sm = scs.New()
	app.sm.Store = st
	app.sm.Cookie.Name = "app_session"
	client, err := transmit.New(transmit.Config{BaseURL: app.emu.BaseURL(), ClientID: app.emu.ClientID, ClientSecret: app.emu.ClientSecret})
	require.NoError(t, err)
	app.srv = httptest.NewUnstartedServer(nil)
	app.origin = "http://" + app.srv.Listener.Addr().String()
	app.auth, err = otlogin.New(otlogin.Config{Client: client, PublicURL: app.origin, Sessions: app.sm, AllowLocalLimits: true,
		Logger: slog.New(slog.NewJSONHandler(&safe.Buffer{}, nil))})
	require.NoError(t, err)
	a, sm := app.auth, app.sm
	gate := func() {
		app.started <- struct{}{}
		<-app.release
	}
	mux := http.NewServeMux()
	mux.Handle("/auth/", a.Handler())
	mux.Handle("GET /api/me", a.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "signed in")
	})))
	mux.HandleFunc("GET /renew", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		_ = sm.GetString(ctx, "org") // loaded before the gate
		before := r.URL.Query().Get("when") == "before"
		if !before {
			gate()
		}
		if err := sm.RenewToken(ctx); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		sm.Put(ctx, "org", "42")
		if before {
			gate()
		}
		_, _ = io.WriteString(w, "renewed")
	})
	beside := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = sm.GetString(r.Context(), "note")
		gate()
		sm.Put(r.Context(), "note", "beside")
		_, _ = io.WriteString(w, "put")
	})
	root := http.NewServeMux()
	root.Handle("/", a.Middleware(mux))
	root.Handle("GET /beside/put", sm.LoadAndSave(beside))
	app.srv.Config.Handler = root
	app.srv.Start()
	t.Cleanup(app.srv.Close)
	return app
}

// send sends a request with only the session cookie token (none when ""); body, when not
// nil, is sent as JSON from the app's origin. The answer's body is read and closed.
func (app *savingApp) send(method, path, token string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, app.srv.URL+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", app.origin)
	}
	if token != "" {
		req.AddCookie(&http.Cookie{Name: app.sm.Cookie.Name, Value: token})
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp, resp.Body.Close()
}

// signIn signs a new browser in with an email code and returns its session cookie.
func (app *savingApp) signIn(email string) string {
	app.t.Helper()
	app.emu.CreateUser(email, "")
	resp, err := app.send(http.MethodPost, "/auth/otp/send", "", map[string]string{"channel": "email", "identifier": email})
	require.NoError(app.t, err)
	require.Equal(app.t, http.StatusAccepted, resp.StatusCode)
	flow := cookieOf(resp, app.sm.Cookie.Name)
	code, ok := app.emu.LastCode(email)
	require.True(app.t, ok)
	resp, err = app.send(http.MethodPost, "/auth/otp/authenticate", flow, map[string]string{"passcode": code})
	require.NoError(app.t, err)
	require.Equal(app.t, http.StatusOK, resp.StatusCode)
	token := cookieOf(resp, app.sm.Cookie.Name)
	require.NotEmpty(app.t, token)
	return token
}

// cookieOf returns the value of the cookie name that resp sets ("" when none, or deleted).
func cookieOf(resp *http.Response, name string) string {
	for _, c := range resp.Cookies() {
		if c.Name == name && c.MaxAge >= 0 {
			return c.Value
		}
	}
	return ""
}
