package otlogin

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// Login-time ID-token verification against its physical floor. Compare within one run:
//
//	go test -run '^$' -bench 'VerifyIDToken|RawRSAVerify' -count 5 . | go run ./bench/benchtable

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

// BenchmarkRawRSAVerify is the floor of BenchmarkVerifyIDToken: the least work that checks
// the same token's signature (decode the signature, SHA-256 of the signing input,
// rsa.VerifyPKCS1v15), with no parsing of header or claims.
func BenchmarkRawRSAVerify(b *testing.B) {
	keys := verifierTestKeys()
	clock := newVerifierTestClock()
	raw := verifierTestMint(b, jose.RS256, keys[0], "k1", verifierTestClaims(clock.Now()), nil)
	pub := &keys[0].PublicKey
	b.ReportAllocs()
	for b.Loop() {
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
}

// BenchmarkVerifyVsRawRSA interleaves BenchmarkVerifyIDToken's verification with
// BenchmarkRawRSAVerify's on the same token and reports their ratio (target: at most 1.5).
func BenchmarkVerifyVsRawRSA(b *testing.B) {
	keys := verifierTestKeys()
	p := newVerifierTestIdP(b, verifierTestJWK(keys[0], "k1"))
	clock := newVerifierTestClock()
	v := newVerifier(verifierConfig{ClientID: verifierTestClientID, Discover: p.discover, Now: clock.Now})
	raw := verifierTestMint(b, jose.RS256, keys[0], "k1", verifierTestClaims(clock.Now()), nil)
	pub := &keys[0].PublicKey
	interleave(b, 20, func() {
		dot := strings.LastIndexByte(raw, '.')
		sig, err := base64.RawURLEncoding.DecodeString(raw[dot+1:])
		if err != nil {
			b.Fatal(err)
		}
		sum := sha256.Sum256([]byte(raw[:dot]))
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
			b.Fatal(err)
		}
	}, func() {
		if _, err := v.verify(context.Background(), raw); err != nil {
			b.Fatal(err)
		}
	})
}
