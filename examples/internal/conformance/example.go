package conformance

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin"
	"github.com/otlogin/otlogin/examples/internal/contract"
	"github.com/otlogin/otlogin/examples/internal/exampleapp"
	"github.com/otlogin/otlogin/internal/apptest/safe"
	"github.com/otlogin/otlogin/internal/testservice"
	"github.com/otlogin/otlogin/store"
	"github.com/otlogin/otlogin/transmit"
	"github.com/otlogin/otlogin/transmit/transmittest"
)

// Router is an example's newRouter: its routes around auth, with the emulator's outbox at
// [exampleapp.OutboxPath] and [exampleapp.OutboxJSONPath] when outbox is not nil.
type Router func(auth *otlogin.Auth, outbox http.Handler) http.Handler

// Env is an example's configuration. Each example declares its own type with these fields,
// in this order, in its main.go (it is copied alone, so it cannot import this one); its test
// converts between the two, and the compiler holds the three examples to this shape.
type Env struct {
	Addr             string // ADDR
	PublicURL        string // PUBLIC_URL
	ClientID         string // TRANSMIT_CLIENT_ID
	ClientSecret     string // TRANSMIT_CLIENT_SECRET
	BaseURL          string // TRANSMIT_BASE_URL
	SessionStore     string // SESSION_STORE
	EmulatorObserver func(transmittest.Exchange)
}

// Main is an example's run function, the whole program but for reading the process's
// environment: it sets otlogin up as env says (writing its start-up notes and log to out),
// serves on env.Addr until ctx ends, then shuts down and returns nil.
type Main func(ctx context.Context, env Env, out io.Writer) error

// Example is what the suite runs of one example app, through its test's conversions.
type Example struct {
	Env    func(getenv func(string) string) Env // the example's envFrom
	Run    Main                                 // its run
	Router Router                               // its newRouter
	// Home and Dashboard are its pages for a user (nil for nobody signed in on Home).
	Home, Dashboard func(u *otlogin.User) []byte
}

// RunExample runs every test of an example app: [Run] on its router (with no outbox), its
// reading of the environment and its pages, and its run function as `go run` starts it: the
// start-up text, sign-in through the dev outbox, the refusals, the warnings, the Mosaic
// check and SESSION_STORE.
func RunExample(t *testing.T, ex Example) {
	t.Helper()
	t.Run("Conformance", func(t *testing.T) {
		Run(t, func(_ *testing.T, auth *otlogin.Auth) http.Handler { return ex.Router(auth, nil) })
	})
	t.Run("Env", func(t *testing.T) { t.Parallel(); testEnv(t, ex) })
	t.Run("Pages", func(t *testing.T) { t.Parallel(); testExamplePages(t, ex) })
	t.Run("Emulated", func(t *testing.T) { t.Parallel(); runEmulated(t, ex) })
	t.Run("Startup", func(t *testing.T) { t.Parallel(); testStartup(t, ex) })
	t.Run("Refusals", func(t *testing.T) { t.Parallel(); testRefusals(t, ex) })
	t.Run("Warnings", func(t *testing.T) { t.Parallel(); testWarnings(t, ex) })
	t.Run("CheckMosaic", func(t *testing.T) { t.Parallel(); testCheckMosaic(t, ex) })
	t.Run("SessionStore", func(t *testing.T) { t.Parallel(); testSessionStore(t, ex) })
	t.Run("GracefulShutdown", func(t *testing.T) { t.Parallel(); testGracefulShutdown(t, ex) })
}

// vars returns a getenv over m.
func vars(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// FreeAddr returns a loopback address whose port was free a moment ago. The example binds
// it itself a moment later, so the port is taken below Linux's ephemeral range (32768 and
// up): a port from ":0" is an ephemeral one, which the kernel may hand to any outgoing
// connection of a busy test run in between.
func FreeAddr(t *testing.T) string {
	t.Helper()
	for range 200 {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(20000+rand.IntN(12000)))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		require.NoError(t, ln.Close())
		return addr
	}
	require.FailNow(t, "no free loopback port between 20000 and 32000")
	return ""
}

// Start runs run(ctx, env, out) in the background and returns once it answers GET /healthz
// on env.Addr. At the end of the test it cancels ctx and checks that run shut down and
// returned nil.
func Start(t *testing.T, run Main, env Env, out io.Writer) {
	t.Helper()
	r := startRun(t, run, env, out)
	t.Cleanup(func() {
		r.cancel()
		select {
		case <-r.stopped:
			assert.NoError(t, r.err(), "served, shut down and closed")
		case <-time.After(time.Minute):
			t.Error("the example did not stop within a minute of its context ending")
		}
	})
}

// running is an example started by startRun.
type running struct {
	cancel  context.CancelFunc // ends run's context, as SIGTERM does
	stopped chan struct{}      // closed when run has returned
	runErr  atomic.Pointer[error]
}

// err is what run returned; call it after stopped is closed.
func (r *running) err() error { return *r.runErr.Load() }

// startRun runs run(ctx, env, out) in the background and returns once it answers GET
// /healthz on env.Addr; the caller ends it.
func startRun(t *testing.T, run Main, env Env, out io.Writer) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, stopped: make(chan struct{})}
	go func() {
		err := run(ctx, env, out)
		r.runErr.Store(&err)
		close(r.stopped)
	}()
	c := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-r.stopped:
			require.FailNow(t, "the example stopped before serving", "%v", r.err())
		default:
		}
		if resp, err := c.Get("http://" + env.Addr + "/healthz"); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				c.CloseIdleConnections()
				return r
			}
		}
		if time.Now().After(deadline) {
			cancel()
			require.FailNow(t, "the example did not answer /healthz within 30s", "on %s", env.Addr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// emulatedEnv is the environment of `go run` without a Mosaic tenant on a free loopback
// address that is also the PUBLIC_URL, read by the example, with the example's emulator
// traffic held to the OpenAPI documents too.
func emulatedEnv(t *testing.T, ex Example, set map[string]string) Env {
	t.Helper()
	addr := FreeAddr(t)
	all := map[string]string{"ADDR": addr, "PUBLIC_URL": "http://" + addr}
	for k, v := range set {
		all[k] = v
	}
	env := ex.Env(vars(all))
	var opts transmittest.Options
	contract.Attach(t, &opts)
	env.EmulatorObserver = opts.Observer
	return env
}

// ServeExample runs the example as `go run` does without a Mosaic tenant (the embedded
// emulator, memory sessions, output to out) on a free loopback address that is its
// PUBLIC_URL, until the end of the test, and returns that URL.
func ServeExample(t *testing.T, ex Example, out io.Writer) string {
	t.Helper()
	env := emulatedEnv(t, ex, nil)
	Start(t, ex.Run, env, out)
	return env.PublicURL
}

// exampleBrowser is a browser (a cookie jar, no redirects followed) for the app at base.
func exampleBrowser(t *testing.T, base string) *browser {
	e := &env{srv: &httptest.Server{URL: base}} // only the URL is used
	return &browser{t: t, e: e, c: safe.NewBrowser(20 * time.Second)}
}

// runEmulated starts the example as `go run` does without a Mosaic tenant and signs in the
// way a developer does: the code is read from /dev/outbox.json.
func runEmulated(t *testing.T, ex Example) {
	t.Helper()
	base := ServeExample(t, ex, io.Discard)
	b := exampleBrowser(t, base)
	home := b.get("/")
	assert.Equal(t, http.StatusOK, home.StatusCode)
	assert.Equal(t, exampleapp.HTMLType, home.Header.Get("Content-Type"))
	assert.Equal(t, string(exampleapp.Home(nil)), home.body, "the shared page")
	b = signInThroughOutbox(t, ex, base)
	home = b.get("/")
	assert.Equal(t, string(exampleapp.Home(mustUser(t, b))), home.body, "the shared page, signed in")
	me := b.get("/api/me")
	require.Equal(t, http.StatusOK, me.StatusCode)
	assert.Contains(t, me.Header.Get("Content-Type"), "application/json")
	var got exampleapp.MeJSON
	require.NoError(t, json.Unmarshal([]byte(me.body), &got))
	assert.Equal(t, exampleapp.Me(mustUser(t, b)), got)
	var fields map[string]any
	require.NoError(t, json.Unmarshal([]byte(me.body), &fields))
	assert.Len(t, fields, 4, "subject, email, phone_number, method")
}

// signInThroughOutbox signs in to the example at base with an email code read from its
// outbox, checks the dashboard, and returns the signed-in browser. On the way it checks that
// the outbox answers only loopback Host names (DNS rebinding).
func signInThroughOutbox(t *testing.T, ex Example, base string) *browser {
	t.Helper()
	b := exampleBrowser(t, base)
	page := b.get(exampleapp.OutboxPath)
	assert.Equal(t, http.StatusOK, page.StatusCode)
	assert.Contains(t, page.Header.Get("Content-Type"), "text/html")
	for _, path := range []string{exampleapp.OutboxPath, exampleapp.OutboxJSONPath} {
		rebound := b.get(path, "Host", "evil.example")
		assert.Equal(t, http.StatusForbidden, rebound.StatusCode, "%s with a Host that is not loopback", path)
	}

	r := b.form("/auth/otp/send", url.Values{"channel": {"email"}, "identifier": {"dev@example.com"}, "next": {"/dashboard"}})
	require.Equal(t, http.StatusOK, r.StatusCode, r.body)
	box := b.get(exampleapp.OutboxJSONPath)
	require.Equal(t, http.StatusOK, box.StatusCode)
	var msgs []struct{ To, Code string }
	require.NoError(t, json.Unmarshal([]byte(box.body), &msgs))
	require.NotEmpty(t, msgs)
	assert.Equal(t, "dev@example.com", msgs[0].To)

	r = b.form("/auth/otp/authenticate", url.Values{"passcode": {msgs[0].Code}})
	require.Equal(t, http.StatusSeeOther, r.StatusCode, r.body)
	assert.Equal(t, "/dashboard", r.Header.Get("Location"))
	dash := b.get("/dashboard")
	assert.Equal(t, http.StatusOK, dash.StatusCode)
	assert.Contains(t, dash.body, "dev@example.com")
	assert.Equal(t, string(exampleapp.Dashboard(mustUser(t, b))), dash.body, "the shared page")
	assert.Equal(t, string(ex.Dashboard(mustUser(t, b))), dash.body, "the page the example renders")
	return b
}

// mustUser reads the signed-in user from /auth/me.
func mustUser(t *testing.T, b *browser) *otlogin.User {
	t.Helper()
	me := b.get("/auth/me")
	require.Equal(t, http.StatusOK, me.StatusCode)
	var u otlogin.User
	require.NoError(t, json.Unmarshal([]byte(me.body), &u))
	return &u
}

// testEnv: the example reads its settings from the environment with these defaults; a
// blank variable counts as unset, and PUBLIC_URL loses a trailing slash.
func testEnv(t *testing.T, ex Example) {
	def := Env{Addr: "127.0.0.1:8080", PublicURL: "http://localhost:8080", BaseURL: transmit.SandboxBaseURL, SessionStore: "memory"}
	with := func(f func(*Env)) Env { e := def; f(&e); return e }
	for _, tc := range []struct {
		name string
		set  map[string]string
		want Env
	}{
		{"defaults", nil, def},
		{"everything set", map[string]string{"ADDR": ":9000", "PUBLIC_URL": "https://app.example.com/",
			"TRANSMIT_CLIENT_ID": "id", "TRANSMIT_CLIENT_SECRET": "secret", "TRANSMIT_BASE_URL": "https://mosaic.example/cis",
			"SESSION_STORE": "redis://127.0.0.1:6379/0"},
			Env{Addr: ":9000", PublicURL: "https://app.example.com", ClientID: "id", ClientSecret: "secret",
				BaseURL: "https://mosaic.example/cis", SessionStore: "redis://127.0.0.1:6379/0"}},
		{"blank means default", map[string]string{"ADDR": "  ", "SESSION_STORE": "", "TRANSMIT_BASE_URL": "\t"}, def},
		{"public URL from ADDR's port", map[string]string{"ADDR": "127.0.0.1:8092"},
			with(func(e *Env) { e.Addr, e.PublicURL = "127.0.0.1:8092", "http://localhost:8092" })},
		{"public URL from a port-only ADDR", map[string]string{"ADDR": ":9000"},
			with(func(e *Env) { e.Addr, e.PublicURL = ":9000", "http://localhost:9000" })},
		{"ADDR without a port", map[string]string{"ADDR": "localhost"}, with(func(e *Env) { e.Addr = "localhost" })},
	} {
		got := ex.Env(vars(tc.set))
		assert.Nil(t, got.EmulatorObserver, "%s: not read from the environment", tc.name)
		got.EmulatorObserver = nil
		assert.Equal(t, tc.want, got, tc.name)
	}
}

// testExamplePages: the example's home and dashboard pages are the shared ones, for nobody signed
// in, a user whose email needs escaping, and a user with only a phone number.
func testExamplePages(t *testing.T, ex Example) {
	email := &otlogin.User{Subject: "sub-1", Email: "<ada>@example.com", PhoneNumber: "+14155550123", Method: otlogin.MethodSMSOTP,
		ExpiresAt: time.Date(2030, 1, 2, 3, 4, 0, 0, time.UTC)}
	phone := &otlogin.User{Subject: "sub-2", PhoneNumber: "+14155550123", Method: otlogin.MethodSMSOTP}
	assert.Equal(t, string(exampleapp.Home(nil)), string(ex.Home(nil)), "home, nobody signed in")
	for name, u := range map[string]*otlogin.User{"email": email, "phone only": phone} {
		assert.Equal(t, string(exampleapp.Home(u)), string(ex.Home(u)), "home, %s", name)
		assert.Equal(t, string(exampleapp.Dashboard(u)), string(ex.Dashboard(u)), "dashboard, %s", name)
	}
	assert.NotContains(t, string(ex.Dashboard(email)), "<ada>", "escaped")
}

// testStartup: with only ADDR set, the example prints exactly this, naming the URL to open
// (PUBLIC_URL, http://localhost on ADDR's port), and stops cleanly when its context ends.
func testStartup(t *testing.T, ex Example) {
	addr := FreeAddr(t)
	env := ex.Env(vars(map[string]string{"ADDR": addr}))
	publicURL := "http://localhost:" + addr[strings.LastIndex(addr, ":")+1:]
	require.Equal(t, publicURL, env.PublicURL)
	var out safe.Buffer
	Start(t, ex.Run, env, &out)
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "in your browser") }, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, "No TRANSMIT_CLIENT_ID: using the embedded Mosaic emulator (no real email or SMS is sent).\n"+
		"Sign in at "+publicURL+"/ and read the links and codes at "+publicURL+"/dev/outbox\n"+
		"Listening on "+addr+"\n"+
		"Open "+publicURL+"/ in your browser (PUBLIC_URL; another host name, such as 127.0.0.1 for localhost, has its own cookies)\n",
		out.String(), "the start-up text of every example names the URL to open")
}

// testRefusals: settings the example cannot run with stop it at start-up with an error that
// names the setting, before it invites anyone to sign in, and without the secret.
func testRefusals(t *testing.T, ex Example) {
	cases := []struct {
		name string
		set  map[string]string
		want string
	}{
		{"client id without secret", map[string]string{"TRANSMIT_CLIENT_ID": "id"}, "TRANSMIT_CLIENT_SECRET"},
		{"unknown session store", map[string]string{"SESSION_STORE": "ftp://example.com"}, "unsupported store URL"},
		{"bad public URL", map[string]string{"PUBLIC_URL": "ftp://x"}, "PublicURL"},
		{"emulator on all interfaces", map[string]string{"ADDR": ":0"}, "loopback"},
		{"emulator on a public address", map[string]string{"ADDR": "0.0.0.0:0"}, "loopback"},
		{"emulator on all IPv6 interfaces", map[string]string{"ADDR": "[::]:0"}, "loopback"},
		{"emulator on a name DNS resolves", map[string]string{"ADDR": "example.com:0"}, "loopback"},
		{"secret set, id missing: the emulator, on all interfaces", map[string]string{"ADDR": ":0",
			"TRANSMIT_CLIENT_SECRET": "the-client-secret"}, "loopback"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := FreeAddr(t)
			all := map[string]string{"ADDR": addr, "PUBLIC_URL": "http://" + addr}
			for k, v := range tc.set {
				all[k] = v
			}
			env := ex.Env(vars(all))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a run that wrongly serves stops here
			defer cancel()
			var out safe.Buffer
			err := ex.Run(ctx, env, &out)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			if tc.want == "loopback" {
				assert.Contains(t, err.Error(), exampleapp.OutboxPath, "names what it protects")
			}
			assert.NotContains(t, out.String(), "Sign in at", "no invitation to sign in before a fatal error")
			assert.NotContains(t, out.String(), "Listening on")
			assert.NotContains(t, err.Error(), "the-client-secret", "no secret in the error")
		})
	}
}

// testWarnings: a PUBLIC_URL that breaks sign-in on this plain-http app (https, another
// port than ADDR's, including the scheme's default port) is named at start-up; the app still
// serves. A host name in capitals is no reason to warn.
func testWarnings(t *testing.T, ex Example) {
	for _, tc := range []struct {
		name   string
		public func(addr, port string) string
		want   []string // nil: no warning
	}{
		{"matching", func(addr, port string) string { return "http://localhost:" + port }, nil},
		{"upper-case host", func(addr, port string) string { return "http://LOCALHOST:" + port }, nil},
		{"https on plain http", func(addr, port string) string { return "https://" + addr },
			[]string{"is https but this app serves plain http"}},
		{"other port", func(addr, port string) string { return "http://localhost:1" },
			[]string{"is on port 1 but the app listens on port %s"}},
		{"default port of the scheme", func(addr, port string) string { return "http://localhost" },
			[]string{"is on port 80 but the app listens on port %s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := FreeAddr(t)
			port := addr[strings.LastIndex(addr, ":")+1:]
			env := emulatedEnv(t, ex, map[string]string{"ADDR": addr, "PUBLIC_URL": tc.public(addr, port)})
			var out safe.Buffer
			Start(t, ex.Run, env, &out)
			warnings := 0
			for _, line := range strings.Split(out.String(), "\n") {
				if strings.HasPrefix(line, "WARNING: PUBLIC_URL ") {
					warnings++
				}
			}
			assert.Equal(t, len(tc.want), warnings, out.String())
			for _, w := range tc.want {
				assert.Contains(t, out.String(), "WARNING: PUBLIC_URL "+env.PublicURL+" "+strings.ReplaceAll(w, "%s", port))
			}
		})
	}
}

// testCheckMosaic: with a real tenant's settings, the example runs Auth.Check at start-up and
// prints what is wrong (here a wrong client secret) instead of leaving it to the first
// sign-in; it logs it at Error too and still serves.
func testCheckMosaic(t *testing.T, ex Example) {
	mosaic := transmittest.NewTestServer(t, transmittest.Options{})
	for name, tc := range map[string]struct {
		secret string
		want   string
	}{
		"wrong secret": {"not-the-secret", "WARNING: Mosaic check failed: otlogin: Mosaic refused the client credentials"},
		"right secret": {mosaic.ClientSecret, ""},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			addr := FreeAddr(t)
			env := ex.Env(vars(map[string]string{"ADDR": addr, "TRANSMIT_BASE_URL": mosaic.BaseURL(),
				"TRANSMIT_CLIENT_ID": mosaic.ClientID, "TRANSMIT_CLIENT_SECRET": tc.secret}))
			var out safe.Buffer
			Start(t, ex.Run, env, &out)
			assert.NotContains(t, out.String(), "emulator")
			if tc.want == "" {
				assert.NotContains(t, out.String(), "check failed")
				return
			}
			assert.Contains(t, out.String(), tc.want)
			assert.Contains(t, out.String(), "TRANSMIT_CLIENT_SECRET", "the message names the fix")
			assert.Contains(t, out.String(), "level=ERROR", "the failure is logged at Error too, for log-based alerts")
			assert.NotContains(t, out.String(), tc.secret, "no secret in the output")
		})
	}
}

// testSessionStore: SESSION_STORE=redis://... keeps the sessions in Redis: after a sign-in
// through the outbox, the browser's session is found there.
func testSessionStore(t *testing.T, ex Example) {
	redisURL := testservice.RedisPrefixed(t, "otltest:example:"+strings.ReplaceAll(t.Name(), "/", ":"))
	env := emulatedEnv(t, ex, map[string]string{"SESSION_STORE": redisURL})
	var out safe.Buffer
	Start(t, ex.Run, env, &out)
	assert.Contains(t, out.String(), "Sessions: redis store\n")
	b := signInThroughOutbox(t, ex, env.PublicURL)
	token := b.session()
	require.NotEmpty(t, token)
	st, err := store.Open(context.Background(), redisURL)
	require.NoError(t, err)
	defer st.Close()
	_, found, err := st.Find(token)
	require.NoError(t, err)
	assert.True(t, found, "the session is in Redis under the key prefix")
}

// CheckServerTimeouts checks an example's server: it cuts slow headers and bodies and idle
// connections, lets longest (its bound on every otlogin request) cover the longest request
// with otlogin's default timeouts (the body within BodyTimeout 10s, up to 8 store calls of
// StoreTimeout 2s, the Mosaic budget Timeout 10s) and answer within WriteTimeout, and
// shutdown waits longer than that for the requests in flight.
func CheckServerTimeouts(t *testing.T, srv *http.Server, longest, shutdown time.Duration) {
	t.Helper()
	assert.Positive(t, srv.ReadHeaderTimeout)
	assert.Positive(t, srv.IdleTimeout)
	assert.GreaterOrEqual(t, srv.ReadTimeout, srv.ReadHeaderTimeout+10*time.Second, "ReadTimeout leaves otlogin's BodyTimeout room")
	assert.GreaterOrEqual(t, longest, 10*time.Second+8*2*time.Second+10*time.Second)
	assert.Greater(t, srv.WriteTimeout, longest, "WriteTimeout lets the longest request answer")
	assert.Greater(t, shutdown, longest, "shutdown waits for the longest request")
}

// testGracefulShutdown: when its context ends (SIGTERM), the example stops accepting
// connections but lets a request in flight finish: a sign-in form whose body is still
// arriving gets its answer, and only then does run return nil.
func testGracefulShutdown(t *testing.T, ex Example) {
	env := emulatedEnv(t, ex, nil)
	r := startRun(t, ex.Run, env, io.Discard)
	defer r.cancel()
	conn, err := net.DialTimeout("tcp", env.Addr, 5*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(30*time.Second)))
	body := url.Values{"channel": {"email"}, "identifier": {"late@example.com"}}.Encode()
	_, err = fmt.Fprintf(conn, "POST /auth/otp/send HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s",
		env.Addr, formType, len(body), body[:5])
	require.NoError(t, err)
	time.Sleep(100 * time.Millisecond) // the server has read the headers: the connection is active

	r.cancel()
	select {
	case <-r.stopped:
		require.FailNow(t, "run returned while a request was in flight", "%v", r.err())
	case <-time.After(300 * time.Millisecond):
	}
	_, err = io.WriteString(conn, body[5:])
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err, "the request in flight got its answer")
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	select {
	case <-r.stopped:
		assert.NoError(t, r.err(), "shut down gracefully")
	case <-time.After(time.Minute):
		t.Fatal("run did not return after the last request")
	}
	_, err = net.DialTimeout("tcp", env.Addr, time.Second)
	assert.Error(t, err, "no longer listening")
}
