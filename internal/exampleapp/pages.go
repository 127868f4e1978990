package exampleapp

import (
	"bytes"
	"html/template"

	"github.com/otlogin/otlogin"
)

// HTMLType is the Content-Type of the pages.
const HTMLType = "text/html; charset=utf-8"

// pagesHTML holds the home and dashboard pages, the same in every example.
const pagesHTML = `
{{define "head"}}<!doctype html>
<html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;line-height:1.5}</style>
<body>{{end}}
{{define "signout"}}<form method="post" action="/auth/logout"><button type="submit">Sign out</button></form>{{end}}
{{define "home"}}{{template "head" .}}
<h1>otlogin example</h1>
{{with .User}}<p>Signed in as {{.Email}}{{.PhoneNumber}}. <a href="/dashboard">Dashboard</a></p>{{template "signout"}}
{{else}}<p>Passwordless sign-in with an email link, an email code or a text message code.</p>
<p><a href="/auth/login?next=%2Fdashboard">Sign in</a></p>{{end}}
</body></html>
{{end}}
{{define "dashboard"}}{{template "head" .}}
<h1>Dashboard</h1>
<dl>
<dt>Email</dt><dd>{{.User.Email}}</dd>
<dt>Phone number</dt><dd>{{.User.PhoneNumber}}</dd>
<dt>Signed in with</dt><dd>{{.User.Method}}</dd>
<dt>Session ends at the latest</dt><dd>{{.User.ExpiresAt.UTC.Format "2006-01-02 15:04 MST"}}</dd>
</dl>
<p><a href="/api/me">/api/me</a> · <a href="/">Home</a></p>
{{template "signout"}}
</body></html>
{{end}}`

// page renders one page. Parsing per call keeps no package state; the text is constant and
// tested, so the error branch is only a guard.
func page(name, title string, u *otlogin.User) []byte {
	var b bytes.Buffer
	t, err := template.New("pages").Parse(pagesHTML)
	if err == nil {
		err = t.ExecuteTemplate(&b, name, struct {
			Title string
			User  *otlogin.User
		}{title, u})
	}
	if err != nil {
		return []byte("<!doctype html><title>Error</title><p>Something went wrong.</p>\n")
	}
	return b.Bytes()
}

// Home is the public home page; u is the signed-in user or nil.
func Home(u *otlogin.User) []byte { return page("home", "otlogin example", u) }

// Dashboard is the protected page showing the signed-in user u.
func Dashboard(u *otlogin.User) []byte { return page("dashboard", "Dashboard", u) }

// MeJSON is the answer of GET /api/me.
type MeJSON struct {
	Subject     string `json:"subject"`
	Email       string `json:"email"`
	PhoneNumber string `json:"phone_number"`
	Method      string `json:"method"`
}

// Me returns the /api/me answer for u.
func Me(u *otlogin.User) MeJSON {
	return MeJSON{Subject: u.Subject, Email: u.Email, PhoneNumber: u.PhoneNumber, Method: u.Method}
}
