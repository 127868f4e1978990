package echootl_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin"
	echootl "github.com/otlogin/otlogin/adapters/echo"
	"github.com/otlogin/otlogin/internal/conformance"
	"github.com/otlogin/otlogin/transmit"
	"github.com/otlogin/otlogin/transmit/transmittest"
)

// fixture is an Auth over the emulator whose session manager the test handlers can use.
type fixture struct {
	emu  *transmittest.Server
	auth *otlogin.Auth
	sm   *scs.SessionManager
	ln   net.Listener
	url  string
}

func newFixture(t *testing.T, mods ...func(*otlogin.Config)) *fixture {
	t.Helper()
	f := &fixture{emu: transmittest.NewTestServer(t, transmittest.Options{}), sm: scs.New()}
	f.sm.Store = memstore.NewWithCleanupInterval(0)
	client, err := transmit.New(transmit.Config{BaseURL: f.emu.BaseURL(), ClientID: f.emu.ClientID, ClientSecret: f.emu.ClientSecret})
	require.NoError(t, err)
	f.ln, err = net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	f.url = "http://" + f.ln.Addr().String()
	cfg := otlogin.Config{Client: client, PublicURL: f.url, Sessions: f.sm, CreateUsers: true}
	for _, m := range mods {
		m(&cfg)
	}
	f.auth, err = otlogin.New(cfg)
	require.NoError(t, err)
	return f
}

// start serves h on the fixture's address.
func (f *fixture) start(t *testing.T, h http.Handler) {
	t.Helper()
	var serverLog syncBuffer
	t.Cleanup(func() { // runs after the server closed
		assert.NotContains(t, serverLog.String(), "superfluous", "every answer is written once")
	})
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(&serverLog, "", 0)
	require.NoError(t, srv.Listener.Close())
	srv.Listener = f.ln
	srv.Start()
	t.Cleanup(srv.Close)
}

// newEcho returns an echo instance whose log goes to buf.
func newEcho(buf io.Writer) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Logger.SetOutput(buf)
	return e
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newClient(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// get returns the status, body and session cookie ("" when none was set).
func get(t *testing.T, c *http.Client, url string, header ...string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	cookie := ""
	for _, ck := range resp.Cookies() {
		if ck.Name == "session" {
			cookie = ck.Value
		}
	}
	return resp.StatusCode, string(b), cookie
}

// TestSessionSavedBeforeTheBody changes the session in a handler that then answers in each of
// echo's ways, errors included: the cookie is always sent, the change is always saved, and
// the answer is written once.
func TestSessionSavedBeforeTheBody(t *testing.T) {
	cases := []struct {
		name   string
		write  func(c echo.Context) error
		status int
		body   string
	}{
		{"String", func(c echo.Context) error { return c.String(http.StatusOK, "hello") }, http.StatusOK, "hello"},
		{"JSON", func(c echo.Context) error { return c.JSON(http.StatusCreated, map[string]int{"a": 1}) }, http.StatusCreated, "{\"a\":1}\n"},
		{"Blob", func(c echo.Context) error { return c.Blob(http.StatusOK, "text/plain", []byte("x")) }, http.StatusOK, "x"},
		{"Response.Write", func(c echo.Context) error { _, err := c.Response().Write([]byte("x")); return err }, http.StatusOK, "x"},
		{"Redirect", func(c echo.Context) error { return c.Redirect(http.StatusSeeOther, "/elsewhere") }, http.StatusSeeOther, ""},
		{"NoContent", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) }, http.StatusNoContent, ""},
		{"Flush first", func(c echo.Context) error { // echo's streaming pattern: WriteHeader, then Flush
			c.Response().WriteHeader(http.StatusOK)
			c.Response().Flush()
			_, err := c.Response().Write([]byte("x"))
			return err
		}, http.StatusOK, "x"},
		{"Stream", func(c echo.Context) error { return c.Stream(http.StatusOK, "text/plain", strings.NewReader("chunk")) }, http.StatusOK, "chunk"},
		{"HTTPError", func(c echo.Context) error { return echo.NewHTTPError(http.StatusTeapot, "short and stout") },
			http.StatusTeapot, "{\"message\":\"short and stout\"}\n"},
		{"error", func(c echo.Context) error { return errors.New("internal detail") },
			http.StatusInternalServerError, "{\"message\":\"Internal Server Error\"}\n"},
	}
	f := newFixture(t)
	var log syncBuffer
	e := newEcho(&log)
	app := e.Group("", echootl.Middleware(f.auth))
	for _, tc := range cases {
		app.GET("/"+tc.name, func(c echo.Context) error {
			f.sm.Put(c.Request().Context(), "note", tc.name)
			return tc.write(c)
		})
	}
	app.GET("/read", func(c echo.Context) error {
		return c.String(http.StatusOK, f.sm.GetString(c.Request().Context(), "note"))
	})
	f.start(t, e)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t)
			status, body, cookie := get(t, c, f.url+"/"+strings.ReplaceAll(tc.name, " ", "%20"))
			assert.Equal(t, tc.status, status)
			if tc.status != http.StatusSeeOther {
				assert.Equal(t, tc.body, body, "written once")
			}
			assert.NotEmpty(t, cookie, "the session cookie is sent")
			_, note, _ := get(t, c, f.url+"/read")
			assert.Equal(t, tc.name, note, "the change was saved")
		})
	}
	assert.NotContains(t, log.String(), "already committed")
}

type outerKey struct{}
type innerKey struct{}

// TestRequestValues: values that other middleware put on the request, before or after the
// session middleware, reach the handler together with the session.
func TestRequestValues(t *testing.T) {
	f := newFixture(t)
	e := newEcho(io.Discard)
	with := func(k any, v string) echo.MiddlewareFunc {
		return func(next echo.HandlerFunc) echo.HandlerFunc {
			return func(c echo.Context) error {
				c.SetRequest(c.Request().WithContext(context.WithValue(c.Request().Context(), k, v)))
				return next(c)
			}
		}
	}
	e.Use(with(outerKey{}, "outer"), echootl.Middleware(f.auth), with(innerKey{}, "inner"))
	e.GET("/", func(c echo.Context) error {
		ctx := c.Request().Context()
		f.sm.Put(ctx, "k", "v") // panics without a loaded session
		_, signedIn := echootl.User(c)
		return c.String(http.StatusOK, fmt.Sprint(ctx.Value(outerKey{}), " ", ctx.Value(innerKey{}), " ", signedIn))
	})
	f.start(t, e)
	status, body, cookie := get(t, newClient(t), f.url+"/")
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "outer inner false", body)
	assert.NotEmpty(t, cookie)
}

// TestRequireAuth without the session middleware: anonymous requests are refused and the
// chain stops; signed-in requests reach the handler, which sees the user and whose session
// change is saved although it writes first. Outer middleware sees the real status.
func TestRequireAuth(t *testing.T) {
	f := newFixture(t)
	e := newEcho(io.Discard)
	statuses := make(chan int, 10)
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			err := next(c)
			statuses <- c.Response().Status
			return err
		}
	})
	echootl.Mount(e, f.auth)
	var reached atomic.Int32
	e.GET("/me", func(c echo.Context) error {
		reached.Add(1)
		u, ok := echootl.User(c)
		require.True(t, ok)
		f.sm.Put(c.Request().Context(), "note", "seen")
		return c.String(http.StatusOK, u.Email)
	}, echootl.RequireAuth(f.auth))
	f.start(t, e)
	c := newClient(t)

	status, _, _ := get(t, c, f.url+"/me")
	assert.Equal(t, http.StatusSeeOther, status)
	status, body, _ := get(t, c, f.url+"/me", "Accept", "application/json")
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Contains(t, body, `"error":"unauthenticated"`)
	assert.Zero(t, reached.Load(), "the chain stopped")

	conformance.SignIn(t, c, f.url, f.emu, "ada@example.com")
	status, body, cookie := get(t, c, f.url+"/me")
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "ada@example.com", body)
	assert.NotEmpty(t, cookie, "the handler's session change is sent")
	assert.Equal(t, int32(1), reached.Load())
	for _, want := range []int{303, 401, 200, 303, 200} { // the two sign-in posts included
		assert.Equal(t, want, <-statuses, "echo sees the answer's status")
	}
}

// TestMount mounts the auth routes on the echo instance and on a group without a prefix,
// and refuses a group with a prefix, which would move them.
func TestMount(t *testing.T) {
	f := newFixture(t, func(c *otlogin.Config) { c.Prefix = "/app/auth" })
	e := newEcho(io.Discard)
	echootl.Mount(e.Group("", echootl.Middleware(f.auth)), f.auth)
	assert.Panics(t, func() { echootl.Mount(e.Group("/app"), f.auth) })
	f.start(t, e)
	status, body, _ := get(t, newClient(t), f.url+"/app/auth/login")
	assert.Equal(t, http.StatusOK, status)
	assert.Contains(t, body, `action="/app/auth/otp/send"`)
	status, _, _ = get(t, newClient(t), f.url+"/app/auth/me")
	assert.Equal(t, http.StatusUnauthorized, status)
}

// TestPanicRecovered: a handler that panics inside the session layer is answered by an outer
// recover middleware (like echo's middleware.Recover), once.
func TestPanicRecovered(t *testing.T) {
	f := newFixture(t)
	e := newEcho(io.Discard)
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) (err error) {
			defer func() {
				if v := recover(); v != nil {
					c.Error(fmt.Errorf("recovered: %v", v))
				}
			}()
			return next(c)
		}
	}, echootl.Middleware(f.auth))
	e.GET("/", func(c echo.Context) error {
		f.sm.Put(c.Request().Context(), "k", "v")
		panic("boom")
	})
	f.start(t, e)
	status, body, _ := get(t, newClient(t), f.url+"/")
	assert.Equal(t, http.StatusInternalServerError, status)
	assert.Equal(t, "{\"message\":\"Internal Server Error\"}\n", body)
}
