package idtoken

import (
	"context"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestVerifyEncryptedTokens: with a decryption key, only a JWE made with an accepted key
// algorithm, not compressed, holding a JWS that verifies, is accepted.
func TestVerifyEncryptedTokens(t *testing.T) {
	t.Parallel()
	keys := verifierTestKeys()
	encKey := keys[2]
	p := newVerifierTestIdP(t, verifierTestJWK(keys[0], "k1"))
	clock := newVerifierTestClock()
	v := newVerifierForTest(t, p, clock, func(c *Config) { c.DecryptionKey = encKey })
	now := clock.Now()
	signed := verifierTestMint(t, jose.RS256, keys[0], "k1", verifierTestClaims(now), nil)

	encrypt := func(payload string, alg jose.KeyAlgorithm, opts *jose.EncrypterOptions) string {
		if opts == nil {
			opts = &jose.EncrypterOptions{}
		}
		e, err := jose.NewEncrypter(jose.A256GCM, jose.Recipient{Algorithm: alg, Key: &encKey.PublicKey}, opts.WithContentType("JWT"))
		require.NoError(t, err)
		obj, err := e.Encrypt([]byte(payload))
		require.NoError(t, err)
		raw, err := obj.CompactSerialize()
		require.NoError(t, err)
		return raw
	}
	good := encrypt(signed, jose.RSA_OAEP_256, nil)
	tests := []struct {
		name   string
		token  string
		accept bool
	}{
		{"RSA-OAEP-256 holding a good JWS", good, true},
		{"RSA-OAEP holding a good JWS", encrypt(signed, jose.RSA_OAEP, nil), true},
		{"RSA1_5 (padding oracle) refused", encrypt(signed, jose.RSA1_5, nil), false},
		{"compressed (zip) refused", encrypt(signed, jose.RSA_OAEP_256, &jose.EncrypterOptions{Compression: jose.DEFLATE}), false},
		{"plain JWS refused when a key is set", signed, false},
		{"JWE holding claims, not a JWS", encrypt(`{"sub":"user-1"}`, jose.RSA_OAEP_256, nil), false},
		{"JWE holding a JWE", encrypt(good, jose.RSA_OAEP_256, nil), false},
		{"JWE holding a JWS of an unknown key", encrypt(verifierTestMint(t, jose.RS256, keys[1], "k1", verifierTestClaims(now), nil), jose.RSA_OAEP_256, nil), false},
		{"JWE holding an expired JWS", encrypt(verifierTestMint(t, jose.RS256, keys[0], "k1", func() map[string]any {
			c := verifierTestClaims(now)
			c["exp"] = now.Add(-2 * time.Hour).Unix()
			return c
		}(), nil), jose.RSA_OAEP_256, nil), false},
		{"tampered ciphertext", func() string {
			parts := strings.Split(good, ".")
			c := []byte(parts[3])
			if c[0] == 'A' {
				c[0] = 'B'
			} else {
				c[0] = 'A'
			}
			parts[3] = string(c)
			return strings.Join(parts, ".")
		}(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.Verify(context.Background(), tt.token)
			if tt.accept {
				require.NoError(t, err)
				assert.Equal(t, "user-1", c.Subject)
				return
			}
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), "otlogin:"), err.Error())
			assert.NotContains(t, err.Error(), tt.token)
		})
	}
}
