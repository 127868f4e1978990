package exampleapp

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/otlogin/otlogin"
)

// Router wires an example's routes around auth, with outbox (when not nil) at
// [OutboxPath] and [OutboxJSONPath]. It is all that differs between the examples.
type Router func(auth *otlogin.Auth, outbox http.Handler) http.Handler

// Main is an example's main function: it runs [Run] with the process environment and
// standard output until SIGINT or SIGTERM, and exits with status 1 after an error.
func Main(router Router) {
	if err := runMain(router); err != nil {
		fmt.Fprintln(os.Stderr, "example:", err)
		os.Exit(1)
	}
}

func runMain(router Router) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, FromEnv(os.Getenv), os.Stdout, router)
}

// Run builds the [App] described by env (writing its notes and log to out), serves
// router's handler on env.Addr until ctx ends, and closes the App.
func Run(ctx context.Context, env Env, out io.Writer, router Router) (err error) {
	app, err := New(ctx, env, out)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := app.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("exampleapp: close: %w", cerr)
		}
	}()
	return app.Serve(ctx, router(app.Auth, app.Outbox))
}

// Serve serves h on Env.Addr until ctx ends, then shuts down gracefully.
func (a *App) Serve(ctx context.Context, h http.Handler) error {
	ln, err := net.Listen("tcp", a.env.Addr)
	if err != nil {
		return fmt.Errorf("exampleapp: %w", err)
	}
	srv := newServer(h)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintf(a.out, "Listening on %s\n", a.env.Addr)
	fmt.Fprintf(a.out, "Open %s/ in your browser (PUBLIC_URL; another host name, such as 127.0.0.1 for localhost, has its own cookies)\n",
		a.env.PublicURL)
	select {
	case err := <-errc:
		return fmt.Errorf("exampleapp: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownBudget)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("exampleapp: shutdown: %w", err)
	}
	// Then the Mosaic revocations otlogin runs in the background after a logout.
	if err := a.Auth.Shutdown(sctx); err != nil {
		return fmt.Errorf("exampleapp: shutdown: %w", err)
	}
	return nil
}

// Server timeouts, derived from otlogin's defaults (Config.BodyTimeout 10s,
// Config.StoreTimeout 2s per store call, Config.Timeout 10s for all the Mosaic calls of a
// request). The longest request is a send or an authenticate: its body (≤10s), a handful
// of store calls (session load, probe, limits, flow save: ≤8×2s) and its Mosaic budget
// (≤10s), so at most about 36s. See README, "Deadlines".
const (
	// readHeaderTimeout cuts clients that send their headers slowly.
	readHeaderTimeout = 5 * time.Second
	// readTimeout bounds reading a whole request, headers and body, on every route (the
	// app's own too): the headers' time plus otlogin's BodyTimeout.
	readTimeout = readHeaderTimeout + 10*time.Second
	// longestRequest bounds every request otlogin serves with its default timeouts.
	longestRequest = 40 * time.Second
	// writeTimeout runs from the end of the headers to the end of the answer, so it must
	// exceed the longest request, or a slow sign-in would lose its answer.
	writeTimeout = longestRequest + readHeaderTimeout
	// idleTimeout closes keep-alive connections that stay idle.
	idleTimeout = 60 * time.Second
	// shutdownBudget lets the requests in flight finish on SIGTERM: longer than the
	// longest request.
	shutdownBudget = longestRequest + 10*time.Second
)

// newServer returns the example's server for h, with every timeout set.
func newServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
	}
}
