// Package exampleapp is what the three example apps (examples/nethttp, examples/gin,
// examples/echo) share, so that they differ only in their router: the environment
// (DESIGN §6), the Mosaic client or the embedded emulator, the session store, the
// [otlogin.Auth], the start-up text, the server and the pages.
package exampleapp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/otlogin/otlogin"
	"github.com/otlogin/otlogin/store"
	"github.com/otlogin/otlogin/transmit"
	"github.com/otlogin/otlogin/transmit/transmittest"
)

// Env is the example apps' configuration.
type Env struct {
	Addr         string // ADDR. Default: "127.0.0.1:8080".
	PublicURL    string // PUBLIC_URL. Default: "http://localhost:" + ADDR's port ("http://localhost:8080").
	ClientID     string // TRANSMIT_CLIENT_ID. Default: "" (run the embedded emulator).
	ClientSecret string // TRANSMIT_CLIENT_SECRET. Required with ClientID.
	BaseURL      string // TRANSMIT_BASE_URL. Default: [transmit.SandboxBaseURL].
	SessionStore string // SESSION_STORE: "memory", "redis://..." or "postgres://...". Default: "memory".
	// EmulatorObserver, when set, is the embedded emulator's Options.Observer (tests attach
	// the OpenAPI contract checker there). Not read from the environment.
	EmulatorObserver func(transmittest.Exchange)
}

// FromEnv reads an [Env] through getenv (os.Getenv) and applies the defaults.
func FromEnv(getenv func(string) string) Env {
	or := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	addr := or("ADDR", "127.0.0.1:8080")
	return Env{
		Addr:         addr,
		PublicURL:    strings.TrimRight(or("PUBLIC_URL", localURL(addr)), "/"),
		ClientID:     or("TRANSMIT_CLIENT_ID", ""),
		ClientSecret: or("TRANSMIT_CLIENT_SECRET", ""),
		BaseURL:      or("TRANSMIT_BASE_URL", transmit.SandboxBaseURL),
		SessionStore: or("SESSION_STORE", "memory"),
	}
}

// localURL is the default PUBLIC_URL: http://localhost on addr's port (8080 when addr has
// none), so ADDR=127.0.0.1:8092 alone gives a working http://localhost:8092.
func localURL(addr string) string {
	port := "8080"
	if _, p, err := net.SplitHostPort(addr); err == nil && p != "" {
		port = p
	}
	return "http://localhost:" + port
}

// App is the configured sign-in service of an example.
type App struct {
	// Auth is the otlogin service, with CreateUsers on.
	Auth *otlogin.Auth
	// Outbox serves the emulator's outbox (HTML, or JSON for a path ending in ".json"); nil
	// when a real Mosaic tenant is configured. Mount it at [OutboxPath] and [OutboxJSONPath].
	Outbox http.Handler

	env   Env
	out   io.Writer
	store *store.Store
	emu   *transmittest.Server
}

// Where the examples serve the emulator's outbox.
const (
	OutboxPath     = "/dev/outbox"
	OutboxJSONPath = "/dev/outbox.json"
)

// New builds the App described by env: the Mosaic client (or, without a client id, the
// embedded emulator), the session store (the Auth's own memory store for "memory") and the
// Auth. It writes the start-up notes and the Auth's log to out. Call [App.Close].
func New(ctx context.Context, env Env, out io.Writer) (*App, error) {
	a := &App{env: env, out: out}
	tc := transmit.Config{BaseURL: env.BaseURL, ClientID: env.ClientID, ClientSecret: env.ClientSecret}
	if env.ClientID == "" {
		if !loopback(env.Addr) {
			return nil, fmt.Errorf("exampleapp: without TRANSMIT_CLIENT_ID the app runs the embedded emulator, whose "+
				"outbox (%s) shows every sign-in code: it listens only on a loopback address, not ADDR=%q", OutboxPath, env.Addr)
		}
		a.emu = transmittest.NewServer(transmittest.Options{PublicURLs: []string{env.PublicURL}, // its redirect allow-list
			Observer: env.EmulatorObserver})
		tc = transmit.Config{BaseURL: a.emu.BaseURL(), ClientID: a.emu.ClientID, ClientSecret: a.emu.ClientSecret}
		a.Outbox = a.emu.OutboxHandler()
		fmt.Fprintln(out, "No TRANSMIT_CLIENT_ID: using the embedded Mosaic emulator (no real email or SMS is sent).")
		fmt.Fprintf(out, "Sign in at %s/ and read the links and codes at %s%s\n", env.PublicURL, env.PublicURL, OutboxPath)
	} else if env.ClientSecret == "" {
		return nil, errors.New("exampleapp: TRANSMIT_CLIENT_SECRET is required with TRANSMIT_CLIENT_ID")
	}
	client, err := transmit.New(tc)
	if err == nil && env.SessionStore != "memory" {
		if a.store, err = store.Open(ctx, env.SessionStore); err == nil {
			fmt.Fprintf(out, "Sessions: %s store\n", a.store.Kind())
		}
	}
	if err == nil {
		cfg := otlogin.Config{Client: client, PublicURL: env.PublicURL, CreateUsers: true,
			Logger: slog.New(slog.NewTextHandler(out, nil))}
		if a.store != nil {
			cfg.SessionStore = a.store
		}
		a.Auth, err = otlogin.New(cfg)
	}
	if err != nil {
		_ = a.Close()
		return nil, fmt.Errorf("exampleapp: %w", err)
	}
	return a, nil
}

// Emulator is the embedded Mosaic emulator, or nil when a real tenant is configured.
func (a *App) Emulator() *transmittest.Emulator {
	if a.emu == nil {
		return nil
	}
	return a.emu.Emulator
}

// loopback reports whether addr (host:port) listens on loopback only: "localhost", 127.0.0.0/8
// or ::1. An empty host (all interfaces) is not.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// Close stops the emulator and closes the session store.
func (a *App) Close() error {
	if a.emu != nil {
		a.emu.Close()
	}
	if a.store != nil {
		return a.store.Close()
	}
	return nil
}
