// Command mosaic-emulator runs the Mosaic emulator (package transmittest) as a standalone
// server, for apps in other processes or languages.
//
//	go run ./cmd/mosaic-emulator [-addr 127.0.0.1:8090] [-public]
//
// It listens on loopback only and answers only requests whose Host is a loopback name or
// address (so a web page cannot reach it through DNS rebinding); -public allows any listen
// address and Host, for a container or a trusted network.
//
// It prints the base URL (…/cis), client id and secret, logs every sent link or code to
// stderr, and serves the outbox at /outbox (HTML) and /outbox.json. Environment: ADDR,
// TRANSMIT_CLIENT_ID, TRANSMIT_CLIENT_SECRET override the defaults.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/otlogin/otlogin/internal/devhost"
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
	public := fs.Bool("public", false, "allow a listen address that is not loopback, and any Host header "+
		"(the outbox shows every code: only on a network you trust)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if !*public && !devhost.LoopbackAddr(*addr) {
		return fmt.Errorf("listen address %q is not loopback: the emulator accepts its well-known client and its outbox "+
			"shows every code, so it listens on 127.0.0.1, localhost or [::1] unless you pass -public", *addr)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	root := "http://" + ln.Addr().String()
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	publicURLs := splitNonEmpty(*publicURL)
	accepted := "any loopback URL"
	if len(publicURLs) > 0 {
		accepted = strings.Join(publicURLs, ", ")
	}
	emu := transmittest.New(transmittest.Options{ClientID: *clientID, ClientSecret: *secret, BaseURL: root, Logger: logger,
		PublicURLs: publicURLs})

	mux := http.NewServeMux()
	mux.Handle("GET /outbox", emu.OutboxHandler())
	mux.Handle("GET /outbox.json", emu.OutboxHandler())
	mux.Handle("/", logRefusals(emu, logger, accepted))
	var h http.Handler = mux
	if !*public {
		h = devhost.LoopbackOnly(mux) // a loopback server answers loopback Host names only (DNS rebinding)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}

	fmt.Fprintf(stdout, "Mosaic emulator\n  base URL:      %s/cis\n  token URL:     %s/oidc/token\n  client id:     %s\n  client secret: %s\n  outbox:        %s/outbox\n  public URLs:   %s (magic links may redirect only there; -public-url)\n",
		root, root, *clientID, *secret, root, accepted)
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

// logRefusals logs, at Warn, the answers that mean the app is misconfigured: refused client
// credentials or access tokens (401 or 400 from the token endpoint, 401 elsewhere) and a
// magic link whose redirect_uri is not accepted (400), with that URI and the accepted public
// URLs. No secret is logged.
func logRefusals(next http.Handler, logger *slog.Logger, accepted string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var redirectURI, clientID string
		isLinkSend := r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/v1/auth/link/email/send")
		isToken := strings.HasSuffix(r.URL.Path, "/oidc/token")
		if isLinkSend || isToken {
			body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			if err == nil && isLinkSend {
				var v struct {
					RedirectURI string `json:"redirect_uri"`
				}
				_ = json.Unmarshal(body, &v)
				redirectURI = v.RedirectURI
			} else if err == nil {
				form, _ := url.ParseQuery(string(body))
				clientID = form.Get("client_id")
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		switch {
		case isToken && (sw.status == http.StatusUnauthorized || sw.status == http.StatusBadRequest):
			logger.Warn("refused client credentials: the app's client id and secret must be the ones in this emulator's banner",
				"status", sw.status, "client_id", clientID)
		case sw.status == http.StatusUnauthorized:
			logger.Warn("refused a client access token (missing, expired or from another emulator run)",
				"status", sw.status, "path", r.URL.Path)
		case isLinkSend && sw.status == http.StatusBadRequest && strings.Contains(string(sw.head), "redirect_uri is not one of"):
			logger.Warn("refused a magic link's redirect_uri: start the emulator with -public-url set to the app's PUBLIC_URL",
				"redirect_uri", redirectURI, "accepted", accepted)
		}
	})
}

// statusWriter records the status and the first bytes of an answer.
type statusWriter struct {
	http.ResponseWriter
	status int
	head   []byte
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if n := 512 - len(w.head); n > 0 {
		w.head = append(w.head, p[:min(n, len(p))]...)
	}
	return w.ResponseWriter.Write(p)
}
