package idtoken

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/otlogin/otlogin/internal/apptest/safe"
)

// Login-time ID-token verification against its physical floor. The allocation guard runs
// these with the root package's benchmarks (examples/bench/allocs.txt). Compare within one run:
//
//	go test -run '^$' -bench 'VerifyIDToken|RawRSAVerify' -count 5 ./internal/idtoken | go run ./examples/bench/benchtable -base RawRSAVerify

// benchVerifier returns a verifier whose keys are already cached (one JWKS fetch, counted in
// the IdP) and a token it accepts.
func benchVerifier(b *testing.B) (v *Verifier, raw string, pub *rsa.PublicKey, p *verifierTestIdP) {
	b.Helper()
	key := verifierTestKeys()[0]
	p = newVerifierTestIdP(b, verifierTestJWK(key, "k1"))
	clock := newVerifierTestClock()
	v = New(Config{ClientID: verifierTestClientID, Discover: p.discover, Now: clock.Now})
	raw = verifierTestMint(b, jose.RS256, key, "k1", verifierTestClaims(clock.Now()), nil)
	if _, err := v.Verify(context.Background(), raw); err != nil {
		b.Fatal(err)
	}
	return v, raw, &key.PublicKey, p
}

// BenchmarkVerifyIDToken measures login-time verification of an ID token with the keys already
// cached (no network I/O per operation).
func BenchmarkVerifyIDToken(b *testing.B) {
	v, raw, _, p := benchVerifier(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(context.Background(), raw); err != nil {
			b.Fatal(err)
		}
	}
	if n := p.jwksFetches.Load(); n != 1 {
		b.Fatalf("JWKS fetched %d times, want 1", n)
	}
}

// rawRSAVerify is the floor of Verify: the least work that checks the same token's signature
// (decode the signature, SHA-256 of the signing input, rsa.VerifyPKCS1v15), with no parsing of
// header or claims.
func rawRSAVerify(b *testing.B, pub *rsa.PublicKey, raw string) {
	dot := strings.LastIndexByte(raw, '.')
	sig, err := base64.RawURLEncoding.DecodeString(raw[dot+1:])
	if err != nil {
		b.Fatal(err)
	}
	sum := sha256.Sum256([]byte(raw[:dot]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRawRSAVerify is the floor of BenchmarkVerifyIDToken (see rawRSAVerify).
func BenchmarkRawRSAVerify(b *testing.B) {
	_, raw, pub, _ := benchVerifier(b)
	b.ReportAllocs()
	for b.Loop() {
		rawRSAVerify(b, pub, raw)
	}
}

// BenchmarkVerifyVsRawRSA interleaves BenchmarkVerifyIDToken's verification with
// BenchmarkRawRSAVerify's on the same token and reports their ratio (target: at most 1.5).
func BenchmarkVerifyVsRawRSA(b *testing.B) {
	v, raw, pub, _ := benchVerifier(b)
	safe.Interleave(b, 20, func() { rawRSAVerify(b, pub, raw) }, func() {
		if _, err := v.Verify(context.Background(), raw); err != nil {
			b.Fatal(err)
		}
	})
}
