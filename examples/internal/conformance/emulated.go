package conformance

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin"
	"github.com/otlogin/otlogin/examples/internal/contract"
	"github.com/otlogin/otlogin/examples/internal/exampleapp"
	"github.com/otlogin/otlogin/transmit/transmittest"
)

// RunExample runs the tests of an example app on router: [Run] (without an outbox) and
// [RunEmulated].
func RunExample(t *testing.T, router exampleapp.Router) {
	t.Helper()
	t.Run("Conformance", func(t *testing.T) {
		Run(t, func(_ *testing.T, auth *otlogin.Auth) http.Handler { return router(auth, nil) })
	})
	t.Run("Emulated", func(t *testing.T) { RunEmulated(t, router) })
}

// ServeExample serves router's app as `go run` builds it without a Mosaic tenant
// (exampleapp.New with the embedded emulator and memory sessions, writing its output to
// out) on a loopback address that is its PUBLIC_URL (srv.URL), until the end of the test.
func ServeExample(t *testing.T, router exampleapp.Router, out io.Writer) (*httptest.Server, *exampleapp.App) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	base := "http://" + ln.Addr().String()
	vars := exampleapp.FromEnv(func(k string) string { return map[string]string{"PUBLIC_URL": base}[k] })
	var opts transmittest.Options
	contract.Attach(t, &opts) // the example's own emulator traffic is held to the OpenAPI documents too
	vars.EmulatorObserver = opts.Observer
	app, err := exampleapp.New(context.Background(), vars, out)
	if err != nil {
		_ = ln.Close()
		require.NoError(t, err)
	}
	t.Cleanup(func() {
		assert.NoError(t, app.Close())
	})
	srv := httptest.NewUnstartedServer(router(app.Auth, app.Outbox))
	require.NoError(t, srv.Listener.Close())
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, app
}

// RunEmulated builds the example as `go run` does without a Mosaic tenant (exampleapp.New
// with the embedded emulator), serves router's app and signs in the way a developer does:
// the code is read from /dev/outbox.json.
func RunEmulated(t *testing.T, router exampleapp.Router) {
	t.Helper()
	srv, app := ServeExample(t, router, io.Discard)
	require.NotNil(t, app.Outbox)
	b := (&env{srv: srv}).browser(t)

	page := b.get("/dev/outbox")
	assert.Equal(t, http.StatusOK, page.StatusCode)
	assert.Contains(t, page.Header.Get("Content-Type"), "text/html")

	r := b.form("/auth/otp/send", url.Values{"channel": {"email"}, "identifier": {"dev@example.com"}, "next": {"/dashboard"}})
	require.Equal(t, http.StatusOK, r.StatusCode, r.body)
	box := b.get("/dev/outbox.json")
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
