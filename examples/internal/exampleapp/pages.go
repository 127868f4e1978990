package exampleapp

import (
	"bytes"
	"html/template"

	"github.com/otlogin/otlogin"
)

// HTMLType is the Content-Type of the pages.
const HTMLType = "text/html; charset=utf-8"

// pagesHTML holds the home and dashboard pages; each example has the same text in its main.go.
const pagesHTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>otlogin example</title></head>
<body><main>
<h1>otlogin example</h1>
{{if .}}<p>Signed in as {{.Email}}{{.PhoneNumber}}. <a href="/dashboard">Dashboard</a></p>
<form method="post" action="/auth/logout"><button type="submit">Sign out</button></form>
{{else}}<p><a href="/auth/login?next=/dashboard">Sign in</a></p>{{end}}
</main></body></html>
{{define "dashboard"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Dashboard</title></head>
<body><main>
<h1>Dashboard</h1>
<p>You are signed in as <strong>{{.Email}}{{if not .Email}}{{.PhoneNumber}}{{end}}</strong> ({{.Method}}).</p>
<form method="post" action="/auth/logout"><button type="submit">Sign out</button></form>
</main></body></html>
{{end}}`

// page renders one page. Parsing per call keeps no package state; the text is constant and
// tested, so the error branch is only a guard.
func page(name string, u *otlogin.User) []byte {
	var b bytes.Buffer
	t, err := template.New("home").Parse(pagesHTML)
	if err == nil {
		err = t.ExecuteTemplate(&b, name, u)
	}
	if err != nil {
		return []byte("<!doctype html><title>Error</title><p>Something went wrong.</p>\n")
	}
	return b.Bytes()
}

// Home is the public home page; u is the signed-in user or nil.
func Home(u *otlogin.User) []byte { return page("home", u) }

// Dashboard is the protected page showing the signed-in user u.
func Dashboard(u *otlogin.User) []byte { return page("dashboard", u) }

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
