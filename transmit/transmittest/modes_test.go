package transmittest_test

import (
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin/internal/emutest"
	"github.com/otlogin/otlogin/transmit/transmittest"
)

// modeIDToken signs a user in with an email passcode and returns the raw ID token.
func modeIDToken(t *testing.T, s *transmittest.Server) string {
	t.Helper()
	s.CreateUser("modes@example.com", "")
	tok := emutest.ClientToken(t, s)
	r := emutest.SendOTP(t, s, tok, "email", "email", "modes@example.com")
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	code, ok := s.LastCode("modes@example.com")
	require.True(t, ok)
	r = authOTP(t, s, tok, "email", "modes@example.com", code)
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	id, _ := r.JSON["id_token"].(string)
	require.NotEmpty(t, id)
	return id
}

func modeJWKS(t *testing.T, u string) jose.JSONWebKeySet {
	t.Helper()
	var set jose.JSONWebKeySet
	r := emutest.Get(t, u)
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	require.NoError(t, jsonUnmarshal(r.Raw, &set))
	return set
}

func modeClaims(t *testing.T, raw string, alg jose.SignatureAlgorithm, set jose.JSONWebKeySet) map[string]any {
	t.Helper()
	parsed, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{alg})
	require.NoError(t, err)
	keys := set.Key(parsed.Headers[0].KeyID)
	require.Len(t, keys, 1, "the token's kid is in the JWKS")
	var claims map[string]any
	require.NoError(t, parsed.Claims(keys[0].Key, &claims))
	return claims
}

func TestSigningAlgorithmModes(t *testing.T) {
	t.Parallel()
	for _, alg := range []jose.SignatureAlgorithm{jose.RS256, jose.PS256, jose.ES256} {
		t.Run(string(alg), func(t *testing.T) {
			t.Parallel()
			opts := transmittest.Options{}
			if alg != jose.RS256 {
				opts.SigningAlgorithm = string(alg)
			}
			s := transmittest.NewTestServer(t, opts)
			disco := emutest.Get(t, s.BaseURL()+"/oidc/.well-known/openid-configuration")
			assert.Equal(t, []any{string(alg)}, disco.JSON["id_token_signing_alg_values_supported"])
			set := modeJWKS(t, s.BaseURL()+"/oidc/jwks")
			require.Len(t, set.Keys, 1)
			assert.Equal(t, string(alg), set.Keys[0].Algorithm)
			claims := modeClaims(t, modeIDToken(t, s), alg, set)
			assert.Equal(t, s.Issuer(), claims["iss"])
			assert.Equal(t, s.TenantID(), claims["tid"])
		})
	}
}

func TestAppIssuerMode(t *testing.T) {
	t.Parallel()
	const app = "https://acme.app.transmitsecurity.io"
	s := transmittest.NewTestServer(t, transmittest.Options{AppIssuer: app})
	require.NotEmpty(t, s.AppJWKSURL())
	raw := modeIDToken(t, s)

	appSet := modeJWKS(t, s.AppJWKSURL())
	claims := modeClaims(t, raw, jose.RS256, appSet)
	assert.Equal(t, app, claims["iss"])

	tenantSet := modeJWKS(t, s.BaseURL()+"/oidc/jwks")
	parsed, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	require.NoError(t, err)
	assert.Empty(t, tenantSet.Key(parsed.Headers[0].KeyID), "the app's key is not in the tenant's JWKS")
	for _, k := range tenantSet.Keys {
		assert.Error(t, parsed.Claims(k.Key, &map[string]any{}), "no tenant key verifies the app's token")
	}
	disco := emutest.Get(t, s.BaseURL()+"/oidc/.well-known/openid-configuration")
	assert.Equal(t, s.Issuer(), disco.JSON["issuer"], "discovery stays the tenant's")
}

func TestJWEMode(t *testing.T) {
	t.Parallel()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	s := transmittest.NewTestServer(t, transmittest.Options{IDTokenEncryptionKey: &key.PublicKey})
	raw := modeIDToken(t, s)
	require.Equal(t, 4, strings.Count(raw, "."), "a compact JWE")
	enc, err := jose.ParseEncryptedCompact(raw, []jose.KeyAlgorithm{jose.RSA_OAEP_256}, []jose.ContentEncryption{jose.A256GCM})
	require.NoError(t, err)
	assert.Equal(t, "JWT", enc.Header.ExtraHeaders[jose.HeaderContentType])
	inner, err := enc.Decrypt(key)
	require.NoError(t, err)
	claims := modeClaims(t, string(inner), jose.RS256, modeJWKS(t, s.BaseURL()+"/oidc/jwks"))
	assert.Equal(t, "modes@example.com", claims["email"])
}
