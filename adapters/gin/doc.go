// Package ginotl adapts otlogin to gin. It translates only: every decision (sessions, cookies,
// redirects, CSRF, rate limits) is made by the [otlogin.Auth] it wraps.
//
//	r := gin.New()
//	app := r.Group("/", ginotl.Middleware(auth))
//	ginotl.Mount(app, auth)
//	app.GET("/dashboard", ginotl.RequireAuth(auth), func(c *gin.Context) {
//		u, _ := ginotl.User(c)
//		c.String(http.StatusOK, "hello %s", u.Email)
//	})
//
// Handlers further down the chain see the request otlogin prepared (c.Request) and write
// through otlogin's response writer (c.Writer), so the session cookie is set even when a
// handler writes its body before returning.
package ginotl
