package main

import (
	"context"
	"io"
	"testing"

	"github.com/otlogin/otlogin/examples/internal/conformance"
)

// example is this example for the conformance suite. Its environment converts to
// conformance.Env and back, so the compiler holds it to the same fields as the others'.
var example = conformance.Example{
	Env: func(getenv func(string) string) conformance.Env { return conformance.Env(envFrom(getenv)) },
	Run: func(ctx context.Context, env conformance.Env, out io.Writer) error {
		return run(ctx, environment(env), out)
	},
	Router:    newRouter,
	Home:      homePage,
	Dashboard: dashboardPage,
}

// TestExample runs the router conformance suite against this example's router, checks its
// environment and pages, and runs the example as `go run` starts it: start-up text,
// refusals, warnings, the Mosaic check, SESSION_STORE, and sign-in through the dev outbox.
func TestExample(t *testing.T) {
	conformance.RunExample(t, example)
}

// TestServerTimeouts: the server cuts slow headers and bodies and idle connections, lets
// the longest otlogin request finish, and waits longer than that on shutdown.
func TestServerTimeouts(t *testing.T) {
	conformance.CheckServerTimeouts(t, newServer(nil), longestRequest, shutdownTimeout)
}
