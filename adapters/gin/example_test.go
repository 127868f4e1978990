package ginotl_test

import (
	"context"
	"log"
	"net/http"
	"os"

	"github.com/gin-gonic/gin"

	"github.com/otlogin/otlogin"
	ginotl "github.com/otlogin/otlogin/adapters/gin"
	"github.com/otlogin/otlogin/transmit"
)

// A complete gin app: public home, a protected page and API, sign-in routes under /auth.
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

	r := gin.New()
	r.GET("/healthz", func(c *gin.Context) { c.String(http.StatusOK, "ok") }) // outside the session layer
	app := r.Group("/", ginotl.Middleware(auth))                              // the session layer
	ginotl.Mount(app, auth)                                                   // the sign-in routes under /auth
	app.GET("/", func(c *gin.Context) {
		c.Data(http.StatusOK, "text/html; charset=utf-8", []byte(`<a href="/auth/login?next=/dashboard">Sign in</a>`))
	})
	app.GET("/dashboard", ginotl.RequireAuth(auth), func(c *gin.Context) {
		u, _ := ginotl.User(c)
		c.String(http.StatusOK, "Hello %s", u.Email)
	})
	app.GET("/api/me", ginotl.RequireAuth(auth), func(c *gin.Context) {
		u, _ := ginotl.User(c)
		c.JSON(http.StatusOK, u)
	})
	log.Fatal(r.Run("127.0.0.1:8080"))
}
