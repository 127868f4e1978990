package idtoken

import (
	"context"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// FuzzVerify feeds arbitrary strings to verify: it must never panic, never accept a token
// that was not signed by the IdP's key, and never echo the token in an error. The IdP and the
// verifier are shared by all fuzz workers.
func FuzzVerify(f *testing.F) {
	keys := verifierTestKeys()
	clock := newVerifierTestClock()
	claims := verifierTestClaims(clock.Now())
	good := verifierTestMint(f, jose.RS256, keys[0], "k1", claims, nil)
	parts := strings.Split(good, ".")
	for _, seed := range []string{
		good,
		verifierTestMint(f, jose.RS256, keys[1], "k1", claims, nil),
		verifierTestMint(f, jose.RS256, keys[0], "", claims, nil),
		verifierTestForge(f, map[string]any{"alg": "RS256", "kid": "other"}, claims),
		parts[0] + "." + parts[1] + ".",
		parts[0] + ".." + parts[2],
		"eyJhbGciOiJub25lIn0.e30.",
		"", ".", "..", "a.b.c", "a.b.c.d.e",
		`{"payload":"e30","signatures":[]}`,
	} {
		f.Add(seed)
	}
	p := newVerifierTestIdP(f, verifierTestJWK(keys[0], "k1"))
	v := New(Config{ClientID: verifierTestClientID, Discover: p.discover, Now: clock.Now})
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := v.Verify(context.Background(), raw)
		if err == nil {
			// Only payloads signed by the IdP's key exist, and all have this subject.
			if c == nil || c.Subject != "user-1" {
				t.Fatalf("accepted a token with unexpected claims")
			}
			return
		}
		if len(raw) > 16 && strings.Contains(err.Error(), raw) {
			t.Fatalf("error contains the token")
		}
	})
}

// FuzzVerifyEncrypted is FuzzVerify with a decryption key: the JWE path must never panic and
// never accept anything but a JWE holding a token signed by the IdP's key.
func FuzzVerifyEncrypted(f *testing.F) {
	keys := verifierTestKeys()
	clock := newVerifierTestClock()
	good := verifierTestMint(f, jose.RS256, keys[0], "k1", verifierTestClaims(clock.Now()), nil)
	enc, err := jose.NewEncrypter(jose.A256GCM, jose.Recipient{Algorithm: jose.RSA_OAEP_256, Key: &keys[2].PublicKey},
		(&jose.EncrypterOptions{}).WithContentType("JWT"))
	if err != nil {
		f.Fatal(err)
	}
	obj, err := enc.Encrypt([]byte(good))
	if err != nil {
		f.Fatal(err)
	}
	jwe, err := obj.CompactSerialize()
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{jwe, good, "a.b.c.d.e", "....", jwe[:len(jwe)/2]} {
		f.Add(seed)
	}
	p := newVerifierTestIdP(f, verifierTestJWK(keys[0], "k1"))
	v := New(Config{ClientID: verifierTestClientID, Discover: p.discover, Now: clock.Now, DecryptionKey: keys[2]})
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := v.Verify(context.Background(), raw)
		if err == nil {
			if strings.Count(raw, ".") != 4 || c == nil || c.Subject != "user-1" {
				t.Fatalf("accepted an unexpected token")
			}
			return
		}
		if len(raw) > 16 && strings.Contains(err.Error(), raw) {
			t.Fatalf("error contains the token")
		}
	})
}
