package otlogin

import (
	"context"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// BenchmarkVerifyIDToken measures login-time verification of an ID token with the keys already
// cached (no network I/O per operation).
func BenchmarkVerifyIDToken(b *testing.B) {
	keys := verifierTestKeys()
	p := newVerifierTestIdP(b, verifierTestJWK(keys[0], "k1"))
	clock := newVerifierTestClock()
	v := newVerifier(verifierConfig{ClientID: verifierTestClientID, Discover: p.discover, Now: clock.Now})
	raw := verifierTestMint(b, jose.RS256, keys[0], "k1", verifierTestClaims(clock.Now()), nil)
	if _, err := v.verify(context.Background(), raw); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.verify(context.Background(), raw); err != nil {
			b.Fatal(err)
		}
	}
	if n := p.jwksFetches.Load(); n != 1 {
		b.Fatalf("JWKS fetched %d times, want 1", n)
	}
}
