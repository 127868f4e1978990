package otlogin

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin/internal/exchangelog"
	"github.com/otlogin/otlogin/transmit"
	"github.com/otlogin/otlogin/transmit/transmittest"
)

// closedURL returns an http URL on which nothing listens.
func closedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	u := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())
	return u
}

// TestCheck runs Auth.Check against the emulator, correctly configured and misconfigured in
// each way a first deployment meets, and asserts the error names the step, the cause and the
// fix, and never the secret.
func TestCheck(t *testing.T) {
	t.Parallel()
	const wrongSecret = "wrong-secret-5b1d0e"
	type setup struct {
		opts   transmittest.Options
		client func(emu *transmittest.Server) transmit.Config
		mod    func(emu *transmittest.Server, cfg *Config)
		before func(emu *transmittest.Server)
	}
	good := func(emu *transmittest.Server) transmit.Config {
		return transmit.Config{BaseURL: emu.BaseURL(), ClientID: emu.ClientID, ClientSecret: emu.ClientSecret}
	}
	tests := []struct {
		name  string
		setup setup
		step  string   // "" for success
		want  []string // substrings of the error
		is    error    // errors.Is target, if any
	}{
		{"happy path", setup{client: good}, "", nil, nil},
		{"happy path, PS256 app with its own keys", setup{
			opts:   transmittest.Options{SigningAlgorithm: "PS256", AppIssuer: "https://acme.app.transmitsecurity.io"},
			client: good,
			mod: func(emu *transmittest.Server, cfg *Config) {
				cfg.Issuer, cfg.JWKSURL = "https://acme.app.transmitsecurity.io", emu.AppJWKSURL()
			},
		}, "", nil, nil},
		{"wrong client secret", setup{client: func(emu *transmittest.Server) transmit.Config {
			c := good(emu)
			c.ClientSecret = wrongSecret
			return c
		}}, "client token", []string{"Mosaic refused the client credentials (401", "TRANSMIT_CLIENT_SECRET"}, transmit.ErrUnauthorized},
		{"wrong client id", setup{client: func(emu *transmittest.Server) transmit.Config {
			c := good(emu)
			c.ClientID = "someone-else"
			return c
		}}, "client token", []string{"Mosaic refused the client credentials", "TRANSMIT_CLIENT_ID"}, transmit.ErrUnauthorized},
		{"wrong base path", setup{client: func(emu *transmittest.Server) transmit.Config {
			return transmit.Config{BaseURL: emu.URL + "/api/cis", TokenURL: emu.TokenURL(), ClientID: emu.ClientID, ClientSecret: emu.ClientSecret}
		}}, "discovery", []string{"discovery document was not found at " + "http", "/api/cis/oidc/.well-known/openid-configuration", "(404", "ending in /cis"}, nil},
		{"Mosaic unreachable", setup{client: func(emu *transmittest.Server) transmit.Config {
			return transmit.Config{BaseURL: closedURL(t) + "/cis", ClientID: emu.ClientID, ClientSecret: emu.ClientSecret}
		}}, "client token", []string{"token endpoint could not be reached", "check the host"}, transmit.ErrUnavailable},
		{"JWKS down", setup{client: good, before: func(emu *transmittest.Server) {
			emu.Force(transmittest.EndpointJWKS, transmittest.Fault{Status: http.StatusServiceUnavailable, Body: `{"message":"down","error_code":503}`})
		}}, "signing keys", []string{"signing keys could not be fetched from http", "/cis/oidc/jwks", "status 503", "jwks_uri"}, nil},
		{"JWKSURL unreachable", setup{client: good, mod: func(_ *transmittest.Server, cfg *Config) {
			cfg.Issuer, cfg.JWKSURL = "https://acme.app.transmitsecurity.io", closedURL(t)+"/oidc/jwks"
		}}, "signing keys", []string{"signing keys could not be fetched", "Config.JWKSURL"}, nil},
		{"pinned Issuer is not discovery's", setup{client: good, mod: func(_ *transmittest.Server, cfg *Config) {
			cfg.Issuer = "https://eu.userid.security"
		}}, "discovery", []string{`Config.Issuer "https://eu.userid.security"`, `"https://userid.security"`, "Config.Issuer"}, nil},
		{"discovery lists only HS256", setup{client: good, before: func(emu *transmittest.Server) {
			emu.Force(transmittest.EndpointDiscovery, transmittest.Fault{Status: http.StatusOK,
				Body: `{"issuer":"https://userid.security","jwks_uri":"` + emu.BaseURL() + `/oidc/jwks","id_token_signing_alg_values_supported":["HS256"]}`})
		}}, "discovery", []string{"lists no ID-token signing algorithm otlogin accepts", "HS256", "PS256"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			emu := transmittest.NewTestServer(t, exchangelog.Record(tt.setup.opts))
			client, err := transmit.New(tt.setup.client(emu))
			require.NoError(t, err)
			cfg := Config{Client: client, PublicURL: "http://127.0.0.1:8080"}
			if tt.setup.mod != nil {
				tt.setup.mod(emu, &cfg)
			}
			a, err := New(cfg)
			require.NoError(t, err)
			if tt.setup.before != nil {
				tt.setup.before(emu)
			}
			err = a.Check(context.Background())
			if tt.step == "" {
				require.NoError(t, err)
				assert.Equal(t, 1, emu.Calls(transmittest.EndpointToken), "one token request")
				assert.Equal(t, 1, emu.Calls(transmittest.EndpointDiscovery), "one discovery request")
				if tt.setup.opts.AppIssuer == "" {
					assert.Equal(t, 1, emu.Calls(transmittest.EndpointJWKS), "one JWKS request")
				} else {
					assert.Equal(t, 0, emu.Calls(transmittest.EndpointJWKS), "the tenant's JWKS is not used")
				}
				return
			}
			require.Error(t, err)
			var ce *CheckError
			require.True(t, errors.As(err, &ce), "%T %v", err, err)
			assert.Equal(t, tt.step, ce.Step, err.Error())
			assert.NotEmpty(t, ce.Fix)
			msg := err.Error()
			assert.True(t, strings.HasPrefix(msg, "otlogin: "), msg)
			for _, w := range tt.want {
				assert.Contains(t, msg, w)
			}
			if tt.is != nil {
				assert.ErrorIs(t, err, tt.is)
			}
			assert.NotContains(t, msg, wrongSecret)
			assert.NotContains(t, msg, emu.ClientSecret)
			t.Log(msg)
		})
	}
}

// TestCheckCachesKeys: after Check, a sign-in needs no JWKS request.
func TestCheckCachesKeys(t *testing.T) {
	t.Parallel()
	h, err := newModeHarness(t, transmittest.Options{}, nil)
	require.NoError(t, err)
	require.NoError(t, h.auth.Check(context.Background()))
	ok, _, body := modeSignIn(t, h)
	require.True(t, ok, body)
	assert.Equal(t, 1, h.emu.Calls(transmittest.EndpointJWKS))
	assert.Equal(t, 1, h.emu.Calls(transmittest.EndpointDiscovery))
}
