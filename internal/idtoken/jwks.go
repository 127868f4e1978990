package idtoken

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejson "github.com/go-jose/go-jose/v4/json"
	"golang.org/x/sync/singleflight"
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
	// maxJWKSBytes caps a JWKS or error response body.
	maxJWKSBytes = 1 << 20
	// maxKeys caps the number of usable keys kept from one JWKS.
	maxKeys = 64
	// MinRSABits is the smallest RSA modulus accepted from the JWKS.
	MinRSABits = 2048
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

	fetches singleflight.Group // one JWKS fetch at a time per cache state (keyed by gen)
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

// verify parses raw once (a JWS in compact form), checks its header (an accepted alg,
// no crit or b64) and its signature with a cached key (fetching the JWKS for an unknown
// kid), and returns the verified payload.
func (ks *keySet) verify(ctx context.Context, raw string) ([]byte, error) {
	if err := precheck(raw); err != nil {
		return nil, err
	}
	ks.mu.Lock()
	algs := ks.algs
	ks.mu.Unlock()
	if len(algs) == 0 {
		algs = []jose.SignatureAlgorithm{jose.RS256}
	}
	jws, err := parseJWS(raw, algs)
	if err != nil {
		return nil, err
	}
	kid := jws.kid
	payload, found, gen, err := ks.try(jws, kid, jws.alg)
	if found {
		return payload, err
	}
	if err := ks.refresh(ctx, gen); err != nil {
		return nil, err
	}
	payload, found, _, err = ks.try(jws, kid, jws.alg)
	if !found {
		return nil, errors.New("otlogin: id token signed by an unknown key")
	}
	return payload, err
}

// try verifies jws with the cached keys. found reports whether the result is final:
// a key with the token's kid exists (its verdict stands), or some kid-less candidate verified.
// gen identifies the cache state that was searched.
func (ks *keySet) try(jws *compactJWS, kid, alg string) (payload []byte, found bool, gen uint64, err error) {
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
			if jws.verify(pub) == nil {
				return jws.payload, true, gen, nil
			}
		}
		return nil, true, gen, errors.New("otlogin: id token signature invalid")
	}
	if mismatch {
		return nil, true, gen, errors.New("otlogin: id token alg does not match its key")
	}
	for _, pub := range fallback {
		if jws.verify(pub) == nil {
			return jws.payload, true, gen, nil
		}
	}
	return nil, false, gen, nil
}

// refresh fetches the JWKS, or joins a fetch in progress, unless the cache has changed
// since gen. Once keys are cached, a fetch caused by an unknown kid happens at most once per
// cooldown; before the first success every call may fetch (coalesced).
//
// Callers that searched the same cache state share one fetch (singleflight, keyed by gen),
// which runs detached from ctx's cancellation and is bounded by timeout; a caller that gives
// up gets ErrUnavailable while the fetch goes on for the others. A failed fetch leaves the
// cache as it was.
func (ks *keySet) refresh(ctx context.Context, gen uint64) error {
	ks.mu.Lock()
	changed := ks.gen != gen
	ks.mu.Unlock()
	if changed {
		return nil // another fetch updated the cache; look again
	}
	ch := ks.fetches.DoChan(strconv.FormatUint(gen, 10), func() (any, error) {
		return nil, ks.fetch(context.WithoutCancel(ctx), gen)
	})
	_, err := wait(ctx, ch, ks.timeout, "jwks fetch")
	return err
}

// fetch downloads the JWKS and caches its keys, unless the cache has changed since gen (a
// fetch that ended just before this one started) or, once keys are cached, an unknown-kid
// refetch happened less than cooldown ago.
func (ks *keySet) fetch(ctx context.Context, gen uint64) error {
	ks.mu.Lock()
	if ks.gen != gen {
		ks.mu.Unlock()
		return nil
	}
	if ks.loaded {
		now := ks.now()
		if since := now.Sub(ks.lastRefetch); !ks.lastRefetch.IsZero() && since >= 0 && since < ks.cooldown {
			ks.mu.Unlock()
			return errors.New("otlogin: id token signed by an unknown key (jwks refetch cooling down)")
		}
		ks.lastRefetch = now
	}
	jwksURL := ks.url
	ks.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, ks.timeout)
	defer cancel()
	keys, err := ks.download(ctx, jwksURL)
	if err != nil {
		return fmt.Errorf("otlogin: jwks fetch: %w: %w", ErrUnavailable, err)
	}
	ks.mu.Lock()
	ks.keys = keys
	ks.loaded = true
	ks.gen++
	ks.mu.Unlock()
	return nil
}

// refreshNow fetches the JWKS once, whatever the cache and the cooldown, and caches the keys
// on success (Auth.Check). It returns the URL it fetched.
func (ks *keySet) refreshNow(ctx context.Context) (string, error) {
	ks.mu.Lock()
	u := ks.url
	ks.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, ks.timeout)
	defer cancel()
	keys, err := ks.download(ctx, u)
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

// download fetches and parses the JWKS. It fails, leaving the cache untouched, unless
// the answer is a 200 with at least one usable key.
func (ks *keySet) download(ctx context.Context, jwksURL string) ([]keySetKey, error) {
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
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	if len(body) > maxJWKSBytes {
		return nil, errors.New("response too large")
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, errors.New("response is not a JWK set")
	}
	keys := make([]keySetKey, 0, min(len(set.Keys), maxKeys))
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
			if pub.N == nil || pub.N.BitLen() < MinRSABits {
				continue
			}
		case *ecdsa.PublicKey:
			if pub.Curve != elliptic.P256() && pub.Curve != elliptic.P384() && pub.Curve != elliptic.P521() {
				continue
			}
		default:
			continue
		}
		if (k.Use != "" && k.Use != "sig") || (k.Algorithm != "" && !asymmetric(k.Algorithm)) {
			continue
		}
		keys = append(keys, keySetKey{kid: k.KeyID, alg: k.Algorithm, pub: k.Key})
		if len(keys) == maxKeys {
			break
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("no usable signing keys (RSA of 2048 bits or more, or ECDSA P-256/384/521, use sig)")
	}
	return keys, nil
}

// asymmetric reports whether alg is one of asymmetricAlgs.
func asymmetric(alg string) bool {
	for _, a := range asymmetricAlgs {
		if string(a) == alg {
			return true
		}
	}
	return false
}

// compactJWS is a JWS in compact serialization, parsed once by parseJWS.
type compactJWS struct {
	alg, kid     string
	signingInput string // the token's "header.payload", what the signature covers
	payload      []byte
	sig          []byte
}

// jwsHeader is the part of a JWS header read here. go-jose's JSON package matches keys
// case-sensitively, as JOSE requires (encoding/json would take "ALG" for "alg").
type jwsHeader struct {
	Alg  string              `json:"alg"`
	Kid  string              `json:"kid"`
	Crit josejson.RawMessage `json:"crit"`
	B64  josejson.RawMessage `json:"b64"`
}

// parseJWS splits raw into its three base64url parts, decodes them and reads the header:
// its alg must be one of algs, and it must not carry crit or b64. go-jose honours
// crit:["b64"] with b64:false (RFC 7797), which changes what the signature covers; an ID
// token has no use for critical extensions (RFC 7515 4.1.11). Key headers (jku, x5u, jwk,
// x5c) are not read: keys come from the JWKS only.
func parseJWS(raw string, algs []jose.SignatureAlgorithm) (*compactJWS, error) {
	bad := errors.New("otlogin: malformed id token or algorithm not accepted")
	header, rest, ok := strings.Cut(raw, ".")
	payload, sig, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 || strings.Contains(sig, ".") {
		return nil, bad
	}
	hb, err := base64.RawURLEncoding.DecodeString(header)
	if err != nil {
		return nil, bad
	}
	var h jwsHeader
	if err := josejson.Unmarshal(hb, &h); err != nil {
		return nil, bad
	}
	if !slices.Contains(algs, jose.SignatureAlgorithm(h.Alg)) {
		return nil, bad
	}
	if len(h.Crit) > 0 {
		return nil, errors.New(`otlogin: id token header carries "crit", which is refused`)
	}
	if len(h.B64) > 0 {
		return nil, errors.New(`otlogin: id token header carries "b64", which is refused`)
	}
	j := &compactJWS{alg: h.Alg, kid: h.Kid, signingInput: raw[:len(header)+1+len(payload)]}
	if j.payload, err = base64.RawURLEncoding.DecodeString(payload); err != nil {
		return nil, bad
	}
	if j.sig, err = base64.RawURLEncoding.DecodeString(sig); err != nil {
		return nil, bad
	}
	return j, nil
}

// verify checks j's signature with pub, for j's alg (which keySetKey.fits matched to pub).
func (j *compactJWS) verify(pub crypto.PublicKey) error {
	var hash crypto.Hash
	switch j.alg[2:] {
	case "256":
		hash = crypto.SHA256
	case "384":
		hash = crypto.SHA384
	case "512":
		hash = crypto.SHA512
	default:
		return errors.New("otlogin: unsupported id token alg")
	}
	h := hash.New()
	h.Write([]byte(j.signingInput))
	var buf [64]byte
	digest := h.Sum(buf[:0])
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		switch j.alg[:2] {
		case "RS":
			return rsa.VerifyPKCS1v15(pub, hash, digest, j.sig)
		case "PS":
			return rsa.VerifyPSS(pub, hash, digest, j.sig, nil)
		}
	case *ecdsa.PublicKey:
		size := (pub.Curve.Params().BitSize + 7) / 8
		if j.alg[:2] != "ES" || len(j.sig) != 2*size {
			return errors.New("otlogin: id token signature invalid")
		}
		r := new(big.Int).SetBytes(j.sig[:size])
		s := new(big.Int).SetBytes(j.sig[size:])
		if !ecdsa.Verify(pub, digest, r, s) {
			return errors.New("otlogin: id token signature invalid")
		}
		return nil
	}
	return errors.New("otlogin: id token alg does not match its key")
}

// RefreshKeys fetches the key set once, whatever the cache and the cooldown, and caches the
// keys on success (a start-up check). It returns the URL it fetched; call Ready first so
// that URL is known.
func (v *Verifier) RefreshKeys(ctx context.Context) (jwksURL string, err error) {
	return v.keys.refreshNow(ctx)
}

// Payload decrypts rawIDToken if it is a JWE and checks its signature with the key set, and
// returns the signed payload without checking any claim: for diagnosing a token that
// Verify refused (is it Mosaic's, with the wrong issuer or audience?), never for signing in.
func (v *Verifier) Payload(ctx context.Context, rawIDToken string) ([]byte, error) {
	raw, err := v.decrypt(rawIDToken)
	if err != nil {
		return nil, err
	}
	return v.keys.verify(ctx, raw)
}
