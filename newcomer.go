package otlogin

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/otlogin/otlogin/internal/devhost"
)

// Answers for the set-up mistakes a developer meets in the first hour: the page names the
// cause and the address to use instead of a generic "no sign-in waiting" or "open the link
// in the other browser".

// publicHost is PublicURL's host[:port] and whether PublicURL is https.
func (a *Auth) publicHost() (host string, https bool) {
	scheme, host, _ := strings.Cut(a.origin, "://")
	return host, scheme == "https"
}

// otherLoopbackHost reports whether r reached the app through a loopback name that is not
// PublicURL's (127.0.0.1 against http://localhost:8080, or the reverse; ports do not count). Browsers keep
// one cookie jar per host name, so a sign-in started on one cannot finish on the other: the
// magic link always opens at PublicURL. Only loopback names count: behind a proxy the Host
// header may legitimately differ from PublicURL.
func (a *Auth) otherLoopbackHost(r *http.Request) bool {
	public, _ := a.publicHost()
	h, p := hostOnly(r.Host), hostOnly(public)
	return h != "" && h != p && devhost.Loopback(p) && devhost.Loopback(h) // cookies ignore ports: compare names

}

// hostOnly strips the port and IPv6 brackets of a host[:port].
func hostOnly(hostport string) string {
	h := hostport
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.HasSuffix(h, "]") {
		h = h[:i]
	}
	return strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"))
}

// reachError refuses a POST to an auth route that cannot work because of how the browser
// reached the app, before anything is sent: the page is on plain http while PublicURL is
// https (the Secure session cookie is never sent back), or a magic link is asked for from
// another loopback name than PublicURL's (the link opens where this browser's flow is not).
// It reports whether it answered; clients that send no Origin header are never refused.
func (a *Auth) reachError(w http.ResponseWriter, r *http.Request, path string) bool {
	if r.Method != http.MethodPost {
		return false
	}
	public, https := a.publicHost()
	if origin := r.Header.Get("Origin"); https && strings.HasPrefix(strings.ToLower(origin), "http://") {
		a.log(r.Context(), "reach", "", "insecure_origin", "")
		a.failWithLink(w, r, newError(http.StatusBadRequest, "insecure_origin",
			"This page was opened over plain http ("+origin+"), but this site is set up for https ("+a.origin+"). "+
				"Its session cookie is Secure, so the browser does not send it over plain http and sign-in cannot finish. "+
				"Open the https address instead, or serve the app over https (PUBLIC_URL must be the address people open)."),
			"Open this site over https", a.origin+a.prefix+"/login")
		return true
	}
	if path == "/link/email/send" && a.otherLoopbackHost(r) {
		a.log(r.Context(), "reach", MethodMagicLink, "other_host", "")
		a.failWithLink(w, r, newError(http.StatusBadRequest, "other_host",
			"This page is open at "+r.Host+", but sign-in links open at "+a.origin+" (PUBLIC_URL). "+
				"Your browser keeps separate cookies for "+hostOnly(r.Host)+" and "+hostOnly(public)+
				", so the link could not find this sign-in. Open "+a.origin+" and sign in there."),
			"Open this site at "+public, a.origin+a.prefix+"/login")
		return true
	}
	return false
}

// linkAtPublicHost answers a magic-link callback that found no flow and came through
// another loopback name than PublicURL's: the flow is most likely in PublicURL's cookie jar,
// so the page offers the same link there. It reports whether it answered.
func (a *Auth) linkAtPublicHost(w http.ResponseWriter, r *http.Request, code, state string) bool {
	if !a.otherLoopbackHost(r) {
		return false
	}
	public, _ := a.publicHost()
	a.log(r.Context(), "callback", MethodMagicLink, "other_host", "")
	link := a.callbackURL + "?" + url.Values{"code": {code}, "state": {state}}.Encode()
	a.failWithLink(w, r, newError(http.StatusBadRequest, "other_host",
		"Open this link at "+public+": this site's address is "+a.origin+" (PUBLIC_URL), and your browser keeps separate "+
			"cookies for "+hostOnly(r.Host)+" and "+hostOnly(public)+", so the sign-in you started is waiting there."),
		"Open this link at "+public, link)
	return true
}

// failWithLink answers e like fail, with a link to follow on the error page.
func (a *Auth) failWithLink(w http.ResponseWriter, r *http.Request, e *Error, title, link string) {
	if a.cfg.ErrorHandler != nil || wantsJSON(r) {
		a.fail(w, r, e)
		return
	}
	a.render(w, r, e.Status, tmplError, pageData{Title: title, Error: e.Message, Status: e.Status, Link: link, LinkText: title})
}
