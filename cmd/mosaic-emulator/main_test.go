package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin/internal/apptest/safe"
	"github.com/otlogin/otlogin/transmit/transmittest"
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

// TestLogsRefusals: a misconfigured app is told by the emulator's log, not only by its own:
// refused client credentials (401) and a refused magic-link redirect_uri (400, with the URI
// and the accepted public URLs), which the start-up banner lists too.
func TestLogsRefusals(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb safe.Buffer
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-public-url", "http://localhost:18301"}, &out, &errb, ready)
	}()
	addr := <-ready
	base := "http://" + addr

	token := func(secret string) (int, string) {
		res, err := http.PostForm(base+"/oidc/token", url.Values{"grant_type": {"client_credentials"},
			"client_id": {transmittest.DefaultClientID}, "client_secret": {secret}})
		require.NoError(t, err)
		defer res.Body.Close()
		var v struct {
			AccessToken string `json:"access_token"`
		}
		_ = json.NewDecoder(res.Body).Decode(&v)
		return res.StatusCode, v.AccessToken
	}
	status, _ := token("wrong-secret-91")
	assert.Equal(t, http.StatusUnauthorized, status)
	status, tok := token(transmittest.DefaultClientSecret)
	require.Equal(t, http.StatusOK, status)

	req, err := http.NewRequest(http.MethodPost, base+"/cis/v1/auth/link/email/send",
		strings.NewReader(`{"email":"ops@example.com","redirect_uri":"http://127.0.0.1:18302/auth/link/email/callback"}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = res.Body.Close()
	assert.Equal(t, http.StatusBadRequest, res.StatusCode)

	cancel()
	require.NoError(t, <-done)
	assert.Contains(t, out.String(), "http://localhost:18301", "the banner lists the accepted public URLs")
	logs := errb.String()
	assert.Contains(t, logs, "refused client credentials")
	assert.Contains(t, logs, "client_id="+transmittest.DefaultClientID)
	assert.NotContains(t, logs, "wrong-secret-91")
	assert.Contains(t, logs, "redirect_uri=http://127.0.0.1:18302/auth/link/email/callback")
	assert.Contains(t, logs, "http://localhost:18301")
	assert.NotContains(t, logs, "ops@example.com")
}
