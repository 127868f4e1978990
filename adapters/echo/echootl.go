package echootl

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/otlogin/otlogin"
)

// Middleware runs [otlogin.Auth.Middleware] around the rest of the chain: it loads the
// session, attaches the user to c.Request() and saves the session before the first byte.
func Middleware(auth *otlogin.Auth) echo.MiddlewareFunc {
	return wrap(auth.Middleware)
}

// RequireAuth runs [otlogin.Auth.RequireAuth]: signed-in requests continue down the chain;
// others get a 303 to the sign-in page (401 JSON for API requests) and the chain stops.
func RequireAuth(auth *otlogin.Auth) echo.MiddlewareFunc {
	return wrap(auth.RequireAuth)
}

// Router is an echo instance or group: *echo.Echo and *echo.Group satisfy it.
type Router interface {
	Any(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) []*echo.Route
}

// Mount registers [otlogin.Auth.Handler] for every method under the auth prefix
// (Config.Prefix, a full path). r may be the echo instance or a group with an empty prefix;
// Mount panics, at set-up, when a group prefix would move the routes elsewhere.
func Mount(r Router, auth *otlogin.Auth) {
	path := auth.Prefix() + "/*"
	for _, rt := range r.Any(path, echo.WrapHandler(auth.Handler())) {
		if rt.Path != path {
			panic("echootl: Mount on a group with a prefix: the auth routes landed at " + rt.Path + ", not " + path)
		}
	}
}

// User returns the signed-in user of the request, see [otlogin.UserFromContext].
func User(c echo.Context) (*otlogin.User, bool) {
	return otlogin.UserFromContext(c.Request().Context())
}

// wrap runs mw with the rest of the chain as its next handler, which sees mw's request and
// writes through mw's writer (behind a fresh echo.Response, so echo's bookkeeping holds).
func wrap(mw func(http.Handler) http.Handler) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) (err error) {
			res := c.Response()
			defer c.SetResponse(res)
			mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c.SetRequest(r)
				c.SetResponse(echo.NewResponse(w, c.Echo()))
				err = next(c)
			})).ServeHTTP(res, c.Request())
			return err
		}
	}
}
