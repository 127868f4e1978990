package bench_test

// Store round trips of the signed-in request path (README "Performance"), through package
// store, which imports otlogin (hence an external test package).

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/alexedwards/scs/v2"
	"github.com/alicebob/miniredis/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin"
	"github.com/otlogin/otlogin/internal/tcpproxy"
	"github.com/otlogin/otlogin/internal/testservice"
	"github.com/otlogin/otlogin/store"
	"github.com/otlogin/otlogin/transmit"
	"github.com/otlogin/otlogin/transmit/transmittest"
)

// signInOn builds an app on sessionStore, signs one user in with an email passcode through
// the emulator and returns the app's handler and the signed-in Cookie header.
func signInOn(t *testing.T, sessionStore scs.Store) (http.Handler, string) {
	t.Helper()
	emu := transmittest.NewTestServer(t, transmittest.Options{})
	client, err := transmit.New(transmit.Config{BaseURL: emu.BaseURL(), ClientID: emu.ClientID, ClientSecret: emu.ClientSecret})
	require.NoError(t, err)
	auth, err := otlogin.New(otlogin.Config{Client: client, PublicURL: "http://127.0.0.1:8080", CreateUsers: true, SessionStore: sessionStore})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/auth/", auth.Handler())
	mux.Handle("GET /api/me", auth.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := otlogin.UserFromContext(r.Context())
		_, _ = io.WriteString(w, u.Email)
	})))
	h := auth.Middleware(mux)

	const email = "roundtrip@example.com"
	var cookies []*http.Cookie
	post := func(path string, body any) int {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:8080"+path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		for _, c := range cookies {
			req.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if got := rec.Result().Cookies(); len(got) > 0 {
			cookies = got
		}
		return rec.Code
	}
	require.Equal(t, http.StatusAccepted, post("/auth/otp/send", map[string]string{"channel": "email", "identifier": email}))
	code, ok := emu.LastCode(email)
	require.True(t, ok, "the emulator sent a passcode")
	require.Equal(t, http.StatusOK, post("/auth/otp/authenticate", map[string]string{"passcode": code}))
	require.Len(t, cookies, 1, "one session cookie")
	return h, cookies[0].Name + "=" + cookies[0].Value
}

// respCounter records the name of every command clients send to a Redis server through a
// tcpproxy in front of it, so tests can count round trips exactly.
type respCounter struct {
	proxy *tcpproxy.Proxy
	mu    sync.Mutex
	cmds  []string
}

// newRESPCounter proxies 127.0.0.1:0 to target until the test ends.
func newRESPCounter(t *testing.T, target string) *respCounter {
	t.Helper()
	p := &respCounter{}
	p.proxy = tcpproxy.New(t, target, tcpproxy.Options{ToServer: func(server io.Writer, client io.Reader) {
		r := bufio.NewReader(client)
		p.forward(r, server)
		_, _ = io.Copy(server, r) // whatever did not parse goes through as is
	}})
	return p
}

// forward reads RESP arrays (the form every go-redis command takes) from r, records each
// command's name and only then passes the command on to w, so a command is counted
// before its answer can arrive. It returns when the connection ends or something does
// not parse, after forwarding what it read.
func (p *respCounter) forward(r *bufio.Reader, w io.Writer) {
	var raw []byte
	defer func() { _, _ = w.Write(raw) }()
	for {
		raw = raw[:0]
		line, err := r.ReadString('\n')
		raw = append(raw, line...)
		if err != nil || !strings.HasPrefix(line, "*") {
			return
		}
		n, err := strconv.Atoi(strings.TrimSpace(line[1:]))
		if err != nil {
			return
		}
		name := ""
		for i := 0; i < n; i++ {
			hdr, err := r.ReadString('\n')
			raw = append(raw, hdr...)
			if err != nil || !strings.HasPrefix(hdr, "$") {
				return
			}
			size, err := strconv.Atoi(strings.TrimSpace(hdr[1:]))
			if err != nil || size < 0 {
				return
			}
			arg := make([]byte, size+2)
			k, err := io.ReadFull(r, arg)
			raw = append(raw, arg[:k]...)
			if err != nil {
				return
			}
			if i == 0 {
				name = strings.ToUpper(string(arg[:size]))
			}
		}
		p.mu.Lock()
		p.cmds = append(p.cmds, name)
		p.mu.Unlock()
		if _, err := w.Write(raw); err != nil {
			raw = raw[:0]
			return
		}
	}
}

// take returns the commands recorded since the last call.
func (p *respCounter) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.cmds
	p.cmds = nil
	return c
}

// TestRedisSignedInRequestIsOneRoundTrip checks the store budget README "Performance" states:
// a signed-in, read-only request costs exactly one Redis command (the session GET) and writes
// nothing.
func TestRedisSignedInRequestIsOneRoundTrip(t *testing.T) {
	t.Parallel()
	servers := []struct {
		name string
		addr func(t *testing.T) string
	}{
		{"miniredis", func(t *testing.T) string { return miniredis.RunT(t).Addr() }},
		{"redis", func(t *testing.T) string {
			u, err := url.Parse(testservice.Redis(t))
			require.NoError(t, err)
			return u.Host
		}},
	}
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			t.Parallel()
			proxy := newRESPCounter(t, srv.addr(t))
			prefix := make([]byte, 8)
			_, err := rand.Read(prefix)
			require.NoError(t, err)
			st, err := store.Open(context.Background(),
				"redis://"+proxy.proxy.Addr()+"/0?key_prefix=otlogin-perf-"+hex.EncodeToString(prefix)+":")
			require.NoError(t, err)
			t.Cleanup(func() { _ = st.Close() })

			h, cookie := signInOn(t, st)
			require.NotEmpty(t, proxy.take(), "the proxy sees the store's traffic")

			for i := range 3 {
				req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8080/api/me", nil)
				req.Header.Set("Cookie", cookie)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				require.Equal(t, http.StatusOK, rec.Code)
				assert.Equal(t, "roundtrip@example.com", rec.Body.String())
				assert.Equal(t, []string{"GET"}, proxy.take(), "request %d: one GET, no write", i)
				assert.Empty(t, rec.Result().Cookies(), "request %d: no cookie rewrite", i)
			}
		})
	}
}
