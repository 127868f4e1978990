package otlogin

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
)

// ID-token verification.
//
// go-oidc's IDTokenVerifier checks the signature algorithm (RS256 only), the issuer (exactly) and
// the audience. Time claims are checked here instead, because go-oidc has no leeway on exp and a
// fixed 5-minute leeway on nbf: the go-oidc config sets SkipExpiryCheck (which skips both its exp
// and nbf checks) and verifierCheckTimes applies the configured Leeway to exp, nbf and iat
// against Now. The alternative, shifting go-oidc's Now back by the leeway, would widen exp but
// also add that shift to go-oidc's own 5-minute nbf leeway, so it was not chosen.
//
// Keys come only from the JWKS URL named by discovery, through keySet, never from jku, x5u,
// jwk or x5c token headers (those headers are ignored). A cached kid keeps verifying until a
// later successful JWKS fetch no longer lists it; a fetch only happens on the first verification
// or when a token names a kid that is not cached (at most once per Cooldown).

const (
	verifierDefaultTimeout  = 5 * time.Second
	verifierDefaultLeeway   = time.Minute
	verifierDefaultCooldown = 30 * time.Second

	// verifierMaxTokenBytes caps the size of a token before any parsing (CVE-2025-27144 style
	// DoS). Mosaic ID tokens are a few KiB at most.
	verifierMaxTokenBytes = 16 << 10
	// verifierMaxJWKSBytes caps a JWKS or error response body.
	verifierMaxJWKSBytes = 1 << 20
	// verifierMaxKeys caps the number of usable keys kept from one JWKS.
	verifierMaxKeys = 64
	// verifierMinRSABits is the smallest RSA modulus accepted from the JWKS.
	verifierMinRSABits = 2048
	// verifierMaxNumericDate is 9999-12-31T23:59:59Z; larger exp/nbf/iat values are rejected.
	verifierMaxNumericDate = 253402300799
)

// errVerifierUnavailable reports that the signing keys or the discovery document could not be
// fetched (IdP or network trouble), as opposed to a token that is invalid. Callers may answer
// 503 instead of 401 for it.
var errVerifierUnavailable = errors.New("otlogin: token verification keys unavailable")

// verifierConfig configures newVerifier.
type verifierConfig struct {
	// ClientID is required; tokens must list it in aud.
	ClientID string
	// Issuer overrides the issuer taken from discovery. Default: "" (use discovery's).
	Issuer string
	// Discover returns the issuer and the JWKS URL. It is called lazily, on the first verify,
	// and again after a failure.
	Discover func(ctx context.Context) (issuer, jwksURL string, err error)
	// HTTPClient is used for JWKS fetches. Default: a client with Timeout.
	HTTPClient *http.Client
	// Timeout bounds each discovery and JWKS fetch. Default: 5s.
	Timeout time.Duration
	// Leeway is the clock skew allowed on exp, nbf and iat. Default: 1m.
	Leeway time.Duration
	// Cooldown is the minimum time between JWKS refetches caused by unknown kids. Default: 30s.
	Cooldown time.Duration
	// Now is the clock. Default: time.Now.
	Now func() time.Time
}

// idTokenClaims are the verified claims of an ID token.
type idTokenClaims struct {
	Subject             string
	Email               string
	PhoneNumber         string
	EmailVerified       bool
	PhoneNumberVerified bool
	AMR                 []string
	AuthTime            time.Time
	IssuedAt            time.Time
	Expiry              time.Time
	Issuer              string
	Audience            []string
	Raw                 json.RawMessage
}

// verifier verifies Mosaic ID tokens. It is safe for concurrent use.
type verifier struct {
	cfg  verifierConfig
	keys *keySet

	mu       sync.Mutex
	idv      *oidc.IDTokenVerifier // nil until discovery succeeds
	inflight *verifierFlight       // discovery in progress
}

// verifierFlight is one shared fetch. Waiters read err after done is closed.
type verifierFlight struct {
	done chan struct{}
	err  error
}

// newVerifier applies defaults. It does no network I/O and starts no goroutine.
func newVerifier(c verifierConfig) *verifier {
	if c.Timeout <= 0 {
		c.Timeout = verifierDefaultTimeout
	}
	if c.Leeway <= 0 {
		c.Leeway = verifierDefaultLeeway
	}
	if c.Cooldown <= 0 {
		c.Cooldown = verifierDefaultCooldown
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: c.Timeout}
	}
	return &verifier{
		cfg: c,
		keys: &keySet{
			client:   c.HTTPClient,
			timeout:  c.Timeout,
			cooldown: c.Cooldown,
			now:      c.Now,
		},
	}
}

// verifierErrSlotKey carries a *error through go-oidc (which flattens errors with %v) so that
// the key set's error, and errVerifierUnavailable, reach the caller intact.
type verifierErrSlotKey struct{}

// verify checks rawIDToken and returns its claims. Errors start with "otlogin:" and never
// contain the token.
func (v *verifier) verify(ctx context.Context, rawIDToken string) (*idTokenClaims, error) {
	if err := idTokenPrecheck(rawIDToken); err != nil {
		return nil, err
	}
	if v.cfg.ClientID == "" {
		return nil, errors.New("otlogin: id token verifier: no client id configured")
	}
	idv, err := v.ready(ctx)
	if err != nil {
		return nil, err
	}
	slot := new(error)
	tok, err := idv.Verify(context.WithValue(ctx, verifierErrSlotKey{}, slot), rawIDToken)
	if err != nil {
		if *slot != nil {
			return nil, *slot
		}
		return nil, fmt.Errorf("otlogin: id token rejected: %w", err)
	}
	var w idTokenWire
	if err := tok.Claims(&w); err != nil {
		return nil, fmt.Errorf("otlogin: id token claims: %w", err)
	}
	if w.Subject == "" {
		return nil, errors.New("otlogin: id token has no sub claim")
	}
	if w.AuthorizedParty != "" && w.AuthorizedParty != v.cfg.ClientID {
		return nil, errors.New("otlogin: id token azp is not this client")
	}
	if err := v.verifierCheckTimes(&w); err != nil {
		return nil, err
	}
	c := &idTokenClaims{
		Subject:             w.Subject,
		Email:               w.Email,
		PhoneNumber:         w.PhoneNumber,
		EmailVerified:       bool(w.EmailVerified),
		PhoneNumberVerified: bool(w.PhoneNumberVerified),
		AMR:                 []string(w.AMR),
		AuthTime:            w.AuthTime.time(),
		IssuedAt:            w.IssuedAt.time(),
		Expiry:              w.Expiry.time(),
		Issuer:              tok.Issuer,
		Audience:            tok.Audience,
	}
	if err := tok.Claims(&c.Raw); err != nil {
		return nil, fmt.Errorf("otlogin: id token claims: %w", err)
	}
	return c, nil
}

// verifierCheckTimes applies Leeway to exp (required), nbf and iat (optional).
func (v *verifier) verifierCheckTimes(w *idTokenWire) error {
	now, leeway := v.cfg.Now(), v.cfg.Leeway
	if w.Expiry == nil {
		return errors.New("otlogin: id token has no exp claim")
	}
	if now.After(w.Expiry.time().Add(leeway)) {
		return errors.New("otlogin: id token expired")
	}
	if w.NotBefore != nil && now.Add(leeway).Before(w.NotBefore.time()) {
		return errors.New("otlogin: id token not valid yet (nbf)")
	}
	if w.IssuedAt != nil && now.Add(leeway).Before(w.IssuedAt.time()) {
		return errors.New("otlogin: id token issued in the future (iat)")
	}
	return nil
}

// ready returns the go-oidc verifier, running discovery once it is needed. The discovery runs
// detached from ctx's cancellation (its result is shared and cached) and is bounded by
// Timeout; a failed discovery is not cached, the next call tries again.
func (v *verifier) ready(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	v.mu.Lock()
	if v.idv != nil {
		idv := v.idv
		v.mu.Unlock()
		return idv, nil
	}
	if v.cfg.Discover == nil {
		v.mu.Unlock()
		return nil, errors.New("otlogin: id token verifier: no discovery configured")
	}
	f := v.inflight
	if f == nil {
		f = &verifierFlight{done: make(chan struct{})}
		v.inflight = f
		go v.verifierDiscover(context.WithoutCancel(ctx), f)
	}
	v.mu.Unlock()
	if err := verifierWait(ctx, f, v.cfg.Timeout, "discovery"); err != nil {
		return nil, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.idv == nil {
		return nil, fmt.Errorf("otlogin: oidc discovery: %w", errVerifierUnavailable)
	}
	return v.idv, nil
}

func (v *verifier) verifierDiscover(ctx context.Context, f *verifierFlight) {
	ctx, cancel := context.WithTimeout(ctx, v.cfg.Timeout)
	defer cancel()
	issuer, jwksURL, err := v.cfg.Discover(ctx)
	if err != nil {
		err = fmt.Errorf("otlogin: oidc discovery: %w: %w", errVerifierUnavailable, err)
	} else {
		if v.cfg.Issuer != "" {
			issuer = v.cfg.Issuer
		}
		err = verifierCheckEndpoints(issuer, jwksURL)
	}
	v.mu.Lock()
	if err == nil {
		v.keys.setURL(jwksURL)
		v.idv = oidc.NewVerifier(issuer, v.keys, &oidc.Config{
			ClientID:             v.cfg.ClientID,
			SupportedSigningAlgs: []string{oidc.RS256},
			// exp and nbf are checked by verifierCheckTimes with the configured leeway.
			SkipExpiryCheck: true,
			Now:             v.cfg.Now,
		})
	}
	v.inflight = nil
	f.err = err
	v.mu.Unlock()
	close(f.done)
}

func verifierCheckEndpoints(issuer, jwksURL string) error {
	if issuer == "" {
		return fmt.Errorf("otlogin: oidc discovery: empty issuer: %w", errVerifierUnavailable)
	}
	u, err := url.Parse(jwksURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("otlogin: oidc discovery: invalid jwks_uri: %w", errVerifierUnavailable)
	}
	return nil
}

// verifierWait waits for f, for at most timeout, or until ctx is done.
func verifierWait(ctx context.Context, f *verifierFlight, timeout time.Duration, what string) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		return fmt.Errorf("otlogin: %s: %w", what, context.Cause(ctx))
	case <-t.C:
		return fmt.Errorf("otlogin: %s: timed out: %w", what, errVerifierUnavailable)
	}
}

// idTokenPrecheck rejects tokens that are too large or not three dot-separated parts before
// any parsing.
func idTokenPrecheck(raw string) error {
	if raw == "" {
		return errors.New("otlogin: empty id token")
	}
	if len(raw) > verifierMaxTokenBytes {
		return errors.New("otlogin: id token too large")
	}
	if strings.Count(raw, ".") != 2 {
		return errors.New("otlogin: id token is not a compact JWS")
	}
	return nil
}

// keySet is an oidc.KeySet backed by a JWKS URL, with a guarded in-memory cache.
type keySet struct {
	client   *http.Client
	timeout  time.Duration
	cooldown time.Duration
	now      func() time.Time

	mu          sync.Mutex
	url         string
	keys        []keySetKey
	loaded      bool      // a fetch has succeeded
	gen         uint64    // bumped on every successful fetch
	lastRefetch time.Time // last fetch caused by an unknown kid
	inflight    *verifierFlight
}

type keySetKey struct {
	kid string
	pub *rsa.PublicKey
}

func (ks *keySet) setURL(u string) {
	ks.mu.Lock()
	ks.url = u
	ks.mu.Unlock()
}

// VerifySignature implements oidc.KeySet.
func (ks *keySet) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	payload, err := ks.keySetVerify(ctx, raw)
	if err != nil {
		if slot, ok := ctx.Value(verifierErrSlotKey{}).(*error); ok && slot != nil {
			*slot = err
		}
	}
	return payload, err
}

func (ks *keySet) keySetVerify(ctx context.Context, raw string) ([]byte, error) {
	if err := idTokenPrecheck(raw); err != nil {
		return nil, err
	}
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return nil, fmt.Errorf("otlogin: malformed id token: %w", err)
	}
	if len(jws.Signatures) != 1 || jws.Signatures[0].Header.Algorithm != string(jose.RS256) {
		return nil, errors.New("otlogin: id token must have one RS256 signature")
	}
	kid := jws.Signatures[0].Header.KeyID
	payload, found, gen, err := ks.keySetTry(jws, kid)
	if found {
		return payload, err
	}
	if err := ks.keySetRefresh(ctx, gen); err != nil {
		return nil, err
	}
	payload, found, _, err = ks.keySetTry(jws, kid)
	if !found {
		return nil, errors.New("otlogin: id token signed by an unknown key")
	}
	return payload, err
}

// keySetTry verifies jws with the cached keys. found reports whether the result is final:
// a key with the token's kid exists (its verdict stands), or some kid-less candidate verified.
// gen identifies the cache state that was searched.
func (ks *keySet) keySetTry(jws *jose.JSONWebSignature, kid string) (payload []byte, found bool, gen uint64, err error) {
	ks.mu.Lock()
	keys, gen := ks.keys, ks.gen
	ks.mu.Unlock()
	var exact, fallback []*rsa.PublicKey
	for _, k := range keys {
		switch {
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
		pub, ok := k.Key.(*rsa.PublicKey) // private keys and non-RSA keys are skipped
		if !ok || pub.N == nil || pub.N.BitLen() < verifierMinRSABits {
			continue
		}
		if (k.Use != "" && k.Use != "sig") || (k.Algorithm != "" && k.Algorithm != string(jose.RS256)) {
			continue
		}
		keys = append(keys, keySetKey{kid: k.KeyID, pub: pub})
		if len(keys) == verifierMaxKeys {
			break
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("no usable RS256 signing keys")
	}
	return keys, nil
}

// idTokenWire is the JSON shape of the claims read here.
type idTokenWire struct {
	Subject             string         `json:"sub"`
	AuthorizedParty     string         `json:"azp"`
	Email               string         `json:"email"`
	EmailVerified       idTokenBool    `json:"email_verified"`
	PhoneNumber         string         `json:"phone_number"`
	PhoneNumberVerified idTokenBool    `json:"phone_number_verified"`
	AMR                 idTokenStrings `json:"amr"`
	AuthTime            *idTokenTime   `json:"auth_time"`
	IssuedAt            *idTokenTime   `json:"iat"`
	Expiry              *idTokenTime   `json:"exp"`
	NotBefore           *idTokenTime   `json:"nbf"`
}

// idTokenTime is a NumericDate (seconds since the epoch, integer or fraction).
type idTokenTime time.Time

func (t *idTokenTime) UnmarshalJSON(b []byte) error {
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return errors.New("numeric date is not a number")
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || f < 0 || f > verifierMaxNumericDate {
		return errors.New("numeric date out of range")
	}
	sec, frac := math.Modf(f)
	*t = idTokenTime(time.Unix(int64(sec), int64(frac*1e9)).UTC())
	return nil
}

// time returns the zero time for a nil t.
func (t *idTokenTime) time() time.Time {
	if t == nil {
		return time.Time{}
	}
	return time.Time(*t)
}

// idTokenBool accepts true/false and, as some IdPs send, "true"/"false".
type idTokenBool bool

func (b *idTokenBool) UnmarshalJSON(data []byte) error {
	switch string(data) {
	case "true", `"true"`:
		*b = true
	case "false", `"false"`, "null":
		*b = false
	default:
		return errors.New("boolean claim is not a boolean")
	}
	return nil
}

// idTokenStrings accepts a JSON array of strings or a single string.
type idTokenStrings []string

func (s *idTokenStrings) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		*s = nil
		return nil
	}
	var one string
	if json.Unmarshal(data, &one) == nil {
		*s = idTokenStrings{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(data, &many); err != nil {
		return errors.New("claim is not a string or an array of strings")
	}
	*s = many
	return nil
}
