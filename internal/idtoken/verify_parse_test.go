package idtoken

import (
	"context"
	"fmt"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/require"
)

// TestVerifySignatureCoversTokenText: the signature is checked over the token's own text, so
// a token whose base64url parts are altered in their unused trailing bits (decoding to the
// same bytes) is refused: the token is exactly what the IdP signed, or nothing.
func TestVerifySignatureCoversTokenText(t *testing.T) {
	t.Parallel()
	keys := verifierTestKeys()
	p := newVerifierTestIdP(t, verifierTestJWK(keys[0], "k1"))
	clock := newVerifierTestClock()
	v := New(Config{ClientID: verifierTestClientID, Discover: p.discover, Now: clock.Now})
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	tried := 0
	for i := 0; i < 8 && tried < 2; i++ {
		claims := verifierTestClaims(clock.Now())
		claims["pad"] = strings.Repeat("x", i)
		raw := verifierTestMint(t, jose.RS256, keys[0], "k1", claims, nil)
		_, err := v.Verify(context.Background(), raw)
		require.NoError(t, err, "the untouched token verifies")
		parts := strings.Split(raw, ".")
		if len(parts[1])%4 == 0 {
			continue // no unused bits in this payload's last character
		}
		tried++
		last := strings.IndexByte(alphabet, parts[1][len(parts[1])-1])
		parts[1] = parts[1][:len(parts[1])-1] + string(alphabet[last^1]) // flip an unused bit
		altered := strings.Join(parts, ".")
		_, err = v.Verify(context.Background(), altered)
		require.Error(t, err, fmt.Sprintf("payload padding %d: an altered token text is refused", i))
	}
	require.Equal(t, 2, tried, "payloads with unused bits were tried")
}
