// Command nethttp is the otlogin example for net/http. Everything otlogin needs is written
// out in this file, in the order an app does it, so you can copy it into yours: the Mosaic
// client (or the embedded emulator), the session store, the Config, Check at start-up, the
// routes with RequireAuth, and a server with timeouts and a graceful shutdown.
// examples/gin and examples/echo are the same program on those routers.
//
//	go run ./examples/nethttp     # then open http://localhost:8080 and sign in
//
// Environment: ADDR (default 127.0.0.1:8080), PUBLIC_URL (default http://localhost on ADDR's
// port), TRANSMIT_CLIENT_ID, TRANSMIT_CLIENT_SECRET, TRANSMIT_BASE_URL (default the sandbox),
// SESSION_STORE (memory, redis://..., postgres://...). Without TRANSMIT_CLIENT_ID it runs
// against the embedded Mosaic emulator and shows the links and codes it "sends" at
// /dev/outbox (as JSON at /dev/outbox.json); ADDR must then be a loopback address.
//
// The exampleapp package is the example's own, not otlogin: it reads the environment,
// renders the demo pages, and guards the emulator's outbox. Replace it with your
// configuration and pages when you copy this file.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/otlogin/otlogin"
	"github.com/otlogin/otlogin/examples/internal/exampleapp"
	"github.com/otlogin/otlogin/store"
	"github.com/otlogin/otlogin/transmit"
	"github.com/otlogin/otlogin/transmit/transmittest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, exampleapp.FromEnv(os.Getenv), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "example:", err)
		os.Exit(1)
	}
}

// run sets otlogin up as env says, serves the app on env.Addr until ctx ends, then shuts
// down gracefully. It writes the start-up notes and otlogin's log to out.
func run(ctx context.Context, env exampleapp.Env, out io.Writer) error {
	// 1. The Mosaic client: your tenant's app credentials or, without them, the embedded
	// emulator, which sends no email or SMS and shows what it would send in its outbox.
	tc := transmit.Config{BaseURL: env.BaseURL, ClientID: env.ClientID, ClientSecret: env.ClientSecret}
	var outbox http.Handler
	if env.ClientID == "" {
		if err := exampleapp.CheckEmulatorAddr(env.Addr); err != nil {
			return err
		}
		emu := transmittest.NewServer(transmittest.Options{
			PublicURLs: []string{env.PublicURL}, // where its magic links may point
			Observer:   env.EmulatorObserver,    // nil, except in this example's tests
		})
		defer emu.Close()
		tc = transmit.Config{BaseURL: emu.BaseURL(), ClientID: emu.ClientID, ClientSecret: emu.ClientSecret}
		outbox = exampleapp.Outbox(emu)
		fmt.Fprintln(out, "No TRANSMIT_CLIENT_ID: using the embedded Mosaic emulator (no real email or SMS is sent).")
	} else if env.ClientSecret == "" {
		return errors.New("TRANSMIT_CLIENT_SECRET is required with TRANSMIT_CLIENT_ID")
	}
	client, err := transmit.New(tc)
	if err != nil {
		return err
	}

	// 2. The Config. Sessions live in otlogin's memory store unless SESSION_STORE names a
	// Redis or PostgreSQL store, which several instances of the app can share.
	logger := slog.New(slog.NewTextHandler(out, nil))
	cfg := otlogin.Config{
		Client:      client,
		PublicURL:   env.PublicURL, // builds the magic-link redirect_uri; never the Host header
		CreateUsers: true,          // create users Mosaic does not know yet
		Logger:      logger,
	}
	if env.SessionStore != "memory" {
		st, err := store.Open(ctx, env.SessionStore)
		if err != nil {
			return err
		}
		defer st.Close()
		cfg.SessionStore = st
		fmt.Fprintf(out, "Sessions: %s store\n", st.Kind())
	}
	auth, err := otlogin.New(cfg) // validates the Config; makes no network call
	if err != nil {
		return err
	}
	if outbox != nil {
		fmt.Fprintf(out, "Sign in at %s/ and read the links and codes at %s%s\n", env.PublicURL, env.PublicURL, exampleapp.OutboxPath)
	}
	for _, w := range exampleapp.PublicURLWarnings(env) {
		fmt.Fprintln(out, "WARNING: "+w)
	}

	// 3. Check at start-up: one client-token, discovery and JWKS call names a wrong secret,
	// base URL or issuer now instead of as "temporarily unavailable" at the first sign-in. A
	// production app should stop here (see README, net/http); this example prints the
	// problem, logs it at Error for log-based alerts, and serves anyway.
	if err := auth.Check(ctx); err != nil {
		fmt.Fprintf(out, "WARNING: Mosaic check failed: %v\n", err)
		logger.Error("otlogin: Mosaic check failed", "event", "config", "error", err.Error())
	}

	// 4. Serve until ctx ends (SIGINT, SIGTERM), then let the requests in flight finish and
	// the Mosaic revocations otlogin runs in the background after a logout.
	ln, err := net.Listen("tcp", env.Addr)
	if err != nil {
		return err
	}
	srv := newServer(newRouter(auth, outbox))
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	fmt.Fprintf(out, "Listening on %s\n", env.Addr)
	fmt.Fprintf(out, "Open %s/ in your browser (PUBLIC_URL; another host name, such as 127.0.0.1 for localhost, has its own cookies)\n",
		env.PublicURL)
	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	return auth.Shutdown(shutdownCtx)
}

// newRouter wires the routes: /healthz outside the session layer, everything else inside
// auth.Middleware; /dashboard and /api/me behind RequireAuth (a browser is sent to the
// sign-in page, fetch and curl get 401 JSON). outbox, when not nil, is the emulator's.
func newRouter(auth *otlogin.Auth, outbox http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/auth/", auth.Handler()) // the sign-in routes and pages
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
	root.Handle("/", auth.Middleware(mux)) // loads and saves the session, puts the user in the context
	return root
}

// home is public; it shows who is signed in, if anyone.
func home(w http.ResponseWriter, r *http.Request) {
	u, _ := otlogin.UserFromContext(r.Context()) // nil when nobody is signed in
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

// Server timeouts, sized from otlogin's defaults (README, "Deadlines"): the longest request
// otlogin serves, a send or an authenticate, reads its body within Config.BodyTimeout (10s),
// makes a handful of store calls of Config.StoreTimeout (2s each, at most 8) and spends at
// most Config.Timeout (10s) on Mosaic: about 36s.
const (
	readHeaderTimeout = 5 * time.Second                    // cuts clients that send their headers slowly
	readTimeout       = readHeaderTimeout + 10*time.Second // the headers, then the body within BodyTimeout
	longestRequest    = 40 * time.Second                   // every otlogin request, with its default timeouts
	writeTimeout      = longestRequest + readHeaderTimeout // runs from the end of the headers: let the longest request answer
	idleTimeout       = 60 * time.Second                   // closes idle keep-alive connections
	shutdownTimeout   = longestRequest + 10*time.Second    // lets the requests in flight finish on SIGTERM
)

// newServer returns the app's server for h, with every timeout set.
func newServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
	}
}
