package main

import (
	"encoding/json"
	"io"
	"net/http"

	"github.com/otlogin/otlogin"
	"github.com/otlogin/otlogin/examples/internal/exampleapp"
)

// newRouter wires the routes: /healthz outside the session layer, everything else inside.
func newRouter(auth *otlogin.Auth, outbox http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/auth/", auth.Handler())
	mux.HandleFunc("GET /{$}", home)
	mux.Handle("GET /dashboard", auth.RequireAuth(http.HandlerFunc(dashboard)))
	mux.Handle("GET /api/me", auth.RequireAuth(http.HandlerFunc(apiMe)))
	if outbox != nil {
		mux.Handle("GET "+exampleapp.OutboxPath, outbox)
		mux.Handle("GET "+exampleapp.OutboxJSONPath, outbox)
	}

	root := http.NewServeMux()
	root.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok")
	})
	root.Handle("/", auth.Middleware(mux))
	return root
}

// home is public; it shows who is signed in, if anyone.
func home(w http.ResponseWriter, r *http.Request) {
	u, _ := otlogin.UserFromContext(r.Context())
	w.Header().Set("Content-Type", exampleapp.HTMLType)
	_, _ = w.Write(exampleapp.Home(u))
}

// dashboard is protected: it shows the user's email.
func dashboard(w http.ResponseWriter, r *http.Request) {
	u, _ := otlogin.UserFromContext(r.Context())
	w.Header().Set("Content-Type", exampleapp.HTMLType)
	_, _ = w.Write(exampleapp.Dashboard(u))
}

// apiMe is the protected JSON API.
func apiMe(w http.ResponseWriter, r *http.Request) {
	u, _ := otlogin.UserFromContext(r.Context())
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(exampleapp.Me(u))
}
