package main

import (
	"net/http"
	"testing"

	"github.com/otlogin/otlogin"
	"github.com/otlogin/otlogin/internal/conformance"
)

// TestConformance runs the router conformance suite against this example's router.
func TestConformance(t *testing.T) {
	conformance.Run(t, func(_ *testing.T, auth *otlogin.Auth) http.Handler { return newRouter(auth, nil) })
}

// TestEmulated runs this example as `go run` does without a Mosaic tenant and signs in
// through the dev outbox.
func TestEmulated(t *testing.T) {
	conformance.RunEmulated(t, newRouter)
}
