package echootl_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin"
	echootl "github.com/otlogin/otlogin/adapters/echo"
	"github.com/otlogin/otlogin/examples/internal/conformance"
	"github.com/otlogin/otlogin/internal/apptest/safe"
)

// newEcho returns an echo instance whose log goes to buf.
func newEcho(buf io.Writer) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Logger.SetOutput(buf)
	return e
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
	f := conformance.NewAdapterFixture(t)
	var log safe.Buffer
	e := newEcho(&log)
	app := e.Group("", echootl.Middleware(f.Auth))
	for _, tc := range cases {
		app.GET("/"+tc.name, func(c echo.Context) error {
			f.Sessions.Put(c.Request().Context(), "note", tc.name)
			return tc.write(c)
		})
	}
	app.GET("/read", func(c echo.Context) error {
		return c.String(http.StatusOK, f.Sessions.GetString(c.Request().Context(), "note"))
	})
	f.Start(t, e)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := f.CheckSessionSaved(t, tc.name)
			assert.Equal(t, tc.status, status)
			if tc.status != http.StatusSeeOther {
				assert.Equal(t, tc.body, body, "written once")
			}
		})
	}
	assert.NotContains(t, log.String(), "already committed")
}

type outerKey struct{}
type innerKey struct{}

// TestRequestValues: values that other middleware put on the request, before or after the
// session middleware, reach the handler together with the session.
func TestRequestValues(t *testing.T) {
	f := conformance.NewAdapterFixture(t)
	e := newEcho(io.Discard)
	with := func(k any, v string) echo.MiddlewareFunc {
		return func(next echo.HandlerFunc) echo.HandlerFunc {
			return func(c echo.Context) error {
				c.SetRequest(c.Request().WithContext(context.WithValue(c.Request().Context(), k, v)))
				return next(c)
			}
		}
	}
	e.Use(with(outerKey{}, "outer"), echootl.Middleware(f.Auth), with(innerKey{}, "inner"))
	e.GET("/", func(c echo.Context) error {
		ctx := c.Request().Context()
		f.Sessions.Put(ctx, "k", "v") // panics without a loaded session
		_, signedIn := echootl.User(c)
		return c.String(http.StatusOK, fmt.Sprint(ctx.Value(outerKey{}), " ", ctx.Value(innerKey{}), " ", signedIn))
	})
	f.Start(t, e)
	status, body, cookie := f.Get(t, conformance.NewClient(t), "/")
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "outer inner false", body)
	assert.NotEmpty(t, cookie)
}

// TestRequireAuth without the session middleware: anonymous requests are refused and the
// chain stops; signed-in requests reach the handler, which sees the user and whose session
// change is saved although it writes first. Outer middleware sees the real status.
func TestRequireAuth(t *testing.T) {
	f := conformance.NewAdapterFixture(t)
	e := newEcho(io.Discard)
	statuses := make(chan int, 10)
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			err := next(c)
			statuses <- c.Response().Status
			return err
		}
	})
	echootl.Mount(e, f.Auth)
	var reached atomic.Int32
	e.GET("/me", func(c echo.Context) error {
		reached.Add(1)
		u, ok := echootl.User(c)
		require.True(t, ok)
		f.Sessions.Put(c.Request().Context(), "note", "seen")
		return c.String(http.StatusOK, u.Email)
	}, echootl.RequireAuth(f.Auth))
	f.Start(t, e)
	f.CheckRequireAuth(t, "echo", &reached, statuses)
}

// TestMount mounts the auth routes on the echo instance and on a group without a prefix,
// and refuses a group with a prefix, which would move them.
func TestMount(t *testing.T) {
	f := conformance.NewAdapterFixture(t, func(c *otlogin.Config) { c.Prefix = "/app/auth" })
	e := newEcho(io.Discard)
	echootl.Mount(e.Group("", echootl.Middleware(f.Auth)), f.Auth)
	assert.Panics(t, func() { echootl.Mount(e.Group("/app"), f.Auth) })
	f.Start(t, e)
	f.CheckMountedAtAppAuth(t)
}

// TestPanicRecovered: a handler that panics inside the session layer is answered by an outer
// recover middleware (like echo's middleware.Recover), once.
func TestPanicRecovered(t *testing.T) {
	f := conformance.NewAdapterFixture(t)
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
	}, echootl.Middleware(f.Auth))
	e.GET("/", func(c echo.Context) error {
		f.Sessions.Put(c.Request().Context(), "k", "v")
		panic("boom")
	})
	f.Start(t, e)
	status, body, _ := f.Get(t, conformance.NewClient(t), "/")
	assert.Equal(t, http.StatusInternalServerError, status)
	assert.Equal(t, "{\"message\":\"Internal Server Error\"}\n", body)
}

// insideRoutes adds the routes of conformance.Inside to g.
func insideRoutes(in *conformance.Inside, g *echo.Group) {
	sm := in.Sessions
	g.GET("/slow", func(c echo.Context) error {
		in.Hold(c.Request().Context())
		return c.String(http.StatusOK, "slow done")
	})
	g.GET("/visit", func(c echo.Context) error {
		in.Visit(c.Request().Context())
		return c.String(http.StatusOK, "visited")
	})
	g.GET("/read", func(c echo.Context) error {
		return c.String(http.StatusOK, sm.GetString(c.Request().Context(), "note"))
	})
	g.GET("/me", func(c echo.Context) error {
		u, _ := echootl.User(c)
		return c.String(http.StatusOK, u.Email)
	}, echootl.RequireAuth(in.Auth))
}

// TestLoadAndSaveInsideLogoutRace: a slow request through the app's sm.LoadAndSave
// (echo.WrapMiddleware) inside echootl.Middleware does not sign a browser in again after its
// logout (docs/SECURITY.md S10). LoadAndSave saves before the answer: its save is refused
// and the answer is otlogin's 503. The auth routes are outside LoadAndSave here, so that
// the browser can sign in (TestLoadAndSaveInsideFirstSave has them inside).
func TestLoadAndSaveInsideLogoutRace(t *testing.T) {
	in := conformance.NewInside(t)
	var log safe.Buffer
	e := newEcho(&log)
	e.Use(echootl.Middleware(in.Auth))
	echootl.Mount(e, in.Auth)
	insideRoutes(in, e.Group("", echo.WrapMiddleware(in.Sessions.LoadAndSave)))
	in.Start(t, e)
	in.CheckLogoutRace(t, http.StatusServiceUnavailable)
}

// TestLoadAndSaveInsideFirstSave: with e.Use(echo.WrapMiddleware(sm.LoadAndSave)) after
// echootl.Middleware, the first request that changes the session is refused (503, nothing
// saved) and one Error names the fix; a sign-in fails the same way (its flow cannot be
// saved), without a session cookie.
func TestLoadAndSaveInsideFirstSave(t *testing.T) {
	in := conformance.NewInside(t)
	var log safe.Buffer
	e := newEcho(&log)
	e.Use(echootl.Middleware(in.Auth))
	e.Use(echo.WrapMiddleware(in.Sessions.LoadAndSave))
	echootl.Mount(e, in.Auth)
	insideRoutes(in, e.Group(""))
	in.Start(t, e)
	in.CheckFirstSaveRefused(t, http.StatusServiceUnavailable)
	resp, err := http.PostForm(in.URL+"/auth/otp/send", url.Values{"channel": {"email"}, "identifier": {"ada@example.com"}})
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Empty(t, resp.Header.Values("Set-Cookie"))
}
