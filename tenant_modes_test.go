package otlogin

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin/internal/apptest/safe"
	"github.com/otlogin/otlogin/internal/exchangelog"
	"github.com/otlogin/otlogin/transmit"
	"github.com/otlogin/otlogin/transmit/transmittest"
)

// newModeHarness is newHarness with emulator options; mod may read the emulator.
func newModeHarness(t *testing.T, opts transmittest.Options, mod func(emu *transmittest.Server, cfg *Config)) (*harness, error) {
	t.Helper()
	h := &harness{t: t, store: newCountingStore(), clock: safe.NewClock(), logs: &safe.Buffer{},
		slowStarted: make(chan struct{}, 1), slowRelease: make(chan struct{})}
	h.emu = transmittest.NewTestServer(t, exchangelog.Record(opts))
	client, err := transmit.New(transmit.Config{BaseURL: h.emu.BaseURL(), ClientID: h.emu.ClientID, ClientSecret: h.emu.ClientSecret})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	cfg := Config{
		Client:       client,
		PublicURL:    "http://" + ln.Addr().String(),
		SessionStore: h.store,
		Logger:       slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:          h.clock.Now,
		// The counting store wraps an in-process one: one instance, local limits are right.
		AllowLocalLimits: true,
	}
	if mod != nil {
		mod(h.emu, &cfg)
	}
	h.auth, err = New(cfg)
	if err != nil {
		_ = ln.Close()
		return nil, err
	}
	h.srv = httptest.NewUnstartedServer(h.app())
	require.NoError(t, h.srv.Listener.Close())
	h.srv.Listener = ln
	h.srv.Start()
	t.Cleanup(h.srv.Close)
	return h, nil
}

// modeSignIn signs a new browser in with an email passcode (JSON) and reports whether
// /api/me then answers 200 with the user.
func modeSignIn(t *testing.T, h *harness) (ok bool, status int, body string) {
	t.Helper()
	const email = "mode@example.com"
	h.emu.CreateUser(email, "")
	c := h.newClient()
	r := h.postJSON(c, "/auth/otp/send", map[string]string{"channel": "email", "identifier": email})
	require.Equal(t, http.StatusAccepted, r.StatusCode, r.body)
	r = h.postJSON(c, "/auth/otp/authenticate", map[string]string{"passcode": h.lastCode(email), "channel": "email", "identifier": email})
	if r.StatusCode != http.StatusOK {
		me := h.get(c, "/api/me", "Accept", "application/json")
		assert.Equal(t, http.StatusUnauthorized, me.StatusCode, "a refused sign-in leaves the browser signed out")
		return false, r.StatusCode, r.body
	}
	me := h.get(c, "/api/me", "Accept", "application/json")
	require.Equal(t, http.StatusOK, me.StatusCode, me.body)
	var u map[string]any
	require.NoError(t, json.Unmarshal([]byte(me.body), &u))
	assert.Equal(t, email, u["email"])
	return true, r.StatusCode, r.body
}

// TestTenantModesEndToEnd signs in through otlogin against the emulator in each real-tenant
// mode: PS256 and ES256 signatures (from discovery), application-specific signing keys (own
// issuer and JWKS, no fallback to the tenant's), the tid check, and encrypted ID tokens.
func TestTenantModesEndToEnd(t *testing.T) {
	t.Parallel()
	encKey := testRSAKeys()[0]
	ecEncKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	const appIssuer = "https://acme.app.transmitsecurity.io"

	tests := []struct {
		name   string
		opts   transmittest.Options
		mod    func(emu *transmittest.Server, cfg *Config)
		signIn bool
	}{
		{"RS256 (default)", transmittest.Options{}, nil, true},
		{"PS256 tenant", transmittest.Options{SigningAlgorithm: "PS256"}, nil, true},
		{"ES256 tenant", transmittest.Options{SigningAlgorithm: "ES256"}, nil, true},
		{"app keys, configured", transmittest.Options{AppIssuer: appIssuer}, func(emu *transmittest.Server, cfg *Config) {
			cfg.Issuer, cfg.JWKSURL = appIssuer, emu.AppJWKSURL()
		}, true},
		{"app keys, PS256, configured", transmittest.Options{AppIssuer: appIssuer, SigningAlgorithm: "PS256"}, func(emu *transmittest.Server, cfg *Config) {
			cfg.Issuer, cfg.JWKSURL = appIssuer, emu.AppJWKSURL()
		}, true},
		{"app keys, not configured (tenant keys never verify them)", transmittest.Options{AppIssuer: appIssuer}, nil, false},
		{"app keys, issuer only (tenant keys never verify them)", transmittest.Options{AppIssuer: appIssuer}, func(_ *transmittest.Server, cfg *Config) {
			cfg.Issuer = appIssuer
		}, false},
		{"tid matches", transmittest.Options{TenantID: "tenant-a"}, func(emu *transmittest.Server, cfg *Config) {
			cfg.TenantID = emu.TenantID()
		}, true},
		{"tid of another tenant", transmittest.Options{TenantID: "tenant-a"}, func(_ *transmittest.Server, cfg *Config) {
			cfg.TenantID = "tenant-b"
		}, false},
		{"JWE RSA-OAEP-256, key configured", transmittest.Options{IDTokenEncryptionKey: &encKey.PublicKey}, func(_ *transmittest.Server, cfg *Config) {
			cfg.IDTokenDecryptionKey = encKey
		}, true},
		{"JWE ECDH-ES, PS256 inside, key configured", transmittest.Options{IDTokenEncryptionKey: &ecEncKey.PublicKey, SigningAlgorithm: "PS256"}, func(_ *transmittest.Server, cfg *Config) {
			cfg.IDTokenDecryptionKey = ecEncKey
		}, true},
		{"JWE, no key configured", transmittest.Options{IDTokenEncryptionKey: &encKey.PublicKey}, nil, false},
		{"JWE, wrong key configured", transmittest.Options{IDTokenEncryptionKey: &encKey.PublicKey}, func(_ *transmittest.Server, cfg *Config) {
			cfg.IDTokenDecryptionKey = testRSAKeys()[1]
		}, false},
		{"key configured, Mosaic does not encrypt", transmittest.Options{}, func(_ *transmittest.Server, cfg *Config) {
			cfg.IDTokenDecryptionKey = encKey
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, err := newModeHarness(t, tt.opts, tt.mod)
			require.NoError(t, err)
			ok, status, body := modeSignIn(t, h)
			require.Equal(t, tt.signIn, ok, "status %d: %s", status, body)
			if !ok {
				assert.GreaterOrEqual(t, status, 400, body)
				assert.Less(t, status, 600, body)
			}
		})
	}
}

// TestTokenConfigRefused: New names what is wrong with the token-verification settings.
func TestTokenConfigRefused(t *testing.T) {
	t.Parallel()
	ec224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	require.NoError(t, err)
	tests := []struct {
		name string
		mod  func(cfg *Config)
		want string
	}{
		{"JWKSURL without Issuer", func(c *Config) { c.JWKSURL = "https://acme.app.transmitsecurity.io/oidc/jwks" }, "Config.JWKSURL needs Config.Issuer"},
		{"JWKSURL not absolute", func(c *Config) { c.Issuer, c.JWKSURL = "https://acme.app.transmitsecurity.io", "/oidc/jwks" }, "Config.JWKSURL must be an absolute"},
		{"Issuer not https", func(c *Config) { c.Issuer = "userid.security" }, "Config.Issuer must be an https URL"},
		{"decryption key of a wrong type", func(c *Config) { c.IDTokenDecryptionKey = "secret" }, "Config.IDTokenDecryptionKey must be"},
		{"decryption key public only", func(c *Config) { c.IDTokenDecryptionKey = &testRSAKeys()[0].PublicKey }, "Config.IDTokenDecryptionKey must be"},
		{"decryption key on P-224", func(c *Config) { c.IDTokenDecryptionKey = ec224 }, "P-256, P-384 or P-521"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newModeHarness(t, transmittest.Options{}, func(_ *transmittest.Server, cfg *Config) { tt.mod(cfg) })
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.True(t, strings.HasPrefix(err.Error(), "otlogin: "), err.Error())
		})
	}
}

// testRSAKeys are two RSA keys generated once per test binary: RSA key generation is slow.
var testRSAKeys = sync.OnceValue(func() []*rsa.PrivateKey {
	keys := make([]*rsa.PrivateKey, 2)
	for i := range keys {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		keys[i] = k
	}
	return keys
})
