package transmit

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind (token fetches run in a
// singleflight goroutine and must finish within Timeout).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
