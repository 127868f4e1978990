package store_test

import (
	"testing"

	"github.com/alexedwards/scs/goredisstore"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin"
	"github.com/otlogin/otlogin/transmit"
)

// TestGoredisstoreNeedsSharedLimiter: scs's own goredisstore is shared by every instance but
// brings no limiter, so each process would count rate limits alone; otlogin.New refuses it
// unless the app passes a shared Limiter (this package's) or sets AllowLocalLimits. A Store
// from this package brings its limiter and is accepted as it is.
func TestGoredisstoreNeedsSharedLimiter(t *testing.T) {
	t.Parallel()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled: New makes no network call
	t.Cleanup(func() { _ = rdb.Close() })
	client, err := transmit.New(transmit.Config{BaseURL: "http://127.0.0.1:1/cis", ClientID: "id", ClientSecret: "secret"})
	require.NoError(t, err)
	base := otlogin.Config{Client: client, PublicURL: "https://app.example.com", SessionStore: goredisstore.New(rdb)}

	_, err = otlogin.New(base)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Config.Limiter")

	withLimiter := base
	withLimiter.Limiter = otlogin.NewMemoryLimiter() // stands for a shared one here
	_, err = otlogin.New(withLimiter)
	require.NoError(t, err)

	local := base
	local.AllowLocalLimits = true
	_, err = otlogin.New(local)
	require.NoError(t, err)
}
