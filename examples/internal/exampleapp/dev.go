// Package exampleapp is the reference copy of what the example apps (examples/nethttp,
// examples/gin, examples/echo) write out for themselves that is not otlogin set-up: the
// demo pages, the /api/me answer and where the emulator's outbox is served. The examples do
// not import it (each main.go is copied alone into other modules, which cannot import an
// internal package); the conformance suite holds each example's own copy to this one, and
// the load test (examples/bench/loadtest) serves the same outbox and /api/me.
package exampleapp

import (
	"net/http"

	"github.com/otlogin/otlogin/transmit/transmittest"
)

// Where the examples serve the emulator's outbox.
const (
	OutboxPath     = "/dev/outbox"
	OutboxJSONPath = "/dev/outbox.json"
)

// Outbox serves emu's outbox (HTML, or JSON for a path ending in ".json") as the examples
// do: only to a loopback client whose Host is a loopback name or address, 403 to any other
// ([transmittest.LoopbackOnly]). Mount it at [OutboxPath] and [OutboxJSONPath].
func Outbox(emu *transmittest.Server) http.Handler {
	return transmittest.LoopbackOnly(emu.OutboxHandler())
}
