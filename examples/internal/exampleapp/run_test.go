package exampleapp

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestServerTimeouts: the example server cuts slow headers and bodies and idle
// connections, lets the longest otlogin request finish (its body within BodyTimeout 10s,
// up to 8 store calls of StoreTimeout 2s, its Mosaic budget Timeout 10s) and gives
// requests in flight longer than that on shutdown.
func TestServerTimeouts(t *testing.T) {
	srv := newServer(http.NotFoundHandler())
	assert.Positive(t, srv.ReadHeaderTimeout)
	assert.Positive(t, srv.IdleTimeout)
	assert.GreaterOrEqual(t, srv.ReadTimeout, srv.ReadHeaderTimeout+10*time.Second, "ReadTimeout leaves otlogin's BodyTimeout room")
	longest := 10*time.Second + 8*2*time.Second + 10*time.Second
	assert.GreaterOrEqual(t, longestRequest, longest)
	assert.Greater(t, srv.WriteTimeout, longestRequest, "WriteTimeout lets the longest request answer")
	assert.Greater(t, shutdownBudget, longestRequest, "shutdown waits for the longest request")
}
