package main

import (
	"testing"

	"github.com/otlogin/otlogin/examples/internal/conformance"
)

// TestExample runs the router conformance suite against this example's router, and the
// example as `go run` starts it: start-up text, refusals, warnings, the Mosaic check,
// SESSION_STORE, and sign-in through the dev outbox.
func TestExample(t *testing.T) {
	conformance.RunExample(t, run, newRouter)
}

// TestServerTimeouts: the server cuts slow headers and bodies and idle connections, lets
// the longest otlogin request finish, and waits longer than that on shutdown.
func TestServerTimeouts(t *testing.T) {
	conformance.CheckServerTimeouts(t, newServer(nil), longestRequest, shutdownTimeout)
}
