// Package devhost keeps development servers (the example apps' outbox, the standalone
// Mosaic emulator) to the machine they run on: they listen on loopback, and they answer only
// requests whose Host names a loopback address. The second check stops DNS rebinding: a web
// page on evil.example whose name later resolves to 127.0.0.1 can make the browser send
// requests to the local server, but those carry Host: evil.example.
package devhost

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// LoopbackHost reports whether host (a Host header value, with or without a port) names
// this machine: "localhost" or a name under ".localhost" (RFC 6761: never resolved through
// DNS), or a loopback IP address (127.0.0.0/8, ::1).
func LoopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	return err == nil && ip.Unmap().IsLoopback()
}

// LoopbackAddr reports whether a listen address (host:port) is loopback only: "localhost",
// 127.0.0.0/8 or ::1. An empty host (all interfaces) is not.
func LoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return false
	}
	return LoopbackHost(host)
}

// LoopbackOnly serves h only for requests whose Host is a loopback name or address (see
// [LoopbackHost]); others get 403 with a sentence that says why.
func LoopbackOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !LoopbackHost(r.Host) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("X-Content-Type-Options", "nosniff")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte("This development page answers only at a loopback address (localhost, 127.0.0.1 or [::1]), " +
				"so that another web site cannot read it through DNS rebinding. Open it at http://localhost:<port>.\n"))
			return
		}
		h.ServeHTTP(w, r)
	})
}
