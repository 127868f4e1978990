package idtoken

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/otlogin/otlogin/internal/apptest/safe"
	"github.com/stretchr/testify/require"
)

const (
	verifierTestClientID = "client-123"
	verifierTestIssuer   = "https://userid.security"
)

// verifierTestKeys are generated once per test binary: RSA key generation is slow.
var verifierTestKeys = sync.OnceValue(func() []*rsa.PrivateKey {
	keys := make([]*rsa.PrivateKey, 4)
	for i := range keys {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		keys[i] = k
	}
	return keys
})

// newVerifierTestClock returns the tests' settable clock, on a fixed date.
func newVerifierTestClock() *safe.Clock { return safe.NewClockAt(time.Unix(1_800_000_000, 0).UTC()) }

// verifierTestIdP serves discovery and a JWKS and counts requests.
type verifierTestIdP struct {
	srv    *httptest.Server
	issuer string
	algs   []string // id_token_signing_alg_values_supported; nil: not published

	mu   sync.Mutex
	keys []jose.JSONWebKey
	mode string        // "" (serve keys), "500", "html", "empty", "enc-only", "hang"
	gate chan struct{} // when set, JWKS requests wait for it to close

	hit              chan struct{} // receives one value per JWKS request (non-blocking)
	jwksFetches      atomic.Int64
	discoveryFetches atomic.Int64
}

func newVerifierTestIdP(t testing.TB, keys ...jose.JSONWebKey) *verifierTestIdP {
	t.Helper()
	p := &verifierTestIdP{issuer: verifierTestIssuer, keys: keys, hit: make(chan struct{}, 1024)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		p.discoveryFetches.Add(1)
		p.mu.Lock()
		doc := map[string]any{"issuer": p.issuer, "jwks_uri": p.srv.URL + "/jwks"}
		if p.algs != nil {
			doc["id_token_signing_alg_values_supported"] = p.algs
		}
		p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(doc)
	})
	mux.HandleFunc("GET /jwks", p.serveJWKS)
	p.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		p.mu.Lock()
		if p.gate != nil {
			select {
			case <-p.gate:
			default:
				close(p.gate)
			}
		}
		p.mu.Unlock()
		p.srv.Close()
	})
	return p
}

func (p *verifierTestIdP) serveJWKS(w http.ResponseWriter, r *http.Request) {
	p.jwksFetches.Add(1)
	select {
	case p.hit <- struct{}{}:
	default:
	}
	p.mu.Lock()
	keys, mode, gate := p.keys, p.mode, p.gate
	p.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
	}
	switch mode {
	case "hang":
		<-r.Context().Done()
		return
	case "500":
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	case "html":
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<html><body>maintenance</body></html>"))
		return
	case "empty":
		keys = nil
	case "enc-only":
		enc := make([]jose.JSONWebKey, len(keys))
		for i, k := range keys {
			k.Use = "enc"
			enc[i] = k
		}
		keys = enc
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: keys})
}

func (p *verifierTestIdP) set(f func(p *verifierTestIdP)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(p)
}

// discover is a Discover func that reads the discovery document over HTTP.
func (p *verifierTestIdP) discover(ctx context.Context) (Discovery, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.srv.URL+"/.well-known/openid-configuration", nil)
	if err != nil {
		return Discovery{}, err
	}
	resp, err := p.srv.Client().Do(req)
	if err != nil {
		return Discovery{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Discovery{}, fmt.Errorf("status %d", resp.StatusCode)
	}
	var doc struct {
		Issuer  string   `json:"issuer"`
		JWKSURI string   `json:"jwks_uri"`
		Algs    []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		return Discovery{}, err
	}
	return Discovery{Issuer: doc.Issuer, JWKSURL: doc.JWKSURI, Algorithms: doc.Algs}, nil
}

func verifierTestJWK(key *rsa.PrivateKey, kid string) jose.JSONWebKey {
	return jose.JSONWebKey{Key: &key.PublicKey, KeyID: kid, Algorithm: string(jose.RS256), Use: "sig"}
}

// newVerifierForTest builds a verifier against p with a test clock.
func newVerifierForTest(t *testing.T, p *verifierTestIdP, clock *safe.Clock, edit func(*Config)) *Verifier {
	t.Helper()
	c := Config{
		ClientID: verifierTestClientID,
		Discover: p.discover,
		Timeout:  2 * time.Second,
		Now:      clock.Now,
	}
	if edit != nil {
		edit(&c)
	}
	return New(c)
}

func verifierTestClaims(now time.Time) map[string]any {
	return map[string]any{
		"iss":                   verifierTestIssuer,
		"sub":                   "user-1",
		"aud":                   verifierTestClientID,
		"exp":                   now.Add(time.Hour).Unix(),
		"iat":                   now.Unix(),
		"auth_time":             now.Unix(),
		"email":                 "alice@example.com",
		"email_verified":        true,
		"phone_number":          "+15555550100",
		"phone_number_verified": false,
		"amr":                   []string{"eml"},
	}
}

// verifierTestMint signs claims with alg and key, adding kid and extra headers.
func verifierTestMint(t testing.TB, alg jose.SignatureAlgorithm, key any, kid string, claims map[string]any, extra map[jose.HeaderKey]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	for k, v := range extra {
		opts = opts.WithHeader(k, v)
	}
	sk := jose.SigningKey{Algorithm: alg, Key: key}
	if kid != "" {
		sk.Key = jose.JSONWebKey{Key: key, KeyID: kid}
	}
	signer, err := jose.NewSigner(sk, opts)
	require.NoError(t, err)
	payload, err := json.Marshal(claims)
	require.NoError(t, err)
	jws, err := signer.Sign(payload)
	require.NoError(t, err)
	raw, err := jws.CompactSerialize()
	require.NoError(t, err)
	return raw
}

// verifierTestForge builds an RS256-labelled token with a random signature (for unknown kids,
// where the signature is never checked).
func verifierTestForge(t testing.TB, header map[string]any, claims map[string]any) string {
	t.Helper()
	h, err := json.Marshal(header)
	require.NoError(t, err)
	c, err := json.Marshal(claims)
	require.NoError(t, err)
	sig := make([]byte, 256)
	_, _ = rand.Read(sig)
	enc := base64.RawURLEncoding.EncodeToString
	return enc(h) + "." + enc(c) + "." + enc(sig)
}
