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
			app, err := New(context.Background(), env, io.Discard)
			require.Error(t, err)
			assert.Nil(t, app)
			assert.Contains(t, err.Error(), tc.want)
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
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "Listening on") }, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, "No TRANSMIT_CLIENT_ID: using the embedded Mosaic emulator (no real email or SMS is sent).\n"+
		"Sign in at http://localhost:8080/ and read the links and codes at http://localhost:8080/dev/outbox\n"+
		"Listening on "+env.Addr+"\n", out.String(), "the start-up text of every example")

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
