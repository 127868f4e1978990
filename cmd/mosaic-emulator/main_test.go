package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRunServesAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb bytes.Buffer
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-addr", "127.0.0.1:0"}, &out, &errb, ready) }()
	addr := <-ready

	res, err := http.Get("http://" + addr + "/cis/oidc/.well-known/openid-configuration")
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Contains(t, string(body), `"jwks_uri":"http://`+addr+`/cis/oidc/jwks"`)

	res, err = http.Get("http://" + addr + "/outbox")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode)

	cancel()
	require.NoError(t, <-done)
	assert.Contains(t, out.String(), "http://"+addr+"/cis")
	assert.Contains(t, out.String(), "client secret:")
}

// TestListensOnLoopbackUnlessTold: the emulator accepts any code for its well-known client
// and its outbox shows every code, so it refuses an address that is not loopback unless
// -public is given, and while on loopback it answers only loopback Host names (DNS
// rebinding).
func TestListensOnLoopbackUnlessTold(t *testing.T) {
	for _, addr := range []string{":0", "0.0.0.0:0", "[::]:0"} {
		t.Run("refuses "+addr, func(t *testing.T) {
			var out, errb bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second) // bounds a run that wrongly serves
			defer cancel()
			err := run(ctx, []string{"-addr", addr}, &out, &errb, nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "-public")
		})
	}
	t.Run("public when told", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		ready := make(chan string, 1)
		done := make(chan error, 1)
		var out, errb bytes.Buffer
		go func() { done <- run(ctx, []string{"-addr", "0.0.0.0:0", "-public"}, &out, &errb, ready) }()
		select {
		case <-ready:
		case err := <-done:
			require.NoError(t, err)
		}
		cancel()
		require.NoError(t, <-done)
	})
	t.Run("loopback Host only", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		ready := make(chan string, 1)
		done := make(chan error, 1)
		var out, errb bytes.Buffer
		go func() { done <- run(ctx, []string{"-addr", "127.0.0.1:0"}, &out, &errb, ready) }()
		addr := <-ready
		for host, want := range map[string]int{"evil.example": http.StatusForbidden, addr: http.StatusOK} {
			req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/outbox.json", nil)
			require.NoError(t, err)
			req.Host = host
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			_ = res.Body.Close()
			assert.Equal(t, want, res.StatusCode, host)
		}
		cancel()
		require.NoError(t, <-done)
	})
}
