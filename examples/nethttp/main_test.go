package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin/examples/internal/conformance"
	"github.com/otlogin/otlogin/internal/apptest/safe"
)

// example is this example for the conformance suite. Its environment converts to
// conformance.Env and back, so the compiler holds it to the same fields as the others'.
var example = conformance.Example{
	Env: func(getenv func(string) string) conformance.Env { return conformance.Env(envFrom(getenv)) },
	Run: func(ctx context.Context, env conformance.Env, out io.Writer) error {
		return run(ctx, environment(env), out)
	},
	Router:    newRouter,
	Home:      homePage,
	Dashboard: dashboardPage,
}

// TestExample runs the router conformance suite against this example's router, checks its
// environment and pages, and runs the example as `go run` starts it: start-up text,
// refusals, warnings, the Mosaic check, SESSION_STORE, and sign-in through the dev outbox.
func TestExample(t *testing.T) { conformance.RunExample(t, example) }

// TestServerTimeouts: the server cuts slow headers and bodies and idle connections, lets
// the longest otlogin request finish, and waits longer than that on shutdown.
func TestServerTimeouts(t *testing.T) {
	conformance.CheckServerTimeouts(t, newServer(nil), longestRequest, shutdownTimeout)
}

// startApp runs the example against the embedded emulator and returns its URL and output.
func startApp(t *testing.T) (string, *safe.Buffer) {
	t.Helper()
	var out safe.Buffer
	return conformance.ServeExample(t, example, &out), &out
}

type outboxMessage struct {
	Channel, To, Kind, Link, Code string
}

// latest reads /dev/outbox.json and returns the newest message to "to".
func latest(t *testing.T, c *http.Client, base, to string) outboxMessage {
	t.Helper()
	resp, err := c.Get(base + "/dev/outbox.json")
	require.NoError(t, err)
	defer resp.Body.Close()
	var msgs []outboxMessage
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&msgs))
	for _, m := range msgs { // newest first
		if m.To == to {
			return m
		}
	}
	t.Fatalf("no message to %s in the outbox", to)
	return outboxMessage{}
}

// reader reads answers: r.body(c.Get(url)).
type reader struct{ t *testing.T }

func (r reader) body(resp *http.Response, err error) (int, string) {
	t := r.t
	t.Helper()
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// TestExampleSignIn signs in through the dev outbox with a magic link and an SMS code.
func TestExampleSignIn(t *testing.T) {
	t.Parallel()
	base, out := startApp(t)
	rd := reader{t}
	assert.Contains(t, out.String(), "emulator")
	assert.Contains(t, out.String(), base+"/dev/outbox")
	c := safe.NewBrowser(10 * time.Second)

	code, b := rd.body(c.Get(base + "/healthz"))
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "ok", b)
	code, b = rd.body(c.Get(base + "/"))
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, b, `href="/auth/login?next=/dashboard"`)
	req, _ := http.NewRequest(http.MethodGet, base+"/dashboard", nil)
	req.Header.Set("Sec-Fetch-Mode", "navigate") // a browser opening the page
	resp, err := c.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
	req, _ = http.NewRequest(http.MethodGet, base+"/api/me", nil)
	req.Header.Set("Accept", "application/json")
	code, _ = rd.body(c.Do(req))
	assert.Equal(t, http.StatusUnauthorized, code)

	code, _ = rd.body(c.PostForm(base+"/auth/link/email/send", url.Values{"email": {"grace@example.com"}, "next": {"/dashboard"}}))
	require.Equal(t, http.StatusOK, code)
	msg := latest(t, c, base, "grace@example.com")
	require.True(t, strings.HasPrefix(msg.Link, base+"/auth/link/email/callback?"), msg.Link)
	resp, err = c.Get(msg.Link)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, "/dashboard", resp.Header.Get("Location"))
	code, b = rd.body(c.Get(base + "/dashboard"))
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, b, "grace@example.com")
	code, b = rd.body(c.Get(base + "/api/me"))
	assert.Equal(t, http.StatusOK, code)
	var me map[string]string
	require.NoError(t, json.Unmarshal([]byte(b), &me))
	assert.Equal(t, "grace@example.com", me["email"])
	assert.Equal(t, "magic_link", me["method"])
	assert.NotEmpty(t, me["subject"])
	assert.Len(t, me, 4)

	code, _ = rd.body(c.PostForm(base+"/auth/logout", nil))
	assert.Equal(t, http.StatusSeeOther, code)
	code, _ = rd.body(c.Get(base + "/dashboard")) // a program, not a browser navigation
	assert.Equal(t, http.StatusUnauthorized, code)

	code, _ = rd.body(c.PostForm(base+"/auth/otp/send", url.Values{"channel": {"sms"}, "identifier": {"+1 415 555 0199"}}))
	require.Equal(t, http.StatusOK, code)
	msg = latest(t, c, base, "+14155550199")
	code, _ = rd.body(c.PostForm(base+"/auth/otp/authenticate", url.Values{"passcode": {msg.Code}}))
	require.Equal(t, http.StatusSeeOther, code)
	code, b = rd.body(c.Get(base + "/api/me"))
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, b, `"method":"sms_otp"`)
}
