package otlogin

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
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
)

// ID-token verification.
//
// A token is accepted only after these steps, in order:
//   - size and shape (idTokenPrecheck); an encrypted token (JWE, five parts) is decrypted first
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
// (verifierCheckTimes). Verification parses the token once and decodes its claims once: the
// key set hands back the verified payload, and no generic OIDC library re-parses it (that
// made verification 2.8x a raw RSA verify).
//
// Keys come only from the JWKS URL named by discovery, through keySet (jwks.go).

const (
	verifierDefaultTimeout  = 5 * time.Second
	verifierDefaultLeeway   = time.Minute
	verifierDefaultCooldown = 30 * time.Second

	// verifierMaxTokenBytes caps the size of a token before any parsing (CVE-2025-27144 style
	// DoS). Mosaic ID tokens are a few KiB at most.
	verifierMaxTokenBytes = 16 << 10
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
	// Discover returns the issuer, the JWKS URL and the signing algorithms. It is called
	// lazily, on the first verify, and again after a failure.
	Discover func(ctx context.Context) (verifierDiscovery, error)
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

// verifierDiscovery is what verification reads from the discovery document.
type verifierDiscovery struct {
	Issuer  string
	JWKSURL string
	// Algorithms is id_token_signing_alg_values_supported as published.
	Algorithms []string
}

// verifierAsymmetricAlgs are the ID-token signature algorithms otlogin can accept, in order of
// preference; the discovery document picks among them.
var verifierAsymmetricAlgs = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512, jose.ES256, jose.ES384, jose.ES512,
}

// verifierAlgs returns the algorithms of published that otlogin accepts. An empty list means
// RS256, which OpenID Connect Discovery requires every provider to support.
func verifierAlgs(published []string) ([]jose.SignatureAlgorithm, error) {
	if len(published) == 0 {
		return []jose.SignatureAlgorithm{jose.RS256}, nil
	}
	var out []jose.SignatureAlgorithm
	for _, a := range verifierAsymmetricAlgs {
		for _, p := range published {
			if p == string(a) {
				out = append(out, a)
				break
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("otlogin: oidc discovery lists no asymmetric ID-token signing algorithm (id_token_signing_alg_values_supported %q; otlogin accepts RS256, PS256, ES256 and their 384/512 variants): %w",
			published, errVerifierUnavailable)
	}
	return out, nil
}

// idTokenClaims are the verified claims of an ID token.
type idTokenClaims struct {
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

// verifier verifies Mosaic ID tokens. It is safe for concurrent use.
type verifier struct {
	cfg  verifierConfig
	keys *keySet

	mu       sync.Mutex
	issuer   string          // the issuer tokens must name; "" until discovery succeeds
	inflight *verifierFlight // discovery in progress
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
	// Keys come from the URL discovery named, never from wherever it redirects: a copy of the
	// client (so the caller's is unchanged) that does not follow redirects.
	noRedirects := *c.HTTPClient
	noRedirects.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.HTTPClient = &noRedirects
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

// verify checks rawIDToken and returns its claims. Errors start with "otlogin:" and never
// contain the token.
func (v *verifier) verify(ctx context.Context, rawIDToken string) (*idTokenClaims, error) {
	if err := idTokenPrecheck(rawIDToken); err != nil {
		return nil, err
	}
	rawIDToken, err := v.decrypt(rawIDToken)
	if err != nil {
		return nil, err
	}
	if v.cfg.ClientID == "" {
		return nil, errors.New("otlogin: id token verifier: no client id configured")
	}
	issuer, err := v.ready(ctx)
	if err != nil {
		return nil, err
	}
	// One parse of the JWS and one of the claims: the key set checks the header and the
	// signature and returns the payload, decoded here once.
	payload, err := v.keys.keySetVerify(ctx, rawIDToken)
	if err != nil {
		return nil, err
	}
	var w idTokenWire
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

// ready returns the issuer tokens must name, running discovery once it is needed. The discovery runs
// detached from ctx's cancellation (its result is shared and cached) and is bounded by
// Timeout; a failed discovery is not cached, the next call tries again.
func (v *verifier) ready(ctx context.Context) (string, error) {
	v.mu.Lock()
	if v.issuer != "" {
		issuer := v.issuer
		v.mu.Unlock()
		return issuer, nil
	}
	if v.cfg.Discover == nil {
		v.mu.Unlock()
		return "", errors.New("otlogin: id token verifier: no discovery configured")
	}
	f := v.inflight
	if f == nil {
		f = &verifierFlight{done: make(chan struct{})}
		v.inflight = f
		go v.verifierDiscover(context.WithoutCancel(ctx), f)
	}
	v.mu.Unlock()
	if err := verifierWait(ctx, f, v.cfg.Timeout, "discovery"); err != nil {
		return "", err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.issuer == "" {
		return "", fmt.Errorf("otlogin: oidc discovery: %w", errVerifierUnavailable)
	}
	return v.issuer, nil
}

func (v *verifier) verifierDiscover(ctx context.Context, f *verifierFlight) {
	ctx, cancel := context.WithTimeout(ctx, v.cfg.Timeout)
	defer cancel()
	d, err := v.cfg.Discover(ctx)
	var algs []jose.SignatureAlgorithm
	if err != nil {
		err = fmt.Errorf("otlogin: oidc discovery: %w: %w", errVerifierUnavailable, err)
	} else {
		if v.cfg.Issuer != "" {
			d.Issuer = v.cfg.Issuer
		}
		if v.cfg.JWKSURL != "" {
			d.JWKSURL = v.cfg.JWKSURL
		}
		err = verifierCheckEndpoints(d.Issuer, d.JWKSURL)
		if err == nil {
			algs, err = verifierAlgs(d.Algorithms)
		}
	}
	v.mu.Lock()
	if err == nil {
		v.keys.setSource(d.JWKSURL, algs)
		v.issuer = d.Issuer // verifierCheckEndpoints refuses an empty one
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

// verifierWait waits for f, for at most timeout, or until ctx is done. Giving up (timeout or
// ctx) wraps errVerifierUnavailable.
func verifierWait(ctx context.Context, f *verifierFlight, timeout time.Duration, what string) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		// The keys are not known to be bad, only not fetched yet: callers answer 503, not
		// "invalid token".
		return fmt.Errorf("otlogin: %s: %w: %w", what, errVerifierUnavailable, context.Cause(ctx))
	case <-t.C:
		return fmt.Errorf("otlogin: %s: timed out: %w", what, errVerifierUnavailable)
	}
}

// idTokenPrecheck rejects tokens that are too large or not three (JWS) or five (JWE)
// dot-separated parts before any parsing.
func idTokenPrecheck(raw string) error {
	if raw == "" {
		return errors.New("otlogin: empty id token")
	}
	if len(raw) > verifierMaxTokenBytes {
		return errors.New("otlogin: id token too large")
	}
	if n := strings.Count(raw, "."); n != 2 && n != 4 {
		return errors.New("otlogin: id token is not a compact JWS or JWE")
	}
	return nil
}

// verifierKeyAlgs and verifierContentAlgs are the JWE algorithms decrypt accepts: RSA-OAEP
// and ECDH-ES key management (not RSA1_5, open to padding oracles) and authenticated
// content encryption.
var (
	verifierKeyAlgs = []jose.KeyAlgorithm{
		jose.RSA_OAEP, jose.RSA_OAEP_256, jose.ECDH_ES, jose.ECDH_ES_A128KW, jose.ECDH_ES_A192KW, jose.ECDH_ES_A256KW,
	}
	verifierContentAlgs = []jose.ContentEncryption{
		jose.A128GCM, jose.A192GCM, jose.A256GCM, jose.A128CBC_HS256, jose.A192CBC_HS384, jose.A256CBC_HS512,
	}
)

// decrypt returns the signed token inside raw. Without a DecryptionKey raw must be a JWS;
// with one it must be a JWE (an app that registered an encryption key gets encrypted tokens
// only), without compression, holding a compact JWS. The result is checked like raw would be.
func (v *verifier) decrypt(raw string) (string, error) {
	isJWE := strings.Count(raw, ".") == 4
	switch {
	case v.cfg.DecryptionKey == nil && isJWE:
		// A configuration fault, not a bad code: answered as unavailable, and logged.
		return "", fmt.Errorf("otlogin: id token is encrypted (JWE) but Config.IDTokenDecryptionKey is not set: %w", errVerifierUnavailable)
	case v.cfg.DecryptionKey == nil:
		return raw, nil
	case !isJWE:
		return "", fmt.Errorf("otlogin: id token is not encrypted, but Config.IDTokenDecryptionKey is set (encrypted tokens are then required): %w", errVerifierUnavailable)
	}
	jwe, err := jose.ParseEncryptedCompact(raw, verifierKeyAlgs, verifierContentAlgs)
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
	if err := idTokenPrecheck(s); err != nil {
		return "", err
	}
	if strings.Count(s, ".") != 2 {
		return "", errors.New("otlogin: encrypted id token does not hold a signed token (nested JWS)")
	}
	return s, nil
}

// idTokenWire is the JSON shape of the claims read here.
type idTokenWire struct {
	Issuer              string            `json:"iss"`
	Audience            idTokenStrings    `json:"aud"`
	ClaimNames          map[string]string `json:"_claim_names"`
	ClaimSources        map[string]any    `json:"_claim_sources"`
	Subject             string            `json:"sub"`
	AuthorizedParty     string            `json:"azp"`
	Email               string            `json:"email"`
	EmailVerified       idTokenBool       `json:"email_verified"`
	PhoneNumber         string            `json:"phone_number"`
	PhoneNumberVerified idTokenBool       `json:"phone_number_verified"`
	AMR                 idTokenStrings    `json:"amr"`
	TenantID            string            `json:"tid"`
	AuthTime            *idTokenTime      `json:"auth_time"`
	IssuedAt            *idTokenTime      `json:"iat"`
	Expiry              *idTokenTime      `json:"exp"`
	NotBefore           *idTokenTime      `json:"nbf"`
}

// idTokenTime is a NumericDate (seconds since the epoch, integer or fraction).
type idTokenTime time.Time

func (t *idTokenTime) UnmarshalJSON(b []byte) error {
	// A NumericDate is a JSON number: a quoted number ("1800000000") is refused. b is one
	// valid JSON value (encoding/json checked it), so a leading digit or minus sign means a
	// number, whose syntax ParseFloat accepts.
	if len(b) == 0 || !(b[0] == '-' || b[0] >= '0' && b[0] <= '9') {
		return errors.New("numeric date is not a number")
	}
	f, err := strconv.ParseFloat(string(b), 64)
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
	bad := errors.New("claim is not a string or an array of strings")
	switch data[0] { // data is one valid JSON value, never empty
	case '"':
		var one string
		if json.Unmarshal(data, &one) != nil {
			return bad
		}
		*s = idTokenStrings{one}
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

// checkTokenConfig refuses token-verification settings that could never verify a token.
func checkTokenConfig(cfg Config) error {
	if cfg.JWKSURL != "" {
		u, err := url.Parse(cfg.JWKSURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
			return errors.New("otlogin: Config.JWKSURL must be an absolute https URL, e.g. https://<app>.app.transmitsecurity.io/oidc/jwks as given in Mosaic's app settings")
		}
		if cfg.Issuer == "" {
			return errors.New("otlogin: Config.JWKSURL needs Config.Issuer: keys of an application's own domain sign tokens whose iss is that domain (e.g. https://<app>.app.transmitsecurity.io)")
		}
	}
	if cfg.Issuer != "" {
		if u, err := url.Parse(cfg.Issuer); err != nil || u.Scheme != "https" || u.Host == "" {
			return errors.New("otlogin: Config.Issuer must be an https URL exactly as in the tokens' iss, e.g. https://userid.security or https://eu.userid.security")
		}
	}
	switch k := cfg.IDTokenDecryptionKey.(type) {
	case nil:
	case *rsa.PrivateKey:
		if k.N == nil || k.N.BitLen() < verifierMinRSABits {
			return errors.New("otlogin: Config.IDTokenDecryptionKey: an RSA key must have at least 2048 bits")
		}
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() && k.Curve != elliptic.P521() {
			return errors.New("otlogin: Config.IDTokenDecryptionKey: an ECDSA key must be on P-256, P-384 or P-521")
		}
	default:
		return fmt.Errorf("otlogin: Config.IDTokenDecryptionKey must be an *rsa.PrivateKey or an *ecdsa.PrivateKey, not %T", k)
	}
	return nil
}
