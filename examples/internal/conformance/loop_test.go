package conformance_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"

	"github.com/otlogin/otlogin"
	echootl "github.com/otlogin/otlogin/adapters/echo"
	ginotl "github.com/otlogin/otlogin/adapters/gin"
	"github.com/otlogin/otlogin/examples/internal/conformance"
)

// TestRequireAuthAroundEverything: an app that puts RequireAuth in front of every route, the
// sign-in routes included, can still sign in on every router: requests under Prefix pass
// through instead of being sent to /auth/login?next=/auth/login forever.
func TestRequireAuthAroundEverything(t *testing.T) {
	t.Parallel()
	secret := func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("secret")) }
	routers := map[string]func(auth *otlogin.Auth) http.Handler{
		"net/http": func(auth *otlogin.Auth) http.Handler {
			mux := http.NewServeMux()
			mux.Handle("/auth/", auth.Handler())
			mux.HandleFunc("/secret", secret)
			return auth.Middleware(auth.RequireAuth(mux))
		},
		"gin": func(auth *otlogin.Auth) http.Handler {
			gin.SetMode(gin.ReleaseMode)
			r := gin.New()
			r.Use(ginotl.Middleware(auth), ginotl.RequireAuth(auth))
			ginotl.Mount(r, auth)
			r.GET("/secret", gin.WrapF(secret))
			return r
		},
		"echo": func(auth *otlogin.Auth) http.Handler {
			e := echo.New()
			e.Use(echootl.Middleware(auth), echootl.RequireAuth(auth))
			echootl.Mount(e, auth)
			e.GET("/secret", echo.WrapHandler(http.HandlerFunc(secret)))
			return e
		},
	}
	nav := []string{"Accept", "text/html", "Sec-Fetch-Mode", "navigate", "Sec-Fetch-Dest", "document"}
	for name, build := range routers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := conformance.NewFixture(t, false)
			f.Start(t, build(f.Auth))
			c := conformance.NewClient(t)
			status, body := get(t, c, f.URL+"/auth/login?next=/secret", nav...)
			assert.Equal(t, http.StatusOK, status, "the sign-in page is served, not redirected to itself")
			assert.Contains(t, body, `action="/auth/otp/send"`)
			status, _ = get(t, c, f.URL+"/secret", nav...)
			assert.Equal(t, http.StatusSeeOther, status, "other routes stay protected")
			f.SignIn(t, c, "loop@example.com")
			status, body = get(t, c, f.URL+"/secret", nav...)
			assert.Equal(t, http.StatusOK, status)
			assert.Equal(t, "secret", body)
		})
	}
}

func get(t *testing.T, c *http.Client, u string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(b)
}
