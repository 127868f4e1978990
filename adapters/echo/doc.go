// Package echootl adapts otlogin to echo v4. It translates only: every decision (sessions,
// cookies, redirects, CSRF, rate limits) is made by the [otlogin.Auth] it wraps.
//
//	e := echo.New()
//	app := e.Group("", echootl.Middleware(auth))
//	echootl.Mount(app, auth)
//	app.GET("/dashboard", func(c echo.Context) error {
//		u, _ := echootl.User(c)
//		return c.String(http.StatusOK, "hello "+u.Email)
//	}, echootl.RequireAuth(auth))
//
// Handlers further down the chain see the request otlogin prepared (c.Request()) and write
// through otlogin's response writer (c.Response()), so the session cookie is set even when a
// handler writes its body before returning. An error a handler returns is rendered by echo's
// HTTPErrorHandler after the session was saved, once.
package echootl
