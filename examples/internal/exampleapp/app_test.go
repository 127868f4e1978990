package exampleapp

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin"
	"github.com/otlogin/otlogin/internal/apptest/safe"
	"github.com/otlogin/otlogin/transmit"
	"github.com/otlogin/otlogin/transmit/transmittest"
)

func TestFromEnv(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		vars map[string]string
		want Env
	}{
		{"defaults", nil, Env{Addr: "127.0.0.1:8080", PublicURL: "http://localhost:8080",
			BaseURL: transmit.SandboxBaseURL, SessionStore: "memory"}},
		{"everything set", map[string]string{"ADDR": ":9000", "PUBLIC_URL": "https://app.example.com/",
			"TRANSMIT_CLIENT_ID": "id", "TRANSMIT_CLIENT_SECRET": "secret", "TRANSMIT_BASE_URL": "https://mosaic.example/cis",
			"SESSION_STORE": "redis://127.0.0.1:6379/0"},
			Env{Addr: ":9000", PublicURL: "https://app.example.com", ClientID: "id", ClientSecret: "secret",
				BaseURL: "https://mosaic.example/cis", SessionStore: "redis://127.0.0.1:6379/0"}},
		{"blank means default", map[string]string{"ADDR": "  ", "SESSION_STORE": ""}, Env{Addr: "127.0.0.1:8080",
			PublicURL: "http://localhost:8080", BaseURL: transmit.SandboxBaseURL, SessionStore: "memory"}},
		{"public URL from ADDR's port", map[string]string{"ADDR": "127.0.0.1:8092"}, Env{Addr: "127.0.0.1:8092",
			PublicURL: "http://localhost:8092", BaseURL: transmit.SandboxBaseURL, SessionStore: "memory"}},
		{"public URL from a port-only ADDR", map[string]string{"ADDR": ":9000"}, Env{Addr: ":9000",
			PublicURL: "http://localhost:9000", BaseURL: transmit.SandboxBaseURL, SessionStore: "memory"}},
		{"ADDR without a port", map[string]string{"ADDR": "localhost"}, Env{Addr: "localhost",
			PublicURL: "http://localhost:8080", BaseURL: transmit.SandboxBaseURL, SessionStore: "memory"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, FromEnv(func(k string) string { return tc.vars[k] }))
		})
	}
}

func TestLoopback(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "localhost:8080": true, "[::1]:8080": true, "127.1.2.3:1": true,
		":8080": false, "0.0.0.0:8080": false, "[::]:8080": false, "192.0.2.10:8080": false,
		"example.com:8080": false, "no-port": false,
	} {
		assert.Equal(t, want, loopback(addr), addr)
	}
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	base := FromEnv(func(string) string { return "" })
	cases := []struct {
		name string
		mod  func(*Env)
		want string
	}{
		{"client id without secret", func(e *Env) { e.ClientID = "id" }, "TRANSMIT_CLIENT_SECRET"},
		{"unknown session store", func(e *Env) { e.SessionStore = "ftp://example.com" }, "exampleapp:"},
		{"bad public URL", func(e *Env) { e.PublicURL = "ftp://x" }, "PublicURL"},
		{"emulator on all interfaces", func(e *Env) { e.Addr = ":8080" }, "loopback"},
		{"emulator on a public address", func(e *Env) { e.Addr = "0.0.0.0:8080" }, "loopback"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := base
			tc.mod(&env)
			var out safe.Buffer
			app, err := New(context.Background(), env, &out)
			require.Error(t, err)
			assert.Nil(t, app)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, out.String(), "Sign in at", "no invitation to sign in before a fatal error")
			assert.NotContains(t, err.Error(), "secret", "no secret in the error")
		})
	}
}

// TestRunEmulated runs the emulated app, reads the start-up text, serves one request and
// stops when the context ends.
func TestRunEmulated(t *testing.T) {
	t.Parallel()
	env := FromEnv(func(string) string { return "" })
	ln, err := net.Listen("tcp", "127.0.0.1:0") // a free port
	require.NoError(t, err)
	env.Addr = ln.Addr().String()
	env.PublicURL = localURL(env.Addr) // as FromEnv derives it from ADDR
	require.NoError(t, ln.Close())
	var out safe.Buffer
	outboxes := make(chan http.Handler, 1)
	router := func(_ *otlogin.Auth, outbox http.Handler) http.Handler {
		outboxes <- outbox
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, env, &out, router) }()
	select {
	case outbox := <-outboxes:
		require.NotNil(t, outbox, "the emulator's outbox is served")
	case err := <-done:
		require.FailNow(t, "Run returned before building the router", "%v", err)
	}
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "in your browser") }, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, "No TRANSMIT_CLIENT_ID: using the embedded Mosaic emulator (no real email or SMS is sent).\n"+
		"Sign in at "+env.PublicURL+"/ and read the links and codes at "+env.PublicURL+"/dev/outbox\n"+
		"Listening on "+env.Addr+"\n"+
		"Open "+env.PublicURL+"/ in your browser (PUBLIC_URL; another host name, such as 127.0.0.1 for localhost, has its own cookies)\n",
		out.String(), "the start-up text of every example names the URL to open")

	resp, err := http.Get("http://" + env.Addr + "/")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, "ok", string(body))
	cancel()
	assert.NoError(t, <-done, "served, shut down and closed")
}

func TestPages(t *testing.T) {
	t.Parallel()
	u := &otlogin.User{Subject: "sub-1", Email: "<ada>@example.com", PhoneNumber: "+14155550123", Method: otlogin.MethodSMSOTP,
		ExpiresAt: time.Date(2030, 1, 2, 3, 4, 0, 0, time.UTC)}
	cases := []struct {
		name     string
		page     []byte
		contains []string
		absent   []string
	}{
		{"home anonymous", Home(nil), []string{`href="/auth/login?next=/dashboard"`}, []string{"Sign out"}},
		{"home signed in", Home(u), []string{"&lt;ada&gt;@example.com", `action="/auth/logout"`}, []string{"<ada>"}},
		{"dashboard", Dashboard(u), []string{"&lt;ada&gt;@example.com", "(sms_otp)", `action="/auth/logout"`}, []string{"<ada>"}},
		{"dashboard without email", Dashboard(&otlogin.User{PhoneNumber: "+14155550123", Method: otlogin.MethodSMSOTP}),
			[]string{"14155550123", "(sms_otp)"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := string(tc.page)
			assert.Contains(t, s, "<!doctype html>")
			for _, c := range tc.contains {
				assert.Contains(t, s, c)
			}
			for _, c := range tc.absent {
				assert.NotContains(t, s, c)
			}
		})
	}
	assert.Equal(t, MeJSON{Subject: "sub-1", Email: "<ada>@example.com", PhoneNumber: "+14155550123", Method: "sms_otp"}, Me(u))
}

// TestNewChecksMosaic: with real-tenant settings, New runs Auth.Check at start-up and prints
// what is wrong (here a wrong client secret) instead of leaving it to the first sign-in.
func TestNewChecksMosaic(t *testing.T) {
	t.Parallel()
	mosaic := transmittest.NewTestServer(t, transmittest.Options{})
	for name, tc := range map[string]struct {
		secret string
		want   string
	}{
		"wrong secret": {"not-the-secret", "WARNING: Mosaic check failed: otlogin: Mosaic refused the client credentials"},
		"right secret": {mosaic.ClientSecret, ""},
	} {
		t.Run(name, func(t *testing.T) {
			env := FromEnv(func(string) string { return "" })
			env.BaseURL, env.ClientID, env.ClientSecret = mosaic.BaseURL(), mosaic.ClientID, tc.secret
			var out safe.Buffer
			app, err := New(context.Background(), env, &out)
			require.NoError(t, err, "a failed check is printed; the app still starts")
			t.Cleanup(func() { _ = app.Close() })
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

// TestStartupWarnings: PUBLIC_URL settings that break sign-in on this app are named at
// start-up: https while the app serves plain http (the Secure cookie never comes back), a
// port other than ADDR's (links open where nothing listens).
func TestStartupWarnings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, addr, public string
		want               []string
	}{
		{"default", "127.0.0.1:8080", "http://localhost:8080", nil},
		{"upper-case host", "127.0.0.1:8080", "http://LOCALHOST:8080", nil},
		{"https on plain http", "127.0.0.1:8080", "https://localhost:8080", []string{"WARNING", "https", "plain http"}},
		{"other port", "127.0.0.1:8080", "http://localhost:9090", []string{"WARNING", "9090", "8080"}},
		{"default port of the scheme", "127.0.0.1:8080", "http://localhost", []string{"WARNING", "80", "8080"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := FromEnv(func(string) string { return "" })
			env.Addr, env.PublicURL = tc.addr, tc.public
			var out safe.Buffer
			app, err := New(context.Background(), env, &out)
			require.NoError(t, err)
			t.Cleanup(func() { _ = app.Close() })
			if tc.want == nil {
				assert.NotContains(t, out.String(), "WARNING")
				return
			}
			for _, w := range tc.want {
				assert.Contains(t, out.String(), w)
			}
		})
	}
}
