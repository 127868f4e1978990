package echootl_test

import (
	"context"
	"log"
	"net/http"
	"os"

	"github.com/labstack/echo/v4"

	"github.com/otlogin/otlogin"
	echootl "github.com/otlogin/otlogin/adapters/echo"
	"github.com/otlogin/otlogin/transmit"
)

// A complete echo app: public home, a protected page and API, sign-in routes under /auth.
func Example() {
	client, err := transmit.New(transmit.Config{
		BaseURL:      transmit.SandboxBaseURL,
		ClientID:     os.Getenv("TRANSMIT_CLIENT_ID"),
		ClientSecret: os.Getenv("TRANSMIT_CLIENT_SECRET"),
	})
	if err != nil {
		log.Fatal(err)
	}
	auth, err := otlogin.New(otlogin.Config{Client: client, PublicURL: "http://localhost:8080", CreateUsers: true})
	if err != nil {
		log.Fatal(err)
	}
	// Check asks Mosaic once for a client token, discovery and signing keys, and names what
	// to fix (a wrong secret, BaseURL or Issuer): stop here rather than serve sign-ins that fail.
	if err := auth.Check(context.Background()); err != nil {
		log.Fatal(err)
	}

	e := echo.New()
	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok") }) // outside the session layer
	app := e.Group("", echootl.Middleware(auth))                                           // the session layer
	echootl.Mount(app, auth)                                                               // the sign-in routes under /auth
	app.GET("/", func(c echo.Context) error {
		return c.HTML(http.StatusOK, `<a href="/auth/login?next=/dashboard">Sign in</a>`)
	})
	app.GET("/dashboard", func(c echo.Context) error {
		u, _ := echootl.User(c)
		return c.String(http.StatusOK, "Hello "+u.Email)
	}, echootl.RequireAuth(auth))
	app.GET("/api/me", func(c echo.Context) error {
		u, _ := echootl.User(c)
		return c.JSON(http.StatusOK, u)
	}, echootl.RequireAuth(auth))
	log.Fatal(e.Start("127.0.0.1:8080"))
}
