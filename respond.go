package otlogin

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"time"
)

//go:embed templates/*.html
var templateFS embed.FS

// Template names. A replacement set given in Config.Templates must define all of them.
const (
	tmplLogin        = "login.html"
	tmplSent         = "sent.html"
	tmplCode         = "code.html"
	tmplWrongBrowser = "wrong_browser.html"
	tmplConfirm      = "confirm.html"
	tmplError        = "error.html"
)

// TemplateNames lists the templates [Auth] renders. Each receives a [PageData].
func TemplateNames() []string {
	return []string{tmplLogin, tmplSent, tmplCode, tmplWrongBrowser, tmplConfirm, tmplError}
}

// PageData is what every page template receives.
type PageData struct {
	Title      string // page title
	Prefix     string // where the auth routes are mounted, e.g. "/auth"
	Next       string // sanitised target after sign-in
	Email      string // the address a link or code went to (sent, wrong_browser; confirm: the address it signs in)
	Identifier string // the identifier a code went to (code)
	Channel    string // "email" or "sms" (code)
	Code       string // magic-link code (confirm)
	State      string // magic-link state (confirm)
	Error      string // a message for the user
	Link       string // an absolute URL to continue at (error page), or ""
	LinkText   string // the text of Link
	Status     int    // HTTP status of the answer
}

// pageData is PageData; the short name keeps handler code readable.
type pageData = PageData

// loadTemplates returns t after checking it defines every page, or the embedded set.
func loadTemplates(t *template.Template) (*template.Template, error) {
	if t == nil {
		var err error
		if t, err = template.ParseFS(templateFS, "templates/*.html"); err != nil {
			return nil, fmt.Errorf("otlogin: embedded templates: %w", err)
		}
	}
	for _, name := range TemplateNames() {
		if t.Lookup(name) == nil {
			return nil, fmt.Errorf("otlogin: Config.Templates does not define %q", name)
		}
	}
	return t, nil
}

// render executes a page into a buffer first, so a failing template never leaves half a page.
func (a *Auth) render(w http.ResponseWriter, r *http.Request, status int, name string, d pageData) {
	d.Prefix = a.prefix
	if d.Status == 0 {
		d.Status = status
	}
	var buf bytes.Buffer
	if err := a.tmpl.ExecuteTemplate(&buf, name, d); err != nil {
		a.log(r.Context(), "render", "", "error", "", "template", name)
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString("<!doctype html><title>Error</title><p>Something went wrong. Try again.</p>\n")
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// contentSecurityPolicy allows nothing but inline styles, same-origin images and forms that
// post to this origin; pages cannot be framed.
const contentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// setSecurityHeaders sets the headers every auth answer carries.
func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
}

// writeJSON writes v as a JSON answer with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":"internal","message":"Something went wrong."}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// fail answers e in the format the request asked for, through Config.ErrorHandler if set.
func (a *Auth) fail(w http.ResponseWriter, r *http.Request, e *Error) {
	a.logMisconfiguration(r.Context(), e.Err)
	setRetryAfter(w, e)
	if a.cfg.ErrorHandler != nil {
		a.cfg.ErrorHandler(w, r, e)
		return
	}
	if wantsJSON(r) {
		writeJSON(w, e.Status, map[string]string{"error": e.Code, "message": e.Message})
		return
	}
	a.render(w, r, e.Status, tmplError, pageData{Title: "Sign-in problem", Error: e.Message, Status: e.Status})
}

// setRetryAfter sets Retry-After from e.RetryAfter, rounded up to whole seconds.
func setRetryAfter(w http.ResponseWriter, e *Error) {
	if e.RetryAfter > 0 {
		secs := int64((e.RetryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	}
}

// failForm answers a refused send. An HTML form gets the sign-in page again with the
// message (and the status); everything else goes to fail.
func (a *Auth) failForm(w http.ResponseWriter, r *http.Request, e *Error, next string) {
	if e.Status/100 == 4 && !wantsJSON(r) && a.cfg.ErrorHandler == nil {
		setRetryAfter(w, e)
		a.render(w, r, e.Status, tmplLogin, pageData{Title: "Sign in", Next: sanitizeNext(next), Error: e.Message})
		return
	}
	a.fail(w, r, e)
}

// failCode answers a refused passcode. An HTML form gets the code page again, with the
// message, while its flow lasts; everything else goes to fail.
func (a *Auth) failCode(w http.ResponseWriter, r *http.Request, e *Error) {
	if e.Status == http.StatusBadRequest && !wantsJSON(r) && a.cfg.ErrorHandler == nil && !stateFrom(r.Context()).unavailable {
		if f := a.loadFlow(r.Context()); f != nil && f.Kind == flowOTP && !f.expired(a.cfg.Now()) {
			a.render(w, r, e.Status, tmplCode, pageData{Title: "Enter the code", Identifier: f.Identifier,
				Channel: f.Channel, Next: f.Next, Error: e.Message})
			return
		}
	}
	a.fail(w, r, e)
}
