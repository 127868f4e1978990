package idtoken

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestVerifyAlgorithmsFromDiscovery: the accepted signature algorithms are the asymmetric
// ones the discovery document lists; HS* and none never are, whatever it lists.
func TestVerifyAlgorithmsFromDiscovery(t *testing.T) {
	t.Parallel()
	keys := verifierTestKeys()
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ecJWK := jose.JSONWebKey{Key: &ec.PublicKey, KeyID: "e1", Use: "sig"}
	rsaNoAlg := jose.JSONWebKey{Key: &keys[0].PublicKey, KeyID: "k1", Use: "sig"}
	rsaPS := jose.JSONWebKey{Key: &keys[1].PublicKey, KeyID: "p1", Algorithm: "PS256", Use: "sig"}

	tests := []struct {
		name      string
		published []string // nil: the field is absent
		alg       jose.SignatureAlgorithm
		key       any
		kid       string
		accept    bool
		outage    bool // refused as a configuration/upstream fault, not as a bad token
	}{
		{"absent field: RS256", nil, jose.RS256, keys[0], "k1", true, false},
		{"absent field: PS256 refused", nil, jose.PS256, keys[0], "k1", false, false},
		{"PS256 listed: PS256", []string{"PS256"}, jose.PS256, keys[0], "k1", true, false},
		{"PS256 listed: RS256 refused", []string{"PS256"}, jose.RS256, keys[0], "k1", false, false},
		{"RS256 and PS256 listed: RS256", []string{"RS256", "PS256"}, jose.RS256, keys[0], "k1", true, false},
		{"ES256 listed: ES256", []string{"ES256"}, jose.ES256, ec, "e1", true, false},
		{"ES256 listed: RSA key cannot sign ES256", []string{"ES256", "RS256"}, jose.RS256, keys[0], "e1", false, false},
		{"JWK alg PS256 binds the key: RS256 with it refused", []string{"RS256", "PS256"}, jose.RS256, keys[1], "p1", false, false},
		{"JWK alg PS256 binds the key: PS256 with it", []string{"RS256", "PS256"}, jose.PS256, keys[1], "p1", true, false},
		{"HS256 and RS256 listed: HS256 refused", []string{"HS256", "RS256"}, jose.HS256, []byte("0123456789abcdef0123456789abcdef"), "k1", false, false},
		{"only HS256 listed", []string{"HS256"}, jose.RS256, keys[0], "k1", false, true},
		{"only none listed", []string{"none"}, jose.RS256, keys[0], "k1", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newVerifierTestIdP(t, rsaNoAlg, ecJWK, rsaPS)
			p.set(func(p *verifierTestIdP) { p.algs = tt.published })
			clock := newVerifierTestClock()
			v := newVerifierForTest(t, p, clock, nil)
			raw := verifierTestMint(t, tt.alg, tt.key, tt.kid, verifierTestClaims(clock.Now()), nil)
			c, err := v.Verify(context.Background(), raw)
			if tt.accept {
				require.NoError(t, err)
				assert.Equal(t, "user-1", c.Subject)
				return
			}
			require.Error(t, err)
			assert.Equal(t, tt.outage, errors.Is(err, ErrUnavailable), "%v", err)
		})
	}
}

// TestVerifyAppKeysNoFallback: with Issuer and JWKSURL set (an application's own signing
// keys), a token signed with a key of the tenant's JWKS (the one discovery names) is refused,
// even with the application's issuer.
func TestVerifyAppKeysNoFallback(t *testing.T) {
	t.Parallel()
	keys := verifierTestKeys()
	tenant := newVerifierTestIdP(t, verifierTestJWK(keys[0], "tenant-1"))
	app := newVerifierTestIdP(t, verifierTestJWK(keys[1], "app-1"))
	const appIssuer = "https://acme.app.transmitsecurity.io"
	clock := newVerifierTestClock()
	v := newVerifierForTest(t, tenant, clock, func(c *Config) {
		c.Issuer = appIssuer
		c.JWKSURL = app.srv.URL + "/jwks"
	})
	claims := verifierTestClaims(clock.Now())
	claims["iss"] = appIssuer

	_, err := v.Verify(context.Background(), verifierTestMint(t, jose.RS256, keys[1], "app-1", claims, nil))
	require.NoError(t, err, "the application's key verifies")

	for name, raw := range map[string]string{
		"tenant key, tenant kid": verifierTestMint(t, jose.RS256, keys[0], "tenant-1", claims, nil),
		"tenant key, no kid":     verifierTestMint(t, jose.RS256, keys[0], "", claims, nil),
		"tenant key, app kid":    verifierTestMint(t, jose.RS256, keys[0], "app-1", claims, nil),
	} {
		_, err := v.Verify(context.Background(), raw)
		require.Error(t, err, name)
	}
	tenantClaims := verifierTestClaims(clock.Now())
	_, err = v.Verify(context.Background(), verifierTestMint(t, jose.RS256, keys[1], "app-1", tenantClaims, nil))
	require.Error(t, err, "the tenant's issuer is not the application's")
	assert.Equal(t, int64(0), tenant.jwksFetches.Load(), "the tenant's JWKS is never fetched")
}
