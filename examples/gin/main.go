// Command gin is the otlogin example on the gin router: the same environment, routes and
// behaviour as examples/nethttp and examples/echo (see DESIGN §6).
//
//	go run ./examples/gin
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

	"github.com/gin-gonic/gin"

	"github.com/otlogin/otlogin"
	"github.com/otlogin/otlogin/adapters/gin"
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
	gin.SetMode(gin.ReleaseMode)
	return app.Serve(ctx, newRouter(app.Auth, app.Outbox))
}

// newRouter wires the routes: /healthz outside the session layer, everything else inside.
func newRouter(auth *otlogin.Auth, outbox http.Handler) *gin.Engine {
	r := gin.New()
	r.GET("/healthz", func(c *gin.Context) { c.String(http.StatusOK, "ok") })

	app := r.Group("/", ginotl.Middleware(auth))
	ginotl.Mount(app, auth)
	if outbox != nil {
		app.GET(exampleapp.OutboxPath, gin.WrapH(outbox))
		app.GET(exampleapp.OutboxJSONPath, gin.WrapH(outbox))
	}
	app.GET("/", func(c *gin.Context) {
		u, _ := ginotl.User(c)
		c.Data(http.StatusOK, exampleapp.HTMLType, exampleapp.Home(u))
	})
	app.GET("/dashboard", ginotl.RequireAuth(auth), func(c *gin.Context) {
		u, _ := ginotl.User(c)
		c.Data(http.StatusOK, exampleapp.HTMLType, exampleapp.Dashboard(u))
	})
	app.GET("/api/me", ginotl.RequireAuth(auth), func(c *gin.Context) {
		u, _ := ginotl.User(c)
		c.JSON(http.StatusOK, exampleapp.Me(u))
	})
	return r
}
