package main

import (
	"context"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/otlogin/otlogin"
	"github.com/otlogin/otlogin/store"
	"github.com/otlogin/otlogin/transmit"
	"github.com/otlogin/otlogin/transmit/transmittest"
)

// Defaults of the environment variables (DESIGN section 6).
const (
	defaultAddr      = "127.0.0.1:8080"
	defaultPublicURL = "http://localhost:8080"
)

// newApp builds the example application from the environment: the auth routes under /auth,
// a public home page, a protected page and API, and /healthz outside the session layer.
// Without TRANSMIT_CLIENT_ID it starts the embedded Mosaic emulator and serves its outbox
// at /dev/outbox. The returned function releases what newApp started.
func newApp(ctx context.Context, env func(string) string, out io.Writer) (http.Handler, func(), error) {
	var closers []func()
	cleanup := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	publicURL := env("PUBLIC_URL")
	if publicURL == "" {
		publicURL = defaultPublicURL
	}

	cfg := transmit.Config{
		BaseURL:      env("TRANSMIT_BASE_URL"),
		ClientID:     env("TRANSMIT_CLIENT_ID"),
		ClientSecret: env("TRANSMIT_CLIENT_SECRET"),
	}
	var emulator *transmittest.Server
	if cfg.ClientID == "" {
		emulator = transmittest.NewServer(transmittest.Options{})
		closers = append(closers, emulator.Close)
		cfg = transmit.Config{BaseURL: emulator.BaseURL(), ClientID: emulator.ClientID, ClientSecret: emulator.ClientSecret}
		fmt.Fprintln(out, "No TRANSMIT_CLIENT_ID: using the embedded Mosaic emulator (no real email or SMS is sent).")
		fmt.Fprintf(out, "Sign in at %s/ and read the links and codes at %s/dev/outbox\n", publicURL, strings.TrimRight(publicURL, "/"))
	} else if cfg.BaseURL == "" {
		cfg.BaseURL = transmit.SandboxBaseURL
	}
	client, err := transmit.New(cfg)
	if err != nil {
		cleanup()
		return nil, nil, err
	}

	var sessionStore *store.Store
	if s := env("SESSION_STORE"); s != "" && s != "memory" {
		if sessionStore, err = store.Open(ctx, s); err != nil {
			cleanup()
			return nil, nil, err
		}
		closers = append(closers, func() { _ = sessionStore.Close() })
		fmt.Fprintf(out, "Sessions: %s store\n", sessionStore.Kind())
	}
	ocfg := otlogin.Config{
		Client:      client,
		PublicURL:   publicURL,
		CreateUsers: true,
		Logger:      slog.New(slog.NewTextHandler(out, nil)),
	}
	if sessionStore != nil {
		ocfg.SessionStore = sessionStore
	}
	auth, err := otlogin.New(ocfg)
	if err != nil {
		cleanup()
		return nil, nil, err
	}

	mux := http.NewServeMux()
	mux.Handle("/auth/", auth.Handler())
	mux.HandleFunc("GET /{$}", home)
	mux.Handle("GET /dashboard", auth.RequireAuth(http.HandlerFunc(dashboard)))
	mux.Handle("GET /api/me", auth.RequireAuth(http.HandlerFunc(apiMe)))
	if emulator != nil {
		mux.Handle("GET /dev/outbox", emulator.OutboxHandler())
		mux.Handle("GET /dev/outbox.json", emulator.OutboxHandler())
	}

	root := http.NewServeMux()
	root.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok")
	})
	root.Handle("/", auth.Middleware(mux))
	return root, cleanup, nil
}

var pages = template.Must(template.New("home").Parse(`<!doctype html>
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
{{end}}`))

// home is public; it shows who is signed in, if anyone.
func home(w http.ResponseWriter, r *http.Request) {
	u, _ := otlogin.UserFromContext(r.Context())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = pages.ExecuteTemplate(w, "home", u)
}

// dashboard is protected: it shows the user's email.
func dashboard(w http.ResponseWriter, r *http.Request) {
	u, _ := otlogin.UserFromContext(r.Context())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = pages.ExecuteTemplate(w, "dashboard", u)
}

// apiMe is the protected JSON API.
func apiMe(w http.ResponseWriter, r *http.Request) {
	u, _ := otlogin.UserFromContext(r.Context())
	w.Header().Set("Content-Type", "application/json")
	_ = jsonEncode(w, map[string]string{"subject": u.Subject, "email": u.Email, "phone_number": u.PhoneNumber, "method": u.Method})
}

// lookupEnv is os.Getenv; a variable so tests can pass their own.
func lookupEnv(k string) string { return os.Getenv(k) }
