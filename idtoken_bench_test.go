package otlogin

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/otlogin/otlogin/internal/idtoken"
)

// Login-time ID-token verification (internal/idtoken) against its physical floor. These
// benchmarks live in the root package so that the allocation guard, which runs the root
// package's benchmarks, keeps covering BenchmarkVerifyIDToken. Compare within one run:
//
//	go test -run '^$' -bench 'VerifyIDToken|RawRSAVerify' -count 5 . | go run ./bench/benchtable

// benchIDToken returns a verifier whose keys are already cached (one JWKS fetch, counted in
// *fetches) and a token it accepts.
func benchIDToken(b *testing.B) (v *idtoken.Verifier, raw string, pub *rsa.PublicKey, fetches *atomic.Int64) {
	b.Helper()
	key := testRSAKeys()[0]
	fetches = new(atomic.Int64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
			{Key: &key.PublicKey, KeyID: "k1", Algorithm: string(jose.RS256), Use: "sig"}}})
	}))
	b.Cleanup(srv.Close)
	const issuer, clientID = "https://userid.security", "client-123"
	now := time.Unix(1_800_000_000, 0)
	v = idtoken.New(idtoken.Config{
		ClientID: clientID,
		Discover: func(context.Context) (idtoken.Discovery, error) {
			return idtoken.Discovery{Issuer: issuer, JWKSURL: srv.URL}, nil
		},
		Now: func() time.Time { return now },
	})
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		b.Fatal(err)
	}
	payload, _ := json.Marshal(map[string]any{
		"iss": issuer, "sub": "user-1", "aud": clientID, "exp": now.Add(time.Hour).Unix(), "iat": now.Unix(),
		"auth_time": now.Unix(), "email": "alice@example.com", "email_verified": true,
		"phone_number": "+15555550100", "phone_number_verified": false, "amr": []string{"eml"},
	})
	jws, err := signer.Sign(payload)
	if err != nil {
		b.Fatal(err)
	}
	if raw, err = jws.CompactSerialize(); err != nil {
		b.Fatal(err)
	}
	return v, raw, &key.PublicKey, fetches
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

// BenchmarkVerifyIDToken measures login-time verification of an ID token with the keys already
// cached (no network I/O per operation).
func BenchmarkVerifyIDToken(b *testing.B) {
	v, raw, _, fetches := benchIDToken(b)
	if _, err := v.Verify(context.Background(), raw); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(context.Background(), raw); err != nil {
			b.Fatal(err)
		}
	}
	if n := fetches.Load(); n != 1 {
		b.Fatalf("JWKS fetched %d times, want 1", n)
	}
}

// BenchmarkRawRSAVerify is the floor of BenchmarkVerifyIDToken: the least work that checks
// the same token's signature (decode the signature, SHA-256 of the signing input,
// rsa.VerifyPKCS1v15), with no parsing of header or claims.
func BenchmarkRawRSAVerify(b *testing.B) {
	_, raw, pub, _ := benchIDToken(b)
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
	v, raw, pub, _ := benchIDToken(b)
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
		if _, err := v.Verify(context.Background(), raw); err != nil {
			b.Fatal(err)
		}
	})
}
