package otlogin

import (
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
)

// isNavigation reports whether r is a browser navigation (the user opening a page), the
// only kind of request [Auth.RequireAuth] redirects to the sign-in page. Browsers say so
// with Fetch Metadata: Sec-Fetch-Mode: navigate or Sec-Fetch-Dest: document. Without those
// headers (older browsers, plain-http origins) an Accept header that names text/html with a
// non-zero q means a page. fetch() (Accept: */*, Sec-Fetch-Mode: cors), curl and other
// programs are not navigations: they get a status they can act on.
func isNavigation(r *http.Request) bool {
	mode, dest := r.Header.Get("Sec-Fetch-Mode"), r.Header.Get("Sec-Fetch-Dest")
	if mode != "" || dest != "" {
		return strings.EqualFold(mode, "navigate") || strings.EqualFold(dest, "document")
	}
	for _, line := range r.Header.Values("Accept") {
		for _, part := range strings.Split(line, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil || mt != "text/html" {
				continue
			}
			if q, ok := params["q"]; ok {
				if v, err := strconv.ParseFloat(q, 64); err != nil || v <= 0 {
					continue
				}
			}
			return true
		}
	}
	return false
}

// underPrefix reports whether r is for the auth routes (Prefix or below), which
// RequireAuth lets through so that an app wrapping everything in it can still sign in. Both
// the cleaned path and the path as sent must be under Prefix: "/auth/../admin" and
// "/auth%2Fadmin" (one segment for a router that routes by the escaped path) are not.
func (a *Auth) underPrefix(r *http.Request) bool {
	under := func(p string) bool { return p == a.prefix || strings.HasPrefix(p, a.prefix+"/") }
	p := r.URL.Path
	return under(p) && under(path.Clean(p)) && under(r.URL.EscapedPath())
}

// unauthenticated answers a request that is not signed in and not a navigation: 401 JSON,
// with a WWW-Authenticate challenge (RFC 9110 requires one on a 401) in the form of the
// cookie authentication draft, naming the sign-in page and the session cookie.
func (a *Auth) unauthenticated(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", a.challenge)
	writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthenticated", "message": "Sign in to continue."})
}

// challengeFor is the WWW-Authenticate value of an Auth whose PublicURL has host host.
func challengeFor(host, prefix, cookie string) string {
	q := func(s string) string { return strconv.Quote(s) }
	return "Cookie realm=" + q(host) + ", form-action=" + q(prefix+"/login") + ", cookie-name=" + q(cookie)
}
