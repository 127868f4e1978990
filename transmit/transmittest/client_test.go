package transmittest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin/transmit"
	"github.com/otlogin/otlogin/transmit/transmittest"
)

// TestClientTokenAtHostRoot: the transmit client, configured with the emulator's /cis base URL
// and nothing else, fetches its client token from /oidc/token at the host root, where Mosaic
// serves it; the emulator also answers under /cis, but the client never goes there.
func TestClientTokenAtHostRoot(t *testing.T) {
	t.Parallel()
	emu := transmittest.New(transmittest.Options{})
	var mu sync.Mutex
	paths := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths[r.URL.Path]++
		mu.Unlock()
		emu.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	emu.CreateUser("root@example.com", "")

	c, err := transmit.New(transmit.Config{BaseURL: srv.URL + "/cis", ClientID: emu.ClientID(), ClientSecret: emu.ClientSecret()})
	require.NoError(t, err)
	_, err = c.SendOTP(context.Background(), transmit.SendOTPRequest{Channel: transmit.ChannelEmail,
		IdentifierType: transmit.IdentifierEmail, Identifier: "root@example.com"})
	require.NoError(t, err)

	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 1, paths["/oidc/token"], "client token from the host root")
	assert.Zero(t, paths["/cis/oidc/token"])
	assert.Equal(t, 1, paths["/cis/v1/auth/otp/send"])
}
