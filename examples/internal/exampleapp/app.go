// Package exampleapp is what the three example apps (examples/nethttp, examples/gin,
// examples/echo) share, so that they differ only in their router: the environment
// (README, Quick start), the Mosaic client or the embedded emulator, the session store, the
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
	"net/url"
	"strings"

	"github.com/alexedwards/scs/v2"

	"github.com/otlogin/otlogin"
	"github.com/otlogin/otlogin/internal/devhost"
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
	// Outbox serves the emulator's outbox (HTML, or JSON for a path ending in ".json") to
	// requests whose Host is a loopback name or address (403 otherwise: DNS rebinding); nil
	// when a real Mosaic tenant is configured. Mount it at [OutboxPath] and [OutboxJSONPath].
	Outbox http.Handler

	env   Env
	out   io.Writer
	store *store.Store
	sess  scs.Store
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
		a.Outbox = devhost.LoopbackOnly(a.emu.OutboxHandler()) // no DNS rebinding to the codes
		fmt.Fprintln(out, "No TRANSMIT_CLIENT_ID: using the embedded Mosaic emulator (no real email or SMS is sent).")
	} else if env.ClientSecret == "" {
		return nil, errors.New("exampleapp: TRANSMIT_CLIENT_SECRET is required with TRANSMIT_CLIENT_ID")
	}
	client, err := transmit.New(tc)
	if err == nil && env.SessionStore != "memory" {
		if a.store, err = store.Open(ctx, env.SessionStore); err == nil {
			fmt.Fprintf(out, "Sessions: %s store\n", a.store.Kind())
		}
	}
	logger := slog.New(slog.NewTextHandler(out, nil))
	if err == nil {
		cfg := otlogin.Config{Client: client, PublicURL: env.PublicURL, CreateUsers: true, Logger: logger}
		if a.store != nil {
			cfg.SessionStore = a.store
		} else {
			cfg.SessionStore = otlogin.NewMemoryStore() // what New would build
		}
		a.sess = cfg.SessionStore
		a.Auth, err = otlogin.New(cfg)
	}
	if err == nil {
		// Printed only now that PUBLIC_URL is known to be usable.
		if a.emu != nil {
			fmt.Fprintf(out, "Sign in at %s/ and read the links and codes at %s%s\n", env.PublicURL, env.PublicURL, OutboxPath)
		}
		for _, w := range publicURLWarnings(env) {
			fmt.Fprintln(out, "WARNING: "+w)
		}
		// One client-token, discovery and JWKS call: a wrong secret or base URL is named here,
		// at start-up, instead of as "temporarily unavailable" at the first sign-in. The app
		// still starts (Mosaic may only be down for a moment).
		if cerr := a.Auth.Check(ctx); cerr != nil {
			fmt.Fprintf(out, "WARNING: Mosaic check failed: %v\n", cerr)
			// And in the log, at Error, where log-based alerts look.
			logger.LogAttrs(ctx, slog.LevelError, "otlogin: Mosaic check failed", slog.String("event", "config"),
				slog.String("error", cerr.Error()))
		}
	}
	if err != nil {
		_ = a.Close()
		return nil, fmt.Errorf("exampleapp: %w", err)
	}
	return a, nil
}

// publicURLWarnings names PUBLIC_URL settings that break sign-in on this app, which
// serves plain http on ADDR: an https PUBLIC_URL (the Secure session cookie is never sent
// back over http unless a TLS proxy is in front) and a port other than ADDR's (links and
// redirects go where this app does not listen, unless a proxy forwards them).
func publicURLWarnings(env Env) []string {
	u, err := url.Parse(env.PublicURL)
	if err != nil {
		return nil // New has refused it already
	}
	var ws []string
	if u.Scheme == "https" {
		ws = append(ws, fmt.Sprintf("PUBLIC_URL %s is https but this app serves plain http on %s: "+
			"put a TLS-terminating proxy in front of it, or use http://localhost:<port> (the Secure session cookie is not sent over http)",
			env.PublicURL, env.Addr))
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	_, addrPort, err := net.SplitHostPort(env.Addr)
	if err != nil {
		addrPort = "8080"
	}
	if port != addrPort {
		ws = append(ws, fmt.Sprintf("PUBLIC_URL %s is on port %s but the app listens on port %s (ADDR=%s): "+
			"sign-in links and redirects go to PUBLIC_URL, so fix one of them unless a proxy forwards that port here",
			env.PublicURL, port, addrPort, env.Addr))
	}
	return ws
}

// SessionStore is the store the Auth keeps its sessions in: an [otlogin.MemoryStore] for
// "memory", otherwise the store SESSION_STORE names. Measurements read it directly.
func (a *App) SessionStore() scs.Store { return a.sess }

// Emulator is the embedded Mosaic emulator, or nil when a real tenant is configured.
func (a *App) Emulator() *transmittest.Emulator {
	if a.emu == nil {
		return nil
	}
	return a.emu.Emulator
}

// loopback reports whether addr (host:port) listens on loopback only: "localhost", 127.0.0.0/8
// or ::1. An empty host (all interfaces) is not.
func loopback(addr string) bool { return devhost.LoopbackAddr(addr) }

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
