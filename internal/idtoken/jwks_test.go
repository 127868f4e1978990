package idtoken

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestVerifyIgnoresHeaderKeys: keys named in jku, x5u, jwk or x5c headers are never used or
// fetched.
func TestVerifyIgnoresHeaderKeys(t *testing.T) {
	t.Parallel()
	keys := verifierTestKeys()
	attacker := keys[3]
	var attackerHits atomic.Int64
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attackerHits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{verifierTestJWK(attacker, "k1")}})
	}))
	t.Cleanup(evil.Close)

	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "evil"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(4e9, 0)}
	certDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &attacker.PublicKey, attacker)
	require.NoError(t, err)
	attackerJWK, err := json.Marshal(verifierTestJWK(attacker, "k1"))
	require.NoError(t, err)

	p := newVerifierTestIdP(t, verifierTestJWK(keys[0], "k1"))
	clock := newVerifierTestClock()
	v := newVerifierForTest(t, p, clock, nil)
	claims := verifierTestClaims(clock.Now())
	headers := map[string]map[jose.HeaderKey]any{
		"jku": {"jku": evil.URL + "/jwks"},
		"x5u": {"x5u": evil.URL + "/cert.pem"},
		"jwk": {"jwk": json.RawMessage(attackerJWK)},
		"x5c": {"x5c": []string{base64.StdEncoding.EncodeToString(certDER)}},
	}
	for name, h := range headers {
		for _, kid := range []string{"k1", "attacker-kid", ""} {
			t.Run(name+"/kid="+kid, func(t *testing.T) {
				raw := verifierTestMint(t, jose.RS256, attacker, kid, claims, h)
				_, err := v.Verify(context.Background(), raw)
				require.Error(t, err)
			})
		}
	}
	assert.Equal(t, int64(0), attackerHits.Load(), "the attacker's server is never contacted")
	// The genuine key still works.
	_, err = v.Verify(context.Background(), verifierTestMint(t, jose.RS256, keys[0], "k1", claims, nil))
	require.NoError(t, err)
}

// TestVerifyKeyRotation: a new kid causes exactly one refetch and is accepted at once. A cached
// kid keeps verifying until a later successful fetch no longer lists its key.
func TestVerifyKeyRotation(t *testing.T) {
	t.Parallel()
	keys := verifierTestKeys()
	p := newVerifierTestIdP(t, verifierTestJWK(keys[0], "k1"))
	clock := newVerifierTestClock()
	v := newVerifierForTest(t, p, clock, nil)
	ctx := context.Background()
	mint := func(k int, kid string) string {
		return verifierTestMint(t, jose.RS256, keys[k], kid, verifierTestClaims(clock.Now()), nil)
	}

	_, err := v.Verify(ctx, mint(0, "k1"))
	require.NoError(t, err)
	require.Equal(t, int64(1), p.jwksFetches.Load())

	// Rotation: the IdP adds k2 and signs with it, a few seconds after warm-up.
	p.set(func(p *verifierTestIdP) {
		p.keys = []jose.JSONWebKey{verifierTestJWK(keys[0], "k1"), verifierTestJWK(keys[1], "k2")}
	})
	clock.Advance(5 * time.Second)
	_, err = v.Verify(ctx, mint(1, "k2"))
	require.NoError(t, err, "first token with the new kid is accepted at once")
	assert.Equal(t, int64(2), p.jwksFetches.Load(), "exactly one refetch")
	_, err = v.Verify(ctx, mint(1, "k2"))
	require.NoError(t, err)
	assert.Equal(t, int64(2), p.jwksFetches.Load(), "new key is cached")

	// The IdP removes k1. Cached k1 still verifies: nothing triggers a fetch.
	p.set(func(p *verifierTestIdP) {
		p.keys = []jose.JSONWebKey{verifierTestJWK(keys[1], "k2"), verifierTestJWK(keys[2], "k3")}
	})
	_, err = v.Verify(ctx, mint(0, "k1"))
	require.NoError(t, err, "a cached kid keeps verifying until a later fetch drops it")

	// After the cooldown, an unknown kid (k3) triggers a refetch that drops k1.
	clock.Advance(31 * time.Second)
	_, err = v.Verify(ctx, mint(2, "k3"))
	require.NoError(t, err)
	assert.Equal(t, int64(3), p.jwksFetches.Load())
	_, err = v.Verify(ctx, mint(0, "k1"))
	require.Error(t, err, "k1 tokens are rejected once a fetch no longer lists k1")
}

func TestVerifyKeyFiltering(t *testing.T) {
	t.Parallel()
	keys := verifierTestKeys()
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	k := func(i int, kid, use, alg string) jose.JSONWebKey {
		return jose.JSONWebKey{Key: &keys[i].PublicKey, KeyID: kid, Use: use, Algorithm: alg}
	}
	p := newVerifierTestIdP(t,
		k(0, "sig", "sig", "RS256"),
		k(1, "nouse", "", ""),
		k(2, "enc", "enc", ""),
		k(3, "ps256", "sig", "PS256"),
		jose.JSONWebKey{Key: &ecKey.PublicKey, KeyID: "ec", Use: "sig", Algorithm: "ES256"},
	)
	clock := newVerifierTestClock()
	v := newVerifierForTest(t, p, clock, nil)
	tests := []struct {
		kid    string
		key    int
		accept bool
	}{
		{"sig", 0, true},
		{"nouse", 1, true},
		{"enc", 2, false},
		{"ps256", 3, false},
	}
	for _, tt := range tests {
		t.Run(tt.kid, func(t *testing.T) {
			_, err := v.Verify(context.Background(), verifierTestMint(t, jose.RS256, keys[tt.key], tt.kid, verifierTestClaims(clock.Now()), nil))
			if tt.accept {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
			}
		})
	}
}

// TestVerifyRefreshStorm: 1000 tokens with random kids cause at most 2 JWKS fetches within one
// cooldown; after the cooldown a fetch is allowed again.
func TestVerifyRefreshStorm(t *testing.T) {
	t.Parallel()
	keys := verifierTestKeys()
	for _, concurrent := range []bool{false, true} {
		name := "sequential"
		if concurrent {
			name = "concurrent"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := newVerifierTestIdP(t, verifierTestJWK(keys[0], "k1"))
			clock := newVerifierTestClock()
			v := newVerifierForTest(t, p, clock, nil)
			claims := verifierTestClaims(clock.Now())
			forged := make([]string, 1000)
			for i := range forged {
				forged[i] = verifierTestForge(t, map[string]any{"alg": "RS256", "kid": rand.Text()}, claims)
			}
			var accepted atomic.Int64
			check := func(raw string) {
				if _, err := v.Verify(context.Background(), raw); err == nil {
					accepted.Add(1)
				}
			}
			if concurrent {
				var wg sync.WaitGroup
				for w := range 20 {
					wg.Go(func() {
						for i := w; i < len(forged); i += 20 {
							check(forged[i])
						}
					})
				}
				wg.Wait()
			} else {
				for _, raw := range forged {
					check(raw)
				}
			}
			assert.Equal(t, int64(0), accepted.Load())
			assert.LessOrEqual(t, p.jwksFetches.Load(), int64(2), "fetches within one cooldown")

			// A genuine rotation inside the cooldown window is refused (documented trade-off)...
			p.set(func(p *verifierTestIdP) { p.keys = append(p.keys, verifierTestJWK(keys[1], "k2")) })
			good := verifierTestMint(t, jose.RS256, keys[1], "k2", claims, nil)
			before := p.jwksFetches.Load()
			_, err := v.Verify(context.Background(), good)
			require.Error(t, err)
			assert.Equal(t, before, p.jwksFetches.Load(), "no fetch during the cooldown")

			// ...and accepted once the cooldown has passed.
			clock.Advance(30 * time.Second)
			_, err = v.Verify(context.Background(), good)
			require.NoError(t, err)
			assert.Equal(t, before+1, p.jwksFetches.Load())
		})
	}
}

func TestVerifyConcurrentUnknownKidCoalesces(t *testing.T) {
	t.Parallel()
	keys := verifierTestKeys()
	p := newVerifierTestIdP(t, verifierTestJWK(keys[0], "k1"))
	clock := newVerifierTestClock()
	v := newVerifierForTest(t, p, clock, nil)
	claims := verifierTestClaims(clock.Now())
	_, err := v.Verify(context.Background(), verifierTestMint(t, jose.RS256, keys[0], "k1", claims, nil))
	require.NoError(t, err)
	require.Equal(t, int64(1), p.jwksFetches.Load())

	gate := make(chan struct{})
	p.set(func(p *verifierTestIdP) {
		p.keys = append(p.keys, verifierTestJWK(keys[1], "k2"))
		p.gate = gate
	})
	raw := verifierTestMint(t, jose.RS256, keys[1], "k2", claims, nil)
	var wg sync.WaitGroup
	var ok atomic.Int64
	for range 100 {
		wg.Go(func() {
			if _, err := v.Verify(context.Background(), raw); err == nil {
				ok.Add(1)
			}
		})
	}
	<-p.hit // drain warm-up signal
	<-p.hit // the refetch has reached the server; let it answer
	close(gate)
	wg.Wait()
	assert.Equal(t, int64(100), ok.Load())
	assert.Equal(t, int64(2), p.jwksFetches.Load(), "100 concurrent unknown-kid verifies cause one fetch")
}

// TestVerifyJWKSDown: after warm-up, a broken JWKS endpoint never replaces the cached keys.
func TestVerifyJWKSDown(t *testing.T) {
	t.Parallel()
	keys := verifierTestKeys()
	for _, mode := range []string{"closed", "500", "html", "empty", "enc-only"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			p := newVerifierTestIdP(t, verifierTestJWK(keys[0], "k1"))
			clock := newVerifierTestClock()
			v := newVerifierForTest(t, p, clock, nil)
			cached := verifierTestMint(t, jose.RS256, keys[0], "k1", verifierTestClaims(clock.Now()), nil)
			unknown := verifierTestMint(t, jose.RS256, keys[1], "k2", verifierTestClaims(clock.Now()), nil)
			_, err := v.Verify(context.Background(), cached)
			require.NoError(t, err)

			if mode == "closed" {
				p.srv.Close()
			} else {
				p.set(func(p *verifierTestIdP) { p.mode = mode })
			}
			_, err = v.Verify(context.Background(), unknown)
			require.ErrorIs(t, err, ErrUnavailable, "unknown kid with the JWKS down fails")
			_, err = v.Verify(context.Background(), cached)
			require.NoError(t, err, "cached kid still verifies after a failed fetch")
			_, err = v.Verify(context.Background(), unknown)
			require.Error(t, err, "unknown kid inside the cooldown fails without a fetch")
			clock.Advance(time.Minute)
			_, err = v.Verify(context.Background(), unknown)
			require.Error(t, err)
			_, err = v.Verify(context.Background(), cached)
			require.NoError(t, err)
			if mode != "closed" {
				assert.Equal(t, int64(3), p.jwksFetches.Load(), "warm-up + one refetch per cooldown")
			}
		})
	}
}

// TestVerifyJWKSFirstFetchFailureNotCached: a failed first JWKS fetch is not kept (no keys,
// no cooldown); the next verification fetches again and succeeds.
func TestVerifyJWKSFirstFetchFailureNotCached(t *testing.T) {
	t.Parallel()
	keys := verifierTestKeys()
	p := newVerifierTestIdP(t, verifierTestJWK(keys[0], "k1"))
	p.set(func(p *verifierTestIdP) { p.mode = "500" })
	clock := newVerifierTestClock()
	v := newVerifierForTest(t, p, clock, nil)
	raw := verifierTestMint(t, jose.RS256, keys[0], "k1", verifierTestClaims(clock.Now()), nil)
	_, err := v.Verify(context.Background(), raw)
	require.ErrorIs(t, err, ErrUnavailable)

	p.set(func(p *verifierTestIdP) { p.mode = "" })
	_, err = v.Verify(context.Background(), raw)
	require.NoError(t, err, "the failure was not cached")
	assert.Equal(t, int64(2), p.jwksFetches.Load())
}

// countingTransport counts the requests that go through it.
type countingTransport struct{ n atomic.Int64 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

// TestVerifyJWKSRedirectNotFollowed: a JWKS URL that redirects elsewhere yields no keys and
// the other server is never asked, with the default client and with a caller's client that
// would follow redirects; a caller's client (its transport) is the one used.
func TestVerifyJWKSRedirectNotFollowed(t *testing.T) {
	t.Parallel()
	keys := verifierTestKeys()
	for _, custom := range []bool{false, true} {
		t.Run(map[bool]string{false: "default client", true: "Config.HTTPClient"}[custom], func(t *testing.T) {
			t.Parallel()
			p := newVerifierTestIdP(t, verifierTestJWK(keys[0], "k1")) // the keys live here
			redirector := httptest.NewServer(http.RedirectHandler(p.srv.URL+"/jwks", http.StatusFound))
			t.Cleanup(redirector.Close)
			clock := newVerifierTestClock()
			var tr countingTransport
			var client *http.Client
			if custom {
				client = &http.Client{Transport: &tr} // follows redirects by default
			}
			v := newVerifierForTest(t, p, clock, func(c *Config) {
				c.HTTPClient = client
				c.Discover = func(context.Context) (Discovery, error) {
					return Discovery{Issuer: verifierTestIssuer, JWKSURL: redirector.URL + "/jwks"}, nil
				}
			})
			_, err := v.Verify(context.Background(), verifierTestMint(t, jose.RS256, keys[0], "k1", verifierTestClaims(clock.Now()), nil))
			require.ErrorIs(t, err, ErrUnavailable)
			assert.Equal(t, int64(0), p.jwksFetches.Load(), "the redirect target gets no request")
			if custom {
				assert.Equal(t, int64(1), tr.n.Load(), "the caller's transport is used")
				assert.Nil(t, client.CheckRedirect, "the caller's client is not changed")
			}
		})
	}
}
