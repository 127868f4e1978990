package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"

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
