package conformance_test

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/otlogin/otlogin"
	"github.com/otlogin/otlogin/internal/conformance"
	"github.com/otlogin/otlogin/internal/exampleapp"
)

// netHTTPApp is the net/http app of DESIGN §6, wired like examples/nethttp.
func netHTTPApp(auth *otlogin.Auth, outbox http.Handler) http.Handler {
	app := http.NewServeMux()
	if outbox != nil {
		app.Handle("GET "+exampleapp.OutboxPath, outbox)
		app.Handle("GET "+exampleapp.OutboxJSONPath, outbox)
	}
	app.Handle("/auth/", auth.Handler())
	app.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		u, _ := otlogin.UserFromContext(r.Context())
		w.Header().Set("Content-Type", exampleapp.HTMLType)
		_, _ = w.Write(exampleapp.Home(u))
	})
	app.Handle("GET /dashboard", auth.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := otlogin.UserFromContext(r.Context())
		w.Header().Set("Content-Type", exampleapp.HTMLType)
		_, _ = w.Write(exampleapp.Dashboard(u))
	})))
	app.Handle("GET /api/me", auth.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := otlogin.UserFromContext(r.Context())
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_ = json.NewEncoder(w).Encode(exampleapp.Me(u))
	})))
	root := http.NewServeMux()
	root.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok")
	})
	root.Handle("/", auth.Middleware(app))
	return root
}

func TestNetHTTP(t *testing.T) {
	t.Parallel()
	conformance.Run(t, func(_ *testing.T, auth *otlogin.Auth) http.Handler { return netHTTPApp(auth, nil) })
}

func TestNetHTTPEmulated(t *testing.T) {
	t.Parallel()
	conformance.RunEmulated(t, netHTTPApp)
}
