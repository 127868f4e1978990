package otlogin_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/otlogin/otlogin"
	"github.com/otlogin/otlogin/transmit"
)

// The quick start: mount the routes, protect a page, wrap the mux.
func Example() {
	client, err := transmit.New(transmit.Config{
		BaseURL:      transmit.SandboxBaseURL,
		ClientID:     "my-client-id",
		ClientSecret: "my-client-secret",
	})
	if err != nil {
		log.Fatal(err)
	}
	auth, err := otlogin.New(otlogin.Config{Client: client, PublicURL: "https://app.example.com"})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/auth/", auth.Handler())
	mux.Handle("GET /dashboard", auth.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, _ := otlogin.UserFromContext(r.Context())
		fmt.Fprintf(w, "Hello %s", user.Email)
	})))
	app := auth.Middleware(mux)

	// A browser opening the page is sent to the sign-in page.
	page := httptest.NewRequest(http.MethodGet, "/dashboard", nil)
	page.Header.Set("Sec-Fetch-Mode", "navigate")
	rec := httptest.NewRecorder()
	app.ServeHTTP(rec, page)
	fmt.Println(rec.Code, rec.Header().Get("Location"))
	// fetch("/dashboard") and curl get a status a program can act on.
	rec = httptest.NewRecorder()
	app.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/dashboard", nil))
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"))
	// Output:
	// 303 /auth/login?next=%2Fdashboard
	// 401 application/json; charset=utf-8
}

// Hooks: refuse some users, log attempts, create unknown users.
func ExampleConfig() {
	client, _ := transmit.New(transmit.Config{BaseURL: transmit.SandboxBaseURL, ClientID: "id", ClientSecret: "secret"})
	_, err := otlogin.New(otlogin.Config{
		Client:      client,
		PublicURL:   "https://app.example.com",
		CreateUsers: true,
		Logger:      slog.New(slog.NewTextHandler(os.Stderr, nil)),
		OnLogin: func(ctx context.Context, u *otlogin.User) error {
			if u.Email == "blocked@example.com" {
				return errors.New("blocked")
			}
			return nil
		},
	})
	fmt.Println(err)
	// Output: <nil>
}

// Handlers can be tested with a user in the context.
func ExampleWithUser() {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := otlogin.UserFromContext(r.Context())
		fmt.Fprint(w, u.Email)
	})
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req = req.WithContext(otlogin.WithUser(req.Context(), &otlogin.User{Email: "ada@example.com"}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Println(rec.Body.String())
	// Output: ada@example.com
}

// AccessToken returns a valid Mosaic access token for calling other APIs.
func ExampleAuth_AccessToken() {
	var auth *otlogin.Auth // from otlogin.New
	_ = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, err := auth.AccessToken(r.Context())
		if err != nil {
			http.Error(w, "sign in again", http.StatusUnauthorized)
			return
		}
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, "https://api.example.com/", nil)
		req.Header.Set("Authorization", "Bearer "+token)
	})
}
