package exampleapp

import (
	"fmt"
	"net"
	"net/http"
	"net/url"

	"github.com/otlogin/otlogin/internal/devhost"
	"github.com/otlogin/otlogin/transmit/transmittest"
)

// Where the examples serve the emulator's outbox.
const (
	OutboxPath     = "/dev/outbox"
	OutboxJSONPath = "/dev/outbox.json"
)

// Outbox serves emu's outbox (HTML, or JSON for a path ending in ".json") to requests whose
// Host is a loopback name or address, and 403 to any other: the outbox shows every sign-in
// code, and a web page whose name rebinds to 127.0.0.1 sends its own Host. Mount it at
// [OutboxPath] and [OutboxJSONPath].
func Outbox(emu *transmittest.Server) http.Handler {
	return devhost.LoopbackOnly(emu.OutboxHandler())
}

// CheckEmulatorAddr returns an error that says why unless addr (ADDR) listens on loopback
// only ("localhost", 127.0.0.0/8 or ::1): with the embedded emulator the app serves the
// outbox, which shows every sign-in code, so it must not be reachable from the network.
func CheckEmulatorAddr(addr string) error {
	if devhost.LoopbackAddr(addr) {
		return nil
	}
	return fmt.Errorf("without TRANSMIT_CLIENT_ID the app runs the embedded emulator, whose outbox (%s) shows every "+
		"sign-in code: it listens only on a loopback address, not ADDR=%q", OutboxPath, addr)
}

// PublicURLWarnings names PUBLIC_URL settings that break sign-in on an example, which
// serves plain http on ADDR: an https PUBLIC_URL (the Secure session cookie is never sent
// back over http unless a TLS proxy is in front) and a port other than ADDR's (links and
// redirects go where the app does not listen, unless a proxy forwards them).
func PublicURLWarnings(env Env) []string {
	u, err := url.Parse(env.PublicURL)
	if err != nil {
		return nil // otlogin.New has refused it already
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
