// Command mosaic-emulator runs the Mosaic emulator (package transmittest) as a standalone
// server, for apps in other processes or languages.
//
//	go run ./cmd/mosaic-emulator [-addr 127.0.0.1:8090]
//
// It prints the base URL (…/cis), client id and secret, logs every sent link or code to
// stderr, and serves the outbox at /outbox (HTML) and /outbox.json. Environment: ADDR,
// TRANSMIT_CLIENT_ID, TRANSMIT_CLIENT_SECRET override the defaults.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/otlogin/otlogin/transmit/transmittest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "mosaic-emulator:", err)
		os.Exit(1)
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// run serves until ctx ends. ready, when not nil, receives the listening address.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, ready chan<- string) error {
	fs := flag.NewFlagSet("mosaic-emulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", envOr("ADDR", "127.0.0.1:8090"), "listen address")
	clientID := fs.String("client-id", envOr("TRANSMIT_CLIENT_ID", transmittest.DefaultClientID), "client id to accept")
	secret := fs.String("client-secret", envOr("TRANSMIT_CLIENT_SECRET", transmittest.DefaultClientSecret), "client secret to accept")
	publicURL := fs.String("public-url", envOr("PUBLIC_URL", ""), "the app's public URL: magic links may redirect only under it (default: any loopback URL)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	root := "http://" + ln.Addr().String()
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	emu := transmittest.New(transmittest.Options{ClientID: *clientID, ClientSecret: *secret, BaseURL: root, Logger: logger,
		PublicURLs: splitNonEmpty(*publicURL)})

	mux := http.NewServeMux()
	mux.Handle("GET /outbox", emu.OutboxHandler())
	mux.Handle("GET /outbox.json", emu.OutboxHandler())
	mux.Handle("/", emu)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}

	fmt.Fprintf(stdout, "Mosaic emulator\n  base URL:      %s/cis\n  token URL:     %s/oidc/token\n  client id:     %s\n  client secret: %s\n  outbox:        %s/outbox\n",
		root, root, *clientID, *secret, root)
	if ready != nil {
		ready <- ln.Addr().String()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// splitNonEmpty splits a comma-separated list, dropping empty items.
func splitNonEmpty(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
