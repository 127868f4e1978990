// Package idtoken verifies Mosaic's ID tokens (OpenID Connect) for otlogin's sign-in.
//
// A token is accepted only after these steps, in order:
//   - size and shape (precheck); an encrypted token (JWE, five parts) is decrypted first
//     with the configured key and must hold a signed token (JWS); a JWE is required when a key
//     is configured and refused when none is;
//   - the JWS header: its alg is one of the discovery document's
//     id_token_signing_alg_values_supported that are asymmetric (RS*, PS*, ES*; never HS* or
//     none; RS256 when discovery lists none), and it has no crit header (RFC 7515 4.1.11:
//     b64:false would change what the signature covers);
//   - the signature, with a key of the JWKS (jwks.go);
//   - here, on the payload decoded once: the issuer (exactly, as discovery names it) and the
//     audience (it lists the client id); no distributed claim without its source; sub present; NumericDates are JSON numbers (a numeric string is refused); several
//     audiences need an azp equal to the client id, and any azp must be the client id (OIDC
//     Core 3.1.3.7); tid equals TenantID when that is set; exp, nbf and iat with leeway.
//
// Time claims are checked with the configured Leeway on exp, nbf and iat against Now
// (checkTimes). Verification parses the token once and decodes its claims once: the
// key set hands back the verified payload, and no generic OIDC library re-parses it (that
// made verification 2.8x a raw RSA verify).
//
// Keys come only from the JWKS URL named by discovery, through keySet (jwks.go).
package idtoken

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/sync/singleflight"
)

const (
	defaultTimeout = 5 * time.Second
	// DefaultLeeway is the clock skew allowed on exp, nbf and iat when Config.Leeway is zero
	// (otlogin's Config.Leeway has the same default).
	DefaultLeeway = time.Minute
	// DefaultCooldown is the minimum time between JWKS refetches caused by unknown key ids
	// when Config.Cooldown is zero (otlogin's Config.JWKSCooldown has the same default).
	DefaultCooldown = 30 * time.Second

	// maxTokenBytes caps the size of a token before any parsing (CVE-2025-27144 style
	// DoS). Mosaic ID tokens are a few KiB at most.
	maxTokenBytes = 16 << 10
	// maxNumericDate is 9999-12-31T23:59:59Z; larger exp/nbf/iat values are rejected.
	maxNumericDate = 253402300799
)

// ErrUnavailable reports that the signing keys or the discovery document could not be
// fetched (IdP or network trouble), as opposed to a token that is invalid. Callers may answer
// 503 instead of 401 for it.
var ErrUnavailable = errors.New("otlogin: token verification keys unavailable")

// Config configures New.
type Config struct {
	// ClientID is required; tokens must list it in aud.
	ClientID string
	// Issuer overrides the issuer taken from discovery. Default: "" (use discovery's).
	Issuer string
	// Discover returns the issuer, the JWKS URL and the signing algorithms. It is the
	// verifier's only source of discovery, and it is called lazily (on the first verify or
	// Ready), one call at a time, and again only after a failure: the verifier keeps the
	// derived issuer, JWKS URL and algorithms, not the document, which stays cached by the
	// caller's Discover (otlogin's is transmit.Client.Discover).
	Discover func(ctx context.Context) (Discovery, error)
	// HTTPClient is used for JWKS fetches; redirects are never followed (a copy is used).
	// Default: a client with Timeout.
	HTTPClient *http.Client
	// Timeout bounds each discovery and JWKS fetch. Default: 5s.
	Timeout time.Duration
	// Leeway is the clock skew allowed on exp, nbf and iat. Default: 1m.
	Leeway time.Duration
	// Cooldown is the minimum time between JWKS refetches caused by unknown kids. Default: 30s.
	Cooldown time.Duration
	// JWKSURL overrides the jwks_uri taken from discovery (app-specific signing keys). Default:
	// "" (use discovery's).
	JWKSURL string
	// TenantID, when set, must equal the tid claim. Default: "" (not checked).
	TenantID string
	// DecryptionKey, when set (*rsa.PrivateKey or *ecdsa.PrivateKey), decrypts encrypted ID
	// tokens, which are then required. Default: nil (a JWE is refused).
	DecryptionKey any
	// Now is the clock. Default: time.Now.
	Now func() time.Time
}

// Discovery is what verification reads from the discovery document.
type Discovery struct {
	Issuer  string
	JWKSURL string
	// Algorithms is id_token_signing_alg_values_supported as published.
	Algorithms []string
}

// asymmetricAlgs are the ID-token signature algorithms otlogin can accept, in order of
// preference; the discovery document picks among them.
var asymmetricAlgs = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512, jose.ES256, jose.ES384, jose.ES512,
}

// Algorithms returns the algorithms of published that otlogin accepts. An empty list means
// RS256, which OpenID Connect Discovery requires every provider to support.
func Algorithms(published []string) ([]jose.SignatureAlgorithm, error) {
	if len(published) == 0 {
		return []jose.SignatureAlgorithm{jose.RS256}, nil
	}
	var out []jose.SignatureAlgorithm
	for _, a := range asymmetricAlgs {
		for _, p := range published {
			if p == string(a) {
				out = append(out, a)
				break
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("otlogin: oidc discovery lists no asymmetric ID-token signing algorithm (id_token_signing_alg_values_supported %q; otlogin accepts RS256, PS256, ES256 and their 384/512 variants): %w",
			published, ErrUnavailable)
	}
	return out, nil
}

// Claims are the verified claims of an ID token.
type Claims struct {
	Subject             string
	Email               string
	PhoneNumber         string
	EmailVerified       bool
	PhoneNumberVerified bool
	AMR                 []string
	TenantID            string
	AuthTime            time.Time
	IssuedAt            time.Time
	Expiry              time.Time
	Issuer              string
	Audience            []string
	Raw                 json.RawMessage
}

// Verifier verifies Mosaic ID tokens. It is safe for concurrent use.
//
// It holds no copy of the discovery document: it reads discovery only through
// Config.Discover (otlogin wires that to transmit.Client.Discover, which caches the first
// document it fetches successfully: the one cache of it), and after its own first success
// keeps only what it derived: the issuer tokens must name, and, in its key set, the JWKS URL
// and the accepted algorithms. The key set also caches the JWKS's keys (jwks.go).
type Verifier struct {
	cfg  Config
	keys *keySet

	discovery singleflight.Group // one Config.Discover call at a time

	mu     sync.Mutex
	issuer string // the issuer tokens must name; "" until discovery succeeds
}

// New applies defaults. It does no network I/O and starts no goroutine.
func New(c Config) *Verifier {
	if c.Timeout <= 0 {
		c.Timeout = defaultTimeout
	}
	if c.Leeway <= 0 {
		c.Leeway = DefaultLeeway
	}
	if c.Cooldown <= 0 {
		c.Cooldown = DefaultCooldown
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: c.Timeout}
	}
	// Keys come from the URL discovery named, never from wherever it redirects: a copy of the
	// client (so the caller's is unchanged) that does not follow redirects.
	noRedirects := *c.HTTPClient
	noRedirects.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.HTTPClient = &noRedirects
	return &Verifier{
		cfg: c,
		keys: &keySet{
			client:   c.HTTPClient,
			timeout:  c.Timeout,
			cooldown: c.Cooldown,
			now:      c.Now,
		},
	}
}

// verify checks rawIDToken and returns its claims. Errors start with "otlogin:" and never
// contain the token.
func (v *Verifier) Verify(ctx context.Context, rawIDToken string) (*Claims, error) {
	if err := precheck(rawIDToken); err != nil {
		return nil, err
	}
	rawIDToken, err := v.decrypt(rawIDToken)
	if err != nil {
		return nil, err
	}
	if v.cfg.ClientID == "" {
		return nil, errors.New("otlogin: id token verifier: no client id configured")
	}
	issuer, err := v.Ready(ctx)
	if err != nil {
		return nil, err
	}
	// One parse of the JWS and one of the claims: the key set checks the header and the
	// signature and returns the payload, decoded here once.
	payload, err := v.keys.verify(ctx, rawIDToken)
	if err != nil {
		return nil, err
	}
	var w claimsWire
	if err := json.Unmarshal(payload, &w); err != nil {
		return nil, fmt.Errorf("otlogin: id token claims: %w", err)
	}
	if w.Issuer != issuer {
		return nil, errors.New("otlogin: id token rejected: issued by another issuer")
	}
	if !slices.Contains(w.Audience, v.cfg.ClientID) {
		return nil, errors.New("otlogin: id token rejected: audience is not this client")
	}
	for _, src := range w.ClaimNames {
		if _, ok := w.ClaimSources[src]; src == "" || !ok {
			return nil, errors.New("otlogin: id token rejected: a distributed claim names no source")
		}
	}
	if w.Subject == "" {
		return nil, errors.New("otlogin: id token has no sub claim")
	}
	if w.AuthorizedParty != "" && w.AuthorizedParty != v.cfg.ClientID {
		return nil, errors.New("otlogin: id token azp is not this client")
	}
	if len(w.Audience) > 1 && w.AuthorizedParty == "" {
		return nil, errors.New("otlogin: id token has several audiences and no azp naming this client")
	}
	if v.cfg.TenantID != "" && w.TenantID != v.cfg.TenantID {
		return nil, errors.New("otlogin: id token tid is not the configured tenant")
	}
	if err := v.checkTimes(&w); err != nil {
		return nil, err
	}
	c := &Claims{
		Subject:             w.Subject,
		Email:               w.Email,
		PhoneNumber:         w.PhoneNumber,
		EmailVerified:       bool(w.EmailVerified),
		PhoneNumberVerified: bool(w.PhoneNumberVerified),
		AMR:                 []string(w.AMR),
		TenantID:            w.TenantID,
		AuthTime:            w.AuthTime.time(),
		IssuedAt:            w.IssuedAt.time(),
		Expiry:              w.Expiry.time(),
		Issuer:              w.Issuer,
		Audience:            []string(w.Audience),
		Raw:                 payload, // the key set's own copy
	}
	return c, nil
}

// checkTimes applies Leeway to exp (required), nbf and iat (optional).
func (v *Verifier) checkTimes(w *claimsWire) error {
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

// Ready returns the issuer tokens must name, calling Config.Discover until a call succeeds.
// After that it answers from the issuer it kept and Discover is not called again; the
// document itself is cached by whatever Discover reads (in otlogin, transmit's client), not
// here. Concurrent callers share one Discover call (singleflight), which runs detached from
// ctx's cancellation and is bounded by Timeout; a caller whose ctx ends first, or that has
// waited Timeout, gets ErrUnavailable while the call goes on for the others. A failed
// discovery is not kept: the next call tries again.
func (v *Verifier) Ready(ctx context.Context) (string, error) {
	if issuer := v.readyIssuer(); issuer != "" {
		return issuer, nil
	}
	if v.cfg.Discover == nil {
		return "", errors.New("otlogin: id token verifier: no discovery configured")
	}
	ch := v.discovery.DoChan("discovery", func() (any, error) {
		// A caller that found no issuer may arrive just after a discovery succeeded.
		if issuer := v.readyIssuer(); issuer != "" {
			return issuer, nil
		}
		return v.discover(context.WithoutCancel(ctx))
	})
	val, err := wait(ctx, ch, v.cfg.Timeout, "discovery")
	if err != nil {
		return "", err
	}
	issuer, _ := val.(string)
	return issuer, nil
}

// readyIssuer returns the issuer kept from discovery, "" before the first success.
func (v *Verifier) readyIssuer() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.issuer
}

// discover calls Config.Discover under Timeout, checks what it returns and, on success,
// keeps the issuer and hands the JWKS URL and the accepted algorithms to the key set.
func (v *Verifier) discover(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, v.cfg.Timeout)
	defer cancel()
	d, err := v.cfg.Discover(ctx)
	if err != nil {
		return "", fmt.Errorf("otlogin: oidc discovery: %w: %w", ErrUnavailable, err)
	}
	if v.cfg.Issuer != "" {
		d.Issuer = v.cfg.Issuer
	}
	if v.cfg.JWKSURL != "" {
		d.JWKSURL = v.cfg.JWKSURL
	}
	if err := checkEndpoints(d.Issuer, d.JWKSURL); err != nil {
		return "", err
	}
	algs, err := Algorithms(d.Algorithms)
	if err != nil {
		return "", err
	}
	// The key set learns its source before the issuer is published: a caller that sees
	// the issuer finds the key set ready.
	v.keys.setSource(d.JWKSURL, algs)
	v.mu.Lock()
	v.issuer = d.Issuer // checkEndpoints refuses an empty one
	v.mu.Unlock()
	return d.Issuer, nil
}

func checkEndpoints(issuer, jwksURL string) error {
	if issuer == "" {
		return fmt.Errorf("otlogin: oidc discovery: empty issuer: %w", ErrUnavailable)
	}
	u, err := url.Parse(jwksURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("otlogin: oidc discovery: invalid jwks_uri: %w", ErrUnavailable)
	}
	return nil
}

// wait waits for the result of a shared fetch (singleflight.Group.DoChan), for at most
// timeout, or until ctx is done. Giving up (timeout or ctx) wraps ErrUnavailable and leaves
// the fetch running for the callers still waiting.
func wait(ctx context.Context, ch <-chan singleflight.Result, timeout time.Duration, what string) (any, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case res := <-ch:
		return res.Val, res.Err
	case <-ctx.Done():
		// The keys are not known to be bad, only not fetched yet: callers answer 503, not
		// "invalid token".
		return nil, fmt.Errorf("otlogin: %s: %w: %w", what, ErrUnavailable, context.Cause(ctx))
	case <-t.C:
		return nil, fmt.Errorf("otlogin: %s: timed out: %w", what, ErrUnavailable)
	}
}

// precheck rejects tokens that are too large or not three (JWS) or five (JWE)
// dot-separated parts before any parsing.
func precheck(raw string) error {
	if raw == "" {
		return errors.New("otlogin: empty id token")
	}
	if len(raw) > maxTokenBytes {
		return errors.New("otlogin: id token too large")
	}
	if n := strings.Count(raw, "."); n != 2 && n != 4 {
		return errors.New("otlogin: id token is not a compact JWS or JWE")
	}
	return nil
}

// keyAlgs and contentAlgs are the JWE algorithms decrypt accepts: RSA-OAEP
// and ECDH-ES key management (not RSA1_5, open to padding oracles) and authenticated
// content encryption.
var (
	keyAlgs = []jose.KeyAlgorithm{
		jose.RSA_OAEP, jose.RSA_OAEP_256, jose.ECDH_ES, jose.ECDH_ES_A128KW, jose.ECDH_ES_A192KW, jose.ECDH_ES_A256KW,
	}
	contentAlgs = []jose.ContentEncryption{
		jose.A128GCM, jose.A192GCM, jose.A256GCM, jose.A128CBC_HS256, jose.A192CBC_HS384, jose.A256CBC_HS512,
	}
)

// decrypt returns the signed token inside raw. Without a DecryptionKey raw must be a JWS;
// with one it must be a JWE (an app that registered an encryption key gets encrypted tokens
// only), without compression, holding a compact JWS. The result is checked like raw would be.
func (v *Verifier) decrypt(raw string) (string, error) {
	isJWE := strings.Count(raw, ".") == 4
	switch {
	case v.cfg.DecryptionKey == nil && isJWE:
		// A configuration fault, not a bad code: answered as unavailable, and logged.
		return "", fmt.Errorf("otlogin: id token is encrypted (JWE) but Config.IDTokenDecryptionKey is not set: %w", ErrUnavailable)
	case v.cfg.DecryptionKey == nil:
		return raw, nil
	case !isJWE:
		return "", fmt.Errorf("otlogin: id token is not encrypted, but Config.IDTokenDecryptionKey is set (encrypted tokens are then required): %w", ErrUnavailable)
	}
	jwe, err := jose.ParseEncryptedCompact(raw, keyAlgs, contentAlgs)
	if err != nil {
		return "", fmt.Errorf("otlogin: malformed encrypted id token: %w", err)
	}
	if _, ok := jwe.Header.ExtraHeaders["zip"]; ok {
		return "", errors.New("otlogin: encrypted id token is compressed (zip), which is refused")
	}
	inner, err := jwe.Decrypt(v.cfg.DecryptionKey)
	if err != nil {
		return "", errors.New("otlogin: encrypted id token could not be decrypted with IDTokenDecryptionKey")
	}
	s := string(inner)
	if err := precheck(s); err != nil {
		return "", err
	}
	if strings.Count(s, ".") != 2 {
		return "", errors.New("otlogin: encrypted id token does not hold a signed token (nested JWS)")
	}
	return s, nil
}

// claimsWire is the JSON shape of the claims read here.
type claimsWire struct {
	Issuer              string            `json:"iss"`
	Audience            claimStrings      `json:"aud"`
	ClaimNames          map[string]string `json:"_claim_names"`
	ClaimSources        map[string]any    `json:"_claim_sources"`
	Subject             string            `json:"sub"`
	AuthorizedParty     string            `json:"azp"`
	Email               string            `json:"email"`
	EmailVerified       claimBool         `json:"email_verified"`
	PhoneNumber         string            `json:"phone_number"`
	PhoneNumberVerified claimBool         `json:"phone_number_verified"`
	AMR                 claimStrings      `json:"amr"`
	TenantID            string            `json:"tid"`
	AuthTime            *numericDate      `json:"auth_time"`
	IssuedAt            *numericDate      `json:"iat"`
	Expiry              *numericDate      `json:"exp"`
	NotBefore           *numericDate      `json:"nbf"`
}

// numericDate is a NumericDate (seconds since the epoch, integer or fraction).
type numericDate time.Time

func (t *numericDate) UnmarshalJSON(b []byte) error {
	// A NumericDate is a JSON number: a quoted number ("1800000000") is refused. b is one
	// valid JSON value (encoding/json checked it), so a leading digit or minus sign means a
	// number, whose syntax ParseFloat accepts.
	if len(b) == 0 || !(b[0] == '-' || b[0] >= '0' && b[0] <= '9') {
		return errors.New("numeric date is not a number")
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > maxNumericDate {
		return errors.New("numeric date out of range")
	}
	sec, frac := math.Modf(f)
	*t = numericDate(time.Unix(int64(sec), int64(frac*1e9)).UTC())
	return nil
}

// time returns the zero time for a nil t.
func (t *numericDate) time() time.Time {
	if t == nil {
		return time.Time{}
	}
	return time.Time(*t)
}

// claimBool accepts true/false and, as some IdPs send, "true"/"false".
type claimBool bool

func (b *claimBool) UnmarshalJSON(data []byte) error {
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

// claimStrings accepts a JSON array of strings or a single string.
type claimStrings []string

func (s *claimStrings) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		*s = nil
		return nil
	}
	bad := errors.New("claim is not a string or an array of strings")
	switch data[0] { // data is one valid JSON value, never empty
	case '"':
		var one string
		if json.Unmarshal(data, &one) != nil {
			return bad
		}
		*s = claimStrings{one}
	case '[':
		var many []string
		if json.Unmarshal(data, &many) != nil {
			return bad
		}
		*s = many
	default:
		return bad
	}
	return nil
}

// Config returns the verifier's configuration, defaults applied.
func (v *Verifier) Config() Config { return v.cfg }
