// Command echo is the otlogin example on the echo router: the same environment, routes and
// behaviour as examples/nethttp and examples/gin (see README, Quick start).
//
//	go run ./examples/echo
//
// With no TRANSMIT_CLIENT_ID it runs the embedded Mosaic emulator: sign in with any address
// and read the link or code at http://localhost:8080/dev/outbox (or /dev/outbox.json).
package main

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/otlogin/otlogin"
	"github.com/otlogin/otlogin/adapters/echo"
	"github.com/otlogin/otlogin/examples/internal/exampleapp"
)

func main() { exampleapp.Main(newRouter) }

// newRouter wires the routes: /healthz outside the session layer, everything else inside.
func newRouter(auth *otlogin.Auth, outbox http.Handler) http.Handler {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })

	app := e.Group("", echootl.Middleware(auth))
	echootl.Mount(app, auth)
	if outbox != nil {
		app.GET(exampleapp.OutboxPath, echo.WrapHandler(outbox))
		app.GET(exampleapp.OutboxJSONPath, echo.WrapHandler(outbox))
	}
	app.GET("/", func(c echo.Context) error {
		u, _ := echootl.User(c)
		return c.HTMLBlob(http.StatusOK, exampleapp.Home(u))
	})
	app.GET("/dashboard", func(c echo.Context) error {
		u, _ := echootl.User(c)
		return c.HTMLBlob(http.StatusOK, exampleapp.Dashboard(u))
	}, echootl.RequireAuth(auth))
	app.GET("/api/me", func(c echo.Context) error {
		u, _ := echootl.User(c)
		return c.JSON(http.StatusOK, exampleapp.Me(u))
	}, echootl.RequireAuth(auth))
	return e
}
