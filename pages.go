package otlogin

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/http"
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
