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

// Router wires an example's routes (DESIGN §6) around auth, with outbox (when not nil) at
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
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintf(a.out, "Listening on %s\n", a.env.Addr)
	select {
	case err := <-errc:
		return fmt.Errorf("exampleapp: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("exampleapp: shutdown: %w", err)
	}
	return nil
}
