package transmittest

import (
	"net/http"
	"net/netip"

	"github.com/otlogin/otlogin/internal/devhost"
)

// The outbox ([Emulator.OutboxHandler]) shows every sign-in code and link, so a development
// server that serves it must stay on the machine it runs on. [LoopbackAddr] checks the
// listen address before listening; [LoopbackOnly] guards the handler against the two ways
// in that remain: a client on another machine (when the server listens on more than
// loopback after all) and DNS rebinding (a web page on evil.example whose name later
// resolves to 127.0.0.1 makes the developer's browser send it requests, but those carry
// Host: evil.example). Both use the module's one loopback check (internal/devhost), the one
// cmd/mosaic-emulator uses.

// LoopbackAddr reports whether a listen address (host:port) is on loopback only:
// "localhost" or a loopback IP address (127.0.0.0/8, ::1). An empty host (all interfaces),
// 0.0.0.0, [::], a name that DNS resolves and an address without a port are not.
func LoopbackAddr(addr string) bool { return devhost.LoopbackAddr(addr) }

// LoopbackOnly serves h only to requests from this machine: the client's address
// (Request.RemoteAddr) must be a loopback IP and the Host header a loopback name or address
// ("localhost", a name under ".localhost", 127.0.0.0/8 or ::1, with or without a port). Any
// other request gets 403 with a plain sentence that says why, and h is not called. A request
// with no parsable RemoteAddr (a handler called directly, a Unix socket) is refused too.
//
// Wrap the outbox in it when a development app serves it next to its own routes:
//
//	mux.Handle("GET /dev/outbox", transmittest.LoopbackOnly(emu.OutboxHandler()))
func LoopbackOnly(h http.Handler) http.Handler {
	hostChecked := devhost.LoopbackOnly(h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !loopbackClient(r.RemoteAddr) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("X-Content-Type-Options", "nosniff")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte("This development page answers only clients on this machine, at a loopback address " +
				"(localhost, 127.0.0.1 or [::1]). Open it at http://localhost:<port> on the machine that runs the app.\n"))
			return
		}
		hostChecked.ServeHTTP(w, r)
	})
}

// loopbackClient reports whether remoteAddr (Request.RemoteAddr, "ip:port") is a loopback IP.
func loopbackClient(remoteAddr string) bool {
	ap, err := netip.ParseAddrPort(remoteAddr)
	return err == nil && ap.Addr().Unmap().IsLoopback()
}
