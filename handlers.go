package otlogin

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
)

// Handler returns the auth routes, to be mounted at Prefix (e.g. mux.Handle("/auth/",
// auth.Handler())). Every answer carries the security headers; state-changing routes are
// POST-only and protected by http.CrossOriginProtection. It loads the session itself when
// [Auth.Middleware] did not run.
func (a *Auth) Handler() http.Handler { return a.handler }

// Prefix returns the path where [Auth.Handler] must be mounted (Config.Prefix after
// defaults, e.g. "/auth"), for routers that register routes by pattern.
func (a *Auth) Prefix() string { return a.prefix }

// route is one auth route: its method, path under Prefix and handler.
type route struct {
	method string
	path   string
	h      http.HandlerFunc
}

func (a *Auth) routes() []route {
	return []route{
		{http.MethodGet, "/login", a.handleLogin},
		{http.MethodPost, "/link/email/send", a.handleLinkSend},
		{http.MethodGet, "/link/email/callback", a.handleLinkCallback},
		{http.MethodPost, "/link/email/authenticate", a.handleLinkAuthenticate},
		{http.MethodPost, "/otp/send", a.handleOTPSend},
		{http.MethodPost, "/otp/authenticate", a.handleOTPAuthenticate},
		{http.MethodPost, "/logout", a.handleLogout},
		{http.MethodGet, "/me", a.handleMe},
	}
}

// buildHandler assembles the routes once, in New.
func (a *Auth) buildHandler() http.Handler {
	table := make(map[string]route)
	for _, rt := range a.routes() {
		table[a.prefix+rt.path] = rt
	}
	cop := http.NewCrossOriginProtection()
	_ = cop.AddTrustedOrigin(a.origin) // checked by New: scheme://host
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.log(r.Context(), "csrf", "", "refused", "")
		a.fail(w, r, newError(http.StatusForbidden, "cross_origin",
			"This request came from another site and was refused. Go back to the sign-in page and try again."))
	}))
	dispatch := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt, ok := table[strings.TrimSuffix(r.URL.Path, "/")]
		if !ok || r.URL.Path == a.prefix+"/" {
			a.warnOutsidePrefix(r)
			a.fail(w, r, newError(http.StatusNotFound, "not_found", "There is no such page."))
			return
		}
		allowed := r.Method == rt.method || (rt.method == http.MethodGet && r.Method == http.MethodHead)
		if !allowed {
			allow := rt.method
			if rt.method == http.MethodGet {
				allow = "GET, HEAD"
			}
			w.Header().Set("Allow", allow)
			a.fail(w, r, newError(http.StatusMethodNotAllowed, "method_not_allowed", "This address does not accept "+r.Method+" requests."))
			return
		}
		if a.reachError(w, r, rt.path) {
			return
		}
		rt.h(w, r)
	})
	protected := cop.Handler(dispatch)
	return a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setSecurityHeaders(w.Header())
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				a.log(r.Context(), "panic", "", "error", "")
				a.fail(w, r, newError(http.StatusInternalServerError, "internal", "Something went wrong. Try again."))
			}
		}()
		protected.ServeHTTP(w, r)
	}))
}

// handleLogin renders the sign-in page.
func (a *Auth) handleLogin(w http.ResponseWriter, r *http.Request) {
	next := sanitizeNext(r.URL.Query().Get("next"))
	a.render(w, r, http.StatusOK, tmplLogin, pageData{Title: "Sign in", Next: next})
}

// handleMe answers the signed-in user as JSON, or 401.
func (a *Auth) handleMe(w http.ResponseWriter, r *http.Request) {
	st := stateFrom(r.Context())
	if st.unavailable {
		a.fail(w, r, errUnavailable(nil))
		return
	}
	if st.user == nil {
		a.unauthenticated(w)
		return
	}
	writeJSON(w, http.StatusOK, st.user)
}

// handleLogout ends the local session first (deleted from the store, so the old cookie is
// refused at once everywhere; the answer clears the cookie and sends Clear-Site-Data), then
// revokes the Mosaic session in the background, bounded by Config.Timeout: a slow or failing
// Mosaic never delays or fails a logout (a failure is logged).
func (a *Auth) handleLogout(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	st := stateFrom(ctx)
	w.Header().Set("Clear-Site-Data", `"cookies"`)
	if st.unavailable {
		a.fail(w, r, errUnavailable(nil))
		return
	}
	var s *authState
	if b := a.sm.GetBytes(ctx, keyAuth); b != nil {
		s, _ = decodeAuth(b)
	}
	// A browser that gives up (the request's context is cancelled) must not leave the
	// session alive: the delete does not end with the request, only with Timeout.
	dctx, cancel := a.callCtx(context.WithoutCancel(ctx))
	err := a.sm.Destroy(dctx)
	cancel()
	if err != nil {
		a.fail(w, r, errUnavailable(err))
		return
	}
	st.user = nil
	if s != nil && s.mosaicSessionID != "" {
		a.recent.dropMosaicSession(s.mosaicSessionID)
		a.goBackground(ctx, func(ctx context.Context) {
			a.deleteRotated(ctx, s.mosaicSessionID)
			err := a.client.Logout(ctx, s.mosaicSessionID)
			outcome := "ok"
			if err != nil {
				outcome = "mosaic_logout_failed"
			}
			var attrs []any
			if err != nil {
				attrs = []any{"error", errKind(err)}
			}
			a.log(ctx, "logout", s.user.Method, outcome, s.user.Subject, attrs...)
		})
	}
	if wantsJSON(r) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// warnOutsidePrefix logs, once per Auth at Warn, a request that reached Handler at a path
// outside Config.Prefix: the Handler is mounted elsewhere (mux.Handle("/signin/", ...), or
// under http.StripPrefix) and answers 404 to every request. Only the path is logged.
func (a *Auth) warnOutsidePrefix(r *http.Request) {
	p := r.URL.Path
	if p == a.prefix || strings.HasPrefix(p, a.prefix+"/") || !a.outsidePrefixWarned.CompareAndSwap(false, true) {
		return
	}
	a.logger().LogAttrs(r.Context(), slog.LevelWarn, "otlogin: a request reached the auth Handler outside Config.Prefix",
		slog.String("event", "config"), slog.String("path", p), slog.String("prefix", a.prefix),
		slog.String("fix", "mount Handler at Config.Prefix (mux.Handle(\""+a.prefix+"/\", auth.Handler())) without StripPrefix, "+
			"or set Config.Prefix to where it is mounted; every auth route answers 404 until then"))
}
