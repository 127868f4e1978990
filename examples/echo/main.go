// Command echo is the otlogin example on the echo router: the same environment, routes and
// behaviour as examples/nethttp and examples/gin (see DESIGN §6).
//
//	go run ./examples/echo
//
// With no TRANSMIT_CLIENT_ID it runs the embedded Mosaic emulator: sign in with any address
// and read the link or code at http://localhost:8080/dev/outbox (or /dev/outbox.json).
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/labstack/echo/v4"

	"github.com/otlogin/otlogin"
	"github.com/otlogin/otlogin/adapters/echo"
	"github.com/otlogin/otlogin/internal/exampleapp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "example:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	app, err := exampleapp.New(ctx, exampleapp.FromEnv(os.Getenv), os.Stdout)
	if err != nil {
		return err
	}
	defer app.Close()
	return app.Serve(ctx, newRouter(app.Auth, app.Outbox))
}

// newRouter wires the routes: /healthz outside the session layer, everything else inside.
func newRouter(auth *otlogin.Auth, outbox http.Handler) *echo.Echo {
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
