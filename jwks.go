package otlogin

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// The ID-token signing keys.
//
// Keys come only from the JWKS URL named by discovery (or Config.JWKSURL), through keySet,
// never from jku, x5u, jwk or x5c token headers (those headers are ignored). A key verifies
// only the algorithms its type allows (RSA: RS*/PS*; ECDSA: the ES* of its curve), and only
// its JWK's alg when that is named. A cached kid keeps verifying until a
// later successful JWKS fetch no longer lists it; a fetch only happens on the first verification
// or when a token names a kid that is not cached (at most once per Cooldown).

const (
	// verifierMaxJWKSBytes caps a JWKS or error response body.
	verifierMaxJWKSBytes = 1 << 20
	// verifierMaxKeys caps the number of usable keys kept from one JWKS.
	verifierMaxKeys = 64
	// verifierMinRSABits is the smallest RSA modulus accepted from the JWKS.
	verifierMinRSABits = 2048
)

// keySet verifies token signatures with the keys of a JWKS URL, kept parsed in a guarded
// in-memory cache.
type keySet struct {
	client   *http.Client
	timeout  time.Duration
	cooldown time.Duration
	now      func() time.Time

	mu          sync.Mutex
	url         string
	algs        []jose.SignatureAlgorithm // accepted token algs, from discovery
	keys        []keySetKey
	loaded      bool      // a fetch has succeeded
	gen         uint64    // bumped on every successful fetch
	lastRefetch time.Time // last fetch caused by an unknown kid
	inflight    *verifierFlight
}

// keySetKey is one usable public key: an RSA key of at least 2048 bits or an ECDSA key on
// P-256, P-384 or P-521. alg is the JWK's alg ("" when the JWK names none).
type keySetKey struct {
	kid string
	alg string
	pub crypto.PublicKey
}

// fits reports whether k may verify a signature made with alg: the key's type and curve must
// be alg's, and a JWK that names an alg is used for that alg only.
func (k keySetKey) fits(alg string) bool {
	if k.alg != "" && k.alg != alg {
		return false
	}
	switch pub := k.pub.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	case *ecdsa.PublicKey:
		switch alg {
		case string(jose.ES256):
			return pub.Curve == elliptic.P256()
		case string(jose.ES384):
			return pub.Curve == elliptic.P384()
		case string(jose.ES512):
			return pub.Curve == elliptic.P521()
		}
	}
	return false
}

// setSource sets the JWKS URL and the accepted algorithms.
func (ks *keySet) setSource(u string, algs []jose.SignatureAlgorithm) {
	ks.mu.Lock()
	ks.url = u
	ks.algs = algs
	ks.mu.Unlock()
}

// keySetVerify parses raw once (a JWS in compact form), checks its header (an accepted alg,
// no crit or b64) and its signature with a cached key (fetching the JWKS for an unknown
// kid), and returns the verified payload.
func (ks *keySet) keySetVerify(ctx context.Context, raw string) ([]byte, error) {
	if err := idTokenPrecheck(raw); err != nil {
		return nil, err
	}
	ks.mu.Lock()
	algs := ks.algs
	ks.mu.Unlock()
	if len(algs) == 0 {
		algs = []jose.SignatureAlgorithm{jose.RS256}
	}
	jws, err := jose.ParseSignedCompact(raw, algs)
	if err != nil {
		return nil, fmt.Errorf("otlogin: malformed id token or algorithm not accepted: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("otlogin: id token must have one signature")
	}
	h := jws.Signatures[0].Header
	// go-jose honours crit:["b64"] with b64:false (RFC 7797), which changes what the signature
	// covers; an ID token has no use for critical extensions (RFC 7515 4.1.11).
	for _, name := range []jose.HeaderKey{"crit", "b64"} {
		if _, ok := h.ExtraHeaders[name]; ok {
			return nil, fmt.Errorf("otlogin: id token header carries %q, which is refused", name)
		}
	}
	kid := h.KeyID
	payload, found, gen, err := ks.keySetTry(jws, kid, h.Algorithm)
	if found {
		return payload, err
	}
	if err := ks.keySetRefresh(ctx, gen); err != nil {
		return nil, err
	}
	payload, found, _, err = ks.keySetTry(jws, kid, h.Algorithm)
	if !found {
		return nil, errors.New("otlogin: id token signed by an unknown key")
	}
	return payload, err
}

// keySetTry verifies jws with the cached keys. found reports whether the result is final:
// a key with the token's kid exists (its verdict stands), or some kid-less candidate verified.
// gen identifies the cache state that was searched.
func (ks *keySet) keySetTry(jws *jose.JSONWebSignature, kid, alg string) (payload []byte, found bool, gen uint64, err error) {
	ks.mu.Lock()
	keys, gen := ks.keys, ks.gen
	ks.mu.Unlock()
	var exact, fallback []crypto.PublicKey
	mismatch := false // the kid names a key of another type or alg
	for _, k := range keys {
		switch {
		case !k.fits(alg):
			if kid != "" && k.kid == kid {
				mismatch = true
			}
		case kid != "" && k.kid == kid:
			exact = append(exact, k.pub)
		case kid == "" || k.kid == "":
			fallback = append(fallback, k.pub)
		}
	}
	if len(exact) > 0 {
		for _, pub := range exact {
			if p, err := jws.Verify(pub); err == nil {
				return p, true, gen, nil
			}
		}
		return nil, true, gen, errors.New("otlogin: id token signature invalid")
	}
	if mismatch {
		return nil, true, gen, errors.New("otlogin: id token alg does not match its key")
	}
	for _, pub := range fallback {
		if p, err := jws.Verify(pub); err == nil {
			return p, true, gen, nil
		}
	}
	return nil, false, gen, nil
}

// keySetRefresh fetches the JWKS, or joins a fetch in progress, unless the cache has changed
// since gen. Once keys are cached, a fetch caused by an unknown kid happens at most once per
// cooldown; before the first success every call may fetch (coalesced).
func (ks *keySet) keySetRefresh(ctx context.Context, gen uint64) error {
	ks.mu.Lock()
	if ks.gen != gen {
		ks.mu.Unlock()
		return nil // another fetch updated the cache; look again
	}
	f := ks.inflight
	if f == nil {
		if ks.loaded {
			now := ks.now()
			if since := now.Sub(ks.lastRefetch); !ks.lastRefetch.IsZero() && since >= 0 && since < ks.cooldown {
				ks.mu.Unlock()
				return errors.New("otlogin: id token signed by an unknown key (jwks refetch cooling down)")
			}
			ks.lastRefetch = now
		}
		f = &verifierFlight{done: make(chan struct{})}
		ks.inflight = f
		go ks.keySetFetch(context.WithoutCancel(ctx), ks.url, f)
	}
	ks.mu.Unlock()
	return verifierWait(ctx, f, ks.timeout, "jwks fetch")
}

func (ks *keySet) keySetFetch(ctx context.Context, jwksURL string, f *verifierFlight) {
	ctx, cancel := context.WithTimeout(ctx, ks.timeout)
	defer cancel()
	keys, err := ks.keySetDownload(ctx, jwksURL)
	ks.mu.Lock()
	if err == nil {
		ks.keys = keys
		ks.loaded = true
		ks.gen++
	} else {
		err = fmt.Errorf("otlogin: jwks fetch: %w: %w", errVerifierUnavailable, err)
	}
	ks.inflight = nil
	f.err = err
	ks.mu.Unlock()
	close(f.done)
}

// refreshNow fetches the JWKS once, whatever the cache and the cooldown, and caches the keys
// on success (Auth.Check). It returns the URL it fetched.
func (ks *keySet) refreshNow(ctx context.Context) (string, error) {
	ks.mu.Lock()
	u := ks.url
	ks.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, ks.timeout)
	defer cancel()
	keys, err := ks.keySetDownload(ctx, u)
	if err != nil {
		return u, err
	}
	ks.mu.Lock()
	if ks.url == u {
		ks.keys = keys
		ks.loaded = true
		ks.gen++
	}
	ks.mu.Unlock()
	return u, nil
}

// keySetDownload fetches and parses the JWKS. It fails, leaving the cache untouched, unless
// the answer is a 200 with at least one usable key.
func (ks *keySet) keySetDownload(ctx context.Context, jwksURL string) ([]keySetKey, error) {
	if jwksURL == "" {
		return nil, errors.New("no jwks_uri")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, jwksURL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Cache-Control", "no-cache")
	resp, err := ks.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, verifierMaxJWKSBytes+1))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	if len(body) > verifierMaxJWKSBytes {
		return nil, errors.New("response too large")
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, errors.New("response is not a JWK set")
	}
	keys := make([]keySetKey, 0, min(len(set.Keys), verifierMaxKeys))
	for _, rawKey := range set.Keys {
		// Keys are parsed one by one so that a key of an unknown type is skipped (RFC 7517
		// §5) instead of failing the whole set.
		var k jose.JSONWebKey
		if k.UnmarshalJSON(rawKey) != nil {
			continue
		}
		// Private keys and keys of other types are skipped.
		switch pub := k.Key.(type) {
		case *rsa.PublicKey:
			if pub.N == nil || pub.N.BitLen() < verifierMinRSABits {
				continue
			}
		case *ecdsa.PublicKey:
			if pub.Curve != elliptic.P256() && pub.Curve != elliptic.P384() && pub.Curve != elliptic.P521() {
				continue
			}
		default:
			continue
		}
		if (k.Use != "" && k.Use != "sig") || (k.Algorithm != "" && !verifierAsymmetric(k.Algorithm)) {
			continue
		}
		keys = append(keys, keySetKey{kid: k.KeyID, alg: k.Algorithm, pub: k.Key})
		if len(keys) == verifierMaxKeys {
			break
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("no usable signing keys (RSA of 2048 bits or more, or ECDSA P-256/384/521, use sig)")
	}
	return keys, nil
}

// verifierAsymmetric reports whether alg is one of verifierAsymmetricAlgs.
func verifierAsymmetric(alg string) bool {
	for _, a := range verifierAsymmetricAlgs {
		if string(a) == alg {
			return true
		}
	}
	return false
}
