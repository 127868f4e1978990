// Package devhost is the module's one loopback check ([Loopback], [LoopbackForDial]), and
// keeps development servers (the example apps' outbox, the standalone Mosaic emulator) to
// the machine they run on: they listen on loopback, and they answer only requests whose
// Host names a loopback address. The second check stops DNS rebinding: a web page on
// evil.example whose name later resolves to 127.0.0.1 can make the browser send requests to
// the local server, but those carry Host: evil.example.
package devhost

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Loopback reports whether host (a host name or IP literal without a port; brackets
// optional around an IP literal) names this machine for a browser: "localhost" or a name
// under ".localhost" (RFC 6761: browsers answer these themselves, never through DNS), in
// any case and with or without a trailing dot, or an IP address in 127.0.0.0/8 or ::1
// (IPv4-mapped ::ffff:127.x.x.x too; no zone). Nothing else is: not
// "localhost.evil.example", not "127.0.0.1.nip.io", not 0.0.0.0, not a short form such as
// "127.1".
func Loopback(host string) bool { return loopback(host, true) }

// LoopbackForDial is [Loopback] for a host this program itself connects to or listens on:
// the names under ".localhost" are not loopback here, as Go's resolver (like other
// programs') may look them up in DNS, which can answer any address.
func LoopbackForDial(host string) bool { return loopback(host, false) }

// loopback is Loopback, and LoopbackForDial when subdomains is false.
func loopback(host string, subdomains bool) bool {
	bracketed := len(host) > 1 && host[0] == '[' && host[len(host)-1] == ']'
	if bracketed {
		host = host[1 : len(host)-1]
	}
	ip, err := netip.ParseAddr(host)
	if err == nil {
		return ip.Zone() == "" && ip.Unmap().IsLoopback()
	}
	if bracketed {
		return false // brackets hold an IP address, never a name
	}
	name := strings.ToLower(strings.TrimSuffix(host, "."))
	return name == "localhost" || subdomains && strings.HasSuffix(name, ".localhost") && !strings.HasPrefix(name, ".")
}

// LoopbackHost reports whether host (a Host header value, with or without a port) names
// this machine (see [Loopback]).
func LoopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return Loopback(host)
}

// LoopbackAddr reports whether a listen address (host:port) is loopback only: "localhost",
// 127.0.0.0/8 or ::1 (see [LoopbackForDial]). An empty host (all interfaces) is not.
func LoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return false
	}
	return LoopbackForDial(host)
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
