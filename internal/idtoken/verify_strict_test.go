package idtoken

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestVerifyStrictParsing covers the token shapes OIDC Core refuses and a lenient parser takes:
// a critical header (RFC 7515 §4.1.11; b64:false changes what the signature covers), NumericDate
// claims sent as strings (RFC 7519 §2), and several audiences without azp naming this client
// (OIDC Core 3.1.3.7 items 3 to 5).
func TestVerifyStrictParsing(t *testing.T) {
	t.Parallel()
	keys := verifierTestKeys()
	p := newVerifierTestIdP(t, verifierTestJWK(keys[0], "k1"))
	// An issuer without a dot, so that an unencoded (b64:false) payload can travel in compact
	// form (RFC 7797 forbids dots in it).
	const iss = "https://localhost"
	p.set(func(p *verifierTestIdP) { p.issuer = iss })
	clock := newVerifierTestClock()
	v := newVerifierForTest(t, p, clock, nil)
	now := clock.Now()

	claims := func(edit func(map[string]any)) map[string]any {
		c := verifierTestClaims(now)
		c["iss"] = iss
		delete(c, "email") // no dots in the payload (see above)
		delete(c, "phone_number")
		if edit != nil {
			edit(c)
		}
		return c
	}
	rs := func(edit func(map[string]any)) string {
		return verifierTestMint(t, jose.RS256, keys[0], "k1", claims(edit), nil)
	}
	unencoded := func() string {
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: keys[0], KeyID: "k1"}},
			(&jose.SignerOptions{}).WithBase64(false))
		require.NoError(t, err)
		payload := []byte(`{"iss":"` + iss + `","sub":"user-1","aud":"` + verifierTestClientID + `","exp":` +
			itoa(now.Add(time.Hour).Unix()) + `,"iat":` + itoa(now.Unix()) + `}`)
		jws, err := signer.Sign(payload)
		require.NoError(t, err)
		raw, err := jws.CompactSerialize()
		require.NoError(t, err)
		require.Equal(t, 2, strings.Count(raw, "."), "compact form")
		return raw
	}()

	tests := []struct {
		name   string
		token  string
		accept bool
	}{
		{"good", rs(nil), true},
		{"crit b64:false (unencoded payload)", unencoded, false},
		{"crit b64 with b64:true", verifierTestMint(t, jose.RS256, keys[0], "k1", claims(nil),
			map[jose.HeaderKey]any{"b64": true, "crit": []string{"b64"}}), false},
		{"crit naming an unknown header", verifierTestMint(t, jose.RS256, keys[0], "k1", claims(nil),
			map[jose.HeaderKey]any{"x-policy": "a", "crit": []string{"x-policy"}}), false},
		{"exp as a numeric string", rs(func(c map[string]any) { c["exp"] = itoa(now.Add(time.Hour).Unix()) }), false},
		{"iat as a numeric string", rs(func(c map[string]any) { c["iat"] = itoa(now.Unix()) }), false},
		{"nbf as a numeric string", rs(func(c map[string]any) { c["nbf"] = itoa(now.Add(-time.Minute).Unix()) }), false},
		{"auth_time as a numeric string", rs(func(c map[string]any) { c["auth_time"] = itoa(now.Unix()) }), false},
		{"exp true", rs(func(c map[string]any) { c["exp"] = true }), false},
		{"two audiences, no azp", rs(func(c map[string]any) { c["aud"] = []string{verifierTestClientID, "other"} }), false},
		{"two audiences, azp another client", rs(func(c map[string]any) {
			c["aud"] = []string{verifierTestClientID, "other"}
			c["azp"] = "other"
		}), false},
		{"two audiences, azp this client", rs(func(c map[string]any) {
			c["aud"] = []string{verifierTestClientID, "other"}
			c["azp"] = verifierTestClientID
		}), true},
		{"one audience in an array, no azp", rs(func(c map[string]any) { c["aud"] = []string{verifierTestClientID} }), true},
		{"one audience, azp this client", rs(func(c map[string]any) { c["azp"] = verifierTestClientID }), true},
		{"aud not a string", rs(func(c map[string]any) { c["aud"] = 42 }), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.Verify(context.Background(), tt.token)
			if tt.accept {
				require.NoError(t, err)
				assert.Equal(t, "user-1", c.Subject)
				return
			}
			require.Error(t, err, "the token must be refused")
			assert.Nil(t, c)
			assert.True(t, strings.HasPrefix(err.Error(), "otlogin:"), "error %q starts with otlogin:", err)
			assert.NotErrorIs(t, err, ErrUnavailable, "a bad token is not an outage")
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
