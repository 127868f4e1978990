package main

import (
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/otlogin/otlogin/examples/internal/conformance"
)

// TestExample runs the router conformance suite against this example's router, and the
// example as `go run` does without a Mosaic tenant, signing in through the dev outbox.
func TestExample(t *testing.T) {
	gin.SetMode(gin.TestMode)
	conformance.RunExample(t, newRouter)
}
