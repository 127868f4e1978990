package otlogin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2/memstore"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin/internal/apptest/safe"
	"github.com/otlogin/otlogin/internal/exchangelog"
	"github.com/otlogin/otlogin/transmit"
	"github.com/otlogin/otlogin/transmit/transmittest"
)

// countingStore wraps a memstore, counts writes and can be made to fail. It has the
// UpdateStore ability (under mu); plainStore hides it.
type countingStore struct {
	mu      sync.Mutex
	inner   *memstore.MemStore
	commits atomic.Int64
	deletes atomic.Int64
	updates atomic.Int64
	finds   atomic.Int64
	broken  atomic.Bool
	authed  sync.Map // tokens once committed with a signed-in state
}

var errStoreDown = errors.New("test: store down")

func newCountingStore() *countingStore {
	return &countingStore{inner: memstore.NewWithCleanupInterval(0)}
}

func (s *countingStore) Find(token string) ([]byte, bool, error) {
	s.finds.Add(1)
	if s.broken.Load() {
		return nil, false, errStoreDown
	}
	return s.inner.Find(token)
}

func (s *countingStore) Commit(token string, b []byte, expiry time.Time) error {
	s.commits.Add(1)
	if s.broken.Load() {
		return errStoreDown
	}
	if bytes.Contains(b, []byte(keyAuth)) {
		s.authed.Store(token, true)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inner.Commit(token, b, expiry)
}

// signedIn counts the sessions in the store that hold a signed-in state.
func (s *countingStore) signedIn() int {
	n := 0
	s.authed.Range(func(k, _ any) bool {
		if b, found, _ := s.inner.Find(k.(string)); found && bytes.Contains(b, []byte(keyAuth)) {
			n++
		}
		return true
	})
	return n
}

func (s *countingStore) Delete(token string) error {
	s.deletes.Add(1)
	if s.broken.Load() {
		return errStoreDown
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inner.Delete(token)
}

// UpdateCtx is the UpdateStore ability; it counts as a commit.
func (s *countingStore) UpdateCtx(_ context.Context, token string, b []byte, expiry time.Time) (bool, error) {
	s.commits.Add(1)
	s.updates.Add(1)
	if s.broken.Load() {
		return false, errStoreDown
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, found, _ := s.inner.Find(token); !found {
		return false, nil
	}
	if bytes.Contains(b, []byte(keyAuth)) {
		s.authed.Store(token, true)
	}
	return true, s.inner.Commit(token, b, expiry)
}

// plainStore is a store without the UpdateStore ability (as a user's own scs store may be).
type plainStore struct{ s *countingStore }

func (p plainStore) Find(token string) ([]byte, bool, error) { return p.s.Find(token) }
func (p plainStore) Commit(token string, b []byte, expiry time.Time) error {
	return p.s.Commit(token, b, expiry)
}
func (p plainStore) Delete(token string) error { return p.s.Delete(token) }

func (s *countingStore) writes() int64 { return s.commits.Load() + s.deletes.Load() }

// harness is an app (like examples/nethttp) in front of the emulator.
type harness struct {
	t     *testing.T
	emu   *transmittest.Server
	auth  *Auth
	srv   *httptest.Server
	store *countingStore
	clock *safe.Clock
	logs  *safe.Buffer
	// slow, when set, blocks GET /slow until closed (logout race).
	slowStarted chan struct{}
	slowRelease chan struct{}
}

// newHarness starts the emulator and the app; mod adjusts the Config.
func newHarness(t *testing.T, mod ...func(*Config)) *harness {
	t.Helper()
	h := &harness{t: t, store: newCountingStore(), clock: safe.NewClock(), logs: &safe.Buffer{},
		slowStarted: make(chan struct{}, 1), slowRelease: make(chan struct{})}
	h.emu = transmittest.NewTestServer(t, exchangelog.Record(transmittest.Options{}))
	client, err := transmit.New(transmit.Config{BaseURL: h.emu.BaseURL(), ClientID: h.emu.ClientID, ClientSecret: h.emu.ClientSecret})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	cfg := Config{
		Client:       client,
		PublicURL:    "http://" + ln.Addr().String(),
		SessionStore: h.store,
		// countingStore wraps a memstore: each process counts its own limits, as tests expect.
		AllowLocalLimits: true,
		Logger:           slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:              h.clock.Now,
	}
	for _, m := range mod {
		m(&cfg)
	}
	h.auth, err = New(cfg)
	require.NoError(t, err)
	h.srv = httptest.NewUnstartedServer(h.app())
	require.NoError(t, h.srv.Listener.Close())
	h.srv.Listener = ln
	h.srv.Start()
	t.Cleanup(h.srv.Close)
	return h
}

// app is the test application: public home, protected page and API, the auth routes.
func (h *harness) app() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/auth/", h.auth.Handler())
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "home")
	})
	mux.Handle("GET /dashboard", h.auth.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := UserFromContext(r.Context())
		fmt.Fprintf(w, "dashboard of %s%s", u.Email, u.PhoneNumber)
	})))
	mux.Handle("GET /api/me", h.auth.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := UserFromContext(r.Context())
		writeJSON(w, http.StatusOK, map[string]string{"subject": u.Subject, "email": u.Email,
			"phone_number": u.PhoneNumber, "method": u.Method})
	})))
	mux.Handle("GET /token", h.auth.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, err := h.auth.AccessToken(r.Context())
		if err != nil {
			http.Error(w, "no token", http.StatusBadGateway)
			return
		}
		_, _ = io.WriteString(w, tok)
	})))
	mux.Handle("GET /slow", h.auth.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.slowStarted <- struct{}{}
		<-h.slowRelease
		h.auth.sm.Put(r.Context(), "app.note", "written late")
		_, _ = io.WriteString(w, "slow done")
	})))
	// The app's own session values: GET /app/put?k=K&v=V stores V under "app.K", GET
	// /app/get?k=K answers it.
	mux.HandleFunc("GET /app/put", func(w http.ResponseWriter, r *http.Request) {
		h.auth.sm.Put(r.Context(), "app."+r.URL.Query().Get("k"), r.URL.Query().Get("v"))
		_, _ = io.WriteString(w, "stored")
	})
	mux.HandleFunc("GET /app/get", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, h.auth.sm.GetString(r.Context(), "app."+r.URL.Query().Get("k")))
	})
	return h.auth.Middleware(mux)
}

// newClient returns a cookie-jar client that does not follow redirects.
func (h *harness) newClient() *http.Client { return safe.NewBrowser(20 * time.Second) }

// response is a read answer.
type response struct {
	*http.Response
	body string
}

func (h *harness) do(c *http.Client, req *http.Request) response {
	h.t.Helper()
	resp, err := c.Do(req)
	require.NoError(h.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(h.t, err)
	return response{Response: resp, body: string(b)}
}

func (h *harness) url(path string) string {
	if strings.HasPrefix(path, "http") {
		return path
	}
	return h.srv.URL + path
}

// get sends GET path as a browser navigation (Accept: text/html) unless header (name,
// value pairs) sets Accept; an empty value sends the header empty.
func (h *harness) get(c *http.Client, path string, header ...string) response {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodGet, h.url(path), nil)
	require.NoError(h.t, err)
	req.Header.Set("Accept", "text/html")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return h.do(c, req)
}

func (h *harness) postForm(c *http.Client, path string, vals url.Values, header ...string) response {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.url(path), strings.NewReader(vals.Encode()))
	require.NoError(h.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return h.do(c, req)
}

func (h *harness) postJSON(c *http.Client, path string, v any, header ...string) response {
	h.t.Helper()
	b, err := json.Marshal(v)
	require.NoError(h.t, err)
	req, err := http.NewRequest(http.MethodPost, h.url(path), bytes.NewReader(b))
	require.NoError(h.t, err)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return h.do(c, req)
}

// sessionCookie returns the client's session cookie value ("" if none).
func (h *harness) sessionCookie(c *http.Client) string {
	u, _ := url.Parse(h.srv.URL)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == h.auth.sm.Cookie.Name {
			return ck.Value
		}
	}
	return ""
}

// clientWithCookie returns a fresh client holding only the given session cookie.
func (h *harness) clientWithCookie(token string) *http.Client {
	c := h.newClient()
	u, _ := url.Parse(h.srv.URL)
	c.Jar.SetCookies(u, []*http.Cookie{{Name: h.auth.sm.Cookie.Name, Value: token, Path: "/"}})
	return c
}

// lastLink returns the newest magic link sent to email.
func (h *harness) lastLink(email string) string {
	h.t.Helper()
	link, ok := h.emu.LastLink(email)
	require.True(h.t, ok, "a magic link was sent to %s", email)
	return link
}

// lastCode returns the newest passcode sent to identifier.
func (h *harness) lastCode(identifier string) string {
	h.t.Helper()
	code, ok := h.emu.LastCode(identifier)
	require.True(h.t, ok, "a code was sent to %s", identifier)
	return code
}

// linkParams splits a magic link into its code and state.
func linkParams(t *testing.T, link string) (code, state string) {
	t.Helper()
	u, err := url.Parse(link)
	require.NoError(t, err)
	return u.Query().Get("code"), u.Query().Get("state")
}

// signInLink signs c in with a magic link (HTML) and returns the final response.
func (h *harness) signInLink(c *http.Client, email, next string) response {
	h.t.Helper()
	r := h.postForm(c, "/auth/link/email/send", url.Values{"email": {email}, "next": {next}})
	require.Equal(h.t, http.StatusOK, r.StatusCode, r.body)
	return h.get(c, h.lastLink(email))
}

// signInOTP signs c in with an email or SMS code (HTML).
func (h *harness) signInOTP(c *http.Client, channel, identifier string) response {
	h.t.Helper()
	r := h.postForm(c, "/auth/otp/send", url.Values{"channel": {channel}, "identifier": {identifier}, "next": {"/dashboard"}})
	require.Equal(h.t, http.StatusOK, r.StatusCode, r.body)
	return h.postForm(c, "/auth/otp/authenticate", url.Values{"passcode": {h.lastCode(identifier)}})
}

// outlastAccessToken keeps clients active (a GET of /dashboard, answered 200) for 65
// minutes in three clock steps, never idle, so their access tokens are due for a refresh.
func (h *harness) outlastAccessToken(t *testing.T, clients ...*http.Client) {
	t.Helper()
	for _, d := range []time.Duration{25 * time.Minute, 25 * time.Minute, 15 * time.Minute} {
		h.clock.Advance(d)
		for _, c := range clients {
			require.Equal(t, http.StatusOK, h.get(c, "/dashboard").StatusCode)
		}
	}
}

// rotatedRecordKey returns the store key of the record of c's session's rotated tokens,
// failing the test unless the record is there.
func (h *harness) rotatedRecordKey(t *testing.T, c *http.Client) string {
	t.Helper()
	b, found, err := h.auth.storedAuthBytes(context.Background(), h.sessionCookie(c))
	require.NoError(t, err)
	require.True(t, found)
	s, err := decodeAuth(b)
	require.NoError(t, err)
	key := rotatedKey(s.mosaicSessionID)
	_, found, err = h.auth.storeFindKey(context.Background(), key)
	require.NoError(t, err)
	require.True(t, found, "the refresh wrote the rotated record")
	return key
}
