package store_test

import (
	"bytes"
	"context"
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

	"github.com/otlogin/otlogin"
	"github.com/otlogin/otlogin/internal/apptest/safe"
	"github.com/otlogin/otlogin/transmit"
	"github.com/otlogin/otlogin/transmit/transmittest"
)

// TestLoadAndSaveInsideSharedStore: an app passes its own manager over a Store of this
// package as Config.Sessions to two instances (two otlogin.New on the one manager). The
// second New finds the store's abilities behind the guard the first one put in the manager:
// it asks for no Limiter (the store's is shared: a send on instance A counts on B) and
// warns of no missing atomic update, and the manager's store still has both abilities.
// Instance B mounts the app's sm.LoadAndSave inside Middleware (the mistake): a slow request
// there that changed the session, ended after a logout on A, is refused and does not sign
// the cookie in again (docs/SECURITY.md S5, S10).
func TestLoadAndSaveInsideSharedStore(t *testing.T) {
	t.Parallel()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			st := b.open(t)
			emu := transmittest.NewTestServer(t, transmittest.Options{})
			sm := scs.New()
			sm.Store = st
			sm.Cookie.Name = "app_session"
			logs := &safe.Buffer{}
			const publicURL = "http://127.0.0.1"
			var auths []*otlogin.Auth
			for range 2 {
				client, err := transmit.New(transmit.Config{BaseURL: emu.BaseURL(), ClientID: emu.ClientID, ClientSecret: emu.ClientSecret})
				require.NoError(t, err)
				a, err := otlogin.New(otlogin.Config{Client: client, PublicURL: publicURL, Sessions: sm,
					Limits: otlogin.Limits{SendsPerIdentifier: otlogin.Rate{N: 2}}, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
				require.NoError(t, err, "no Limiter needed: the store brings one")
				auths = append(auths, a)
			}
			assert.NotContains(t, logs.String(), "no_atomic_update")
			_, update := sm.Store.(otlogin.UpdateStore)
			assert.True(t, update, "the atomic update, through the guard")
			lp, ok := sm.Store.(otlogin.LimiterProvider)
			require.True(t, ok, "the limiter, through the guard")
			assert.Equal(t, st.Limiter(), lp.Limiter())

			slowStarted, slowRelease := make(chan struct{}, 1), make(chan struct{})
			routes := func(a *otlogin.Auth) *http.ServeMux {
				mux := http.NewServeMux()
				mux.Handle("/auth/", a.Handler())
				mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
					sm.Put(r.Context(), "note", "written late")
					slowStarted <- struct{}{}
					<-slowRelease
					_, _ = io.WriteString(w, "slow done")
				})
				mux.Handle("GET /api/me", a.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					_, _ = io.WriteString(w, "signed in")
				})))
				return mux
			}
			srvA := httptest.NewServer(auths[0].Middleware(routes(auths[0])))
			t.Cleanup(srvA.Close)
			srvB := httptest.NewServer(auths[1].Middleware(sm.LoadAndSave(routes(auths[1]))))
			t.Cleanup(srvB.Close)
			send := func(srv *httptest.Server, method, path, token string, body any) *http.Response {
				t.Helper()
				var rd io.Reader
				if body != nil {
					b, err := json.Marshal(body)
					require.NoError(t, err)
					rd = bytes.NewReader(b)
				}
				req, err := http.NewRequest(method, srv.URL+path, rd)
				require.NoError(t, err)
				req.Header.Set("Accept", "application/json")
				if body != nil {
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("Origin", publicURL)
				}
				if token != "" {
					req.AddCookie(&http.Cookie{Name: sm.Cookie.Name, Value: token})
				}
				resp, err := http.DefaultTransport.RoundTrip(req)
				require.NoError(t, err)
				_, _ = io.Copy(io.Discard, resp.Body)
				require.NoError(t, resp.Body.Close())
				return resp
			}

			email := "ada-" + b.name + "@example.com"
			emu.CreateUser(email, "")
			resp := send(srvA, "POST", "/auth/otp/send", "", map[string]string{"channel": "email", "identifier": email})
			require.Equal(t, http.StatusAccepted, resp.StatusCode)
			flow := ""
			for _, c := range resp.Cookies() {
				if c.Name == sm.Cookie.Name {
					flow = c.Value
				}
			}
			code, ok := emu.LastCode(email)
			require.True(t, ok)
			resp = send(srvA, "POST", "/auth/otp/authenticate", flow, map[string]string{"passcode": code})
			require.Equal(t, http.StatusOK, resp.StatusCode)
			token := ""
			for _, c := range resp.Cookies() {
				if c.Name == sm.Cookie.Name {
					token = c.Value
				}
			}
			require.NotEmpty(t, token)
			require.Equal(t, http.StatusOK, send(srvB, "GET", "/api/me", token, nil).StatusCode)

			status := make(chan int, 1)
			go func() {
				req, _ := http.NewRequest(http.MethodGet, srvB.URL+"/slow", nil)
				req.AddCookie(&http.Cookie{Name: sm.Cookie.Name, Value: token})
				resp, err := http.DefaultTransport.RoundTrip(req)
				if err != nil {
					status <- 0
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				status <- resp.StatusCode
			}()
			<-slowStarted
			require.Equal(t, http.StatusNoContent, send(srvA, "POST", "/auth/logout", token, map[string]string{}).StatusCode)
			close(slowRelease)
			assert.Equal(t, http.StatusServiceUnavailable, <-status, "B's save was refused")
			for _, srv := range []*httptest.Server{srvA, srvB} {
				assert.Equal(t, http.StatusUnauthorized, send(srv, "GET", "/api/me", token, nil).StatusCode, "signed out stays signed out")
			}
			_, found, err := st.FindCtx(context.Background(), token)
			require.NoError(t, err)
			assert.False(t, found, "the session was not written back")
			assert.Equal(t, 1, strings.Count(logs.String(), `"level":"ERROR"`), logs.String())

			// SendsPerIdentifier is 2: a second send on A and a third on B (served without the
			// mistake). With the store's shared limiter B sees A's counts and refuses; each
			// in-memory limiter would not.
			srvBOK := httptest.NewServer(auths[1].Middleware(routes(auths[1])))
			t.Cleanup(srvBOK.Close)
			body := map[string]string{"channel": "email", "identifier": email}
			require.Equal(t, http.StatusAccepted, send(srvA, "POST", "/auth/otp/send", "", body).StatusCode)
			want := http.StatusAccepted
			if b.shared {
				want = http.StatusTooManyRequests
			}
			assert.Equal(t, want, send(srvBOK, "POST", "/auth/otp/send", "", body).StatusCode)
		})
	}
}
