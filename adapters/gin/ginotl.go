package ginotl

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/otlogin/otlogin"
)

// Middleware runs [otlogin.Auth.Middleware] around the rest of the chain: it loads the
// session, attaches the user to c.Request and saves the session before the first byte.
func Middleware(auth *otlogin.Auth) gin.HandlerFunc {
	return func(c *gin.Context) { around(c, auth.Middleware) }
}

// RequireAuth runs [otlogin.Auth.RequireAuth]: signed-in requests continue down the chain;
// others get a 303 to the sign-in page (401 JSON for API requests) and the chain is aborted.
func RequireAuth(auth *otlogin.Auth) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !around(c, auth.RequireAuth) {
			c.Abort()
		}
	}
}

// Router is a gin router or group: *gin.Engine and *gin.RouterGroup satisfy it.
type Router interface {
	gin.IRoutes
	BasePath() string
}

// Mount registers [otlogin.Auth.Handler] for every method under the auth prefix
// (Config.Prefix, a full path). It panics, as gin does for a bad route, when r is a group
// whose base path does not contain that prefix.
func Mount(r Router, auth *otlogin.Auth) {
	prefix, base := auth.Prefix(), strings.TrimSuffix(r.BasePath(), "/")
	if !strings.HasPrefix(prefix, base+"/") {
		panic("ginotl: the auth prefix " + prefix + " is not under the group path " + r.BasePath())
	}
	r.Any(strings.TrimPrefix(prefix, base)+"/*path", gin.WrapH(auth.Handler()))
}

// User returns the signed-in user of the request, see [otlogin.UserFromContext].
func User(c *gin.Context) (*otlogin.User, bool) {
	return otlogin.UserFromContext(c.Request.Context())
}

// around runs mw with the rest of the chain as its next handler, which sees mw's request and
// writes through mw's writer. It reports whether mw called next.
func around(c *gin.Context, mw func(http.Handler) http.Handler) (reached bool) {
	orig := c.Writer
	defer func() { c.Writer = orig }()
	mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached = true
		c.Request = r
		c.Writer = &writer{ResponseWriter: orig, w: w}
		c.Next()
	})).ServeHTTP(orig, c.Request)
	return reached
}
