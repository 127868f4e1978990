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
