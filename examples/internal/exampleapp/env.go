// Package exampleapp holds what the three example apps (examples/nethttp, examples/gin,
// examples/echo) share that is not otlogin set-up: the environment they read, the demo
// pages they render, and two development-only guards of the embedded emulator's outbox (a
// loopback listen address, a loopback Host). Each example writes its otlogin set-up out in
// its own main.go; when you copy one into your app, replace these helpers with your own
// configuration and pages, and drop the outbox (it exists only with the emulator).
package exampleapp

import (
	"net"
	"strings"

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
	// EmulatorObserver, when set, is the embedded emulator's Options.Observer (the examples'
	// tests attach the OpenAPI contract checker there). Not read from the environment.
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
