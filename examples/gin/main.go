// Command gin is the otlogin example on the gin router: the same environment, routes and
// behaviour as examples/nethttp and examples/echo (see README, Quick start).
//
//	go run ./examples/gin
//
// With no TRANSMIT_CLIENT_ID it runs the embedded Mosaic emulator: sign in with any address
// and read the link or code at http://localhost:8080/dev/outbox (or /dev/outbox.json).
package main

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/otlogin/otlogin"
	"github.com/otlogin/otlogin/adapters/gin"
	"github.com/otlogin/otlogin/examples/internal/exampleapp"
)

func main() {
	gin.SetMode(gin.ReleaseMode)
	exampleapp.Main(newRouter)
}

// newRouter wires the routes: /healthz outside the session layer, everything else inside.
func newRouter(auth *otlogin.Auth, outbox http.Handler) http.Handler {
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
