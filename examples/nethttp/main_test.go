package main

import (
	"testing"

	"github.com/otlogin/otlogin/examples/internal/conformance"
)

// TestExample runs the router conformance suite against this example's router, and the
// example as `go run` does without a Mosaic tenant, signing in through the dev outbox.
func TestExample(t *testing.T) { conformance.RunExample(t, newRouter) }
