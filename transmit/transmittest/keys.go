package transmittest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// signingKey is one signing key (RSA for RS256/PS256, P-256 for ES256); retiredAt is zero for
// the current key.
type signingKey struct {
	kid       string
	alg       jose.SignatureAlgorithm
	priv      crypto.Signer
	retiredAt time.Time
}

// public returns the JWK of the key's public half.
func (k *signingKey) public() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"}
}

// firstKey is the RSA key material every emulator in the process starts with, generated once:
// 2048-bit key generation takes 0.1-2 s, and a test suite starts hundreds of emulators. The
// key is never modified. Each emulator still gets its own kid, so a token from one emulator
// does not verify against another's JWKS by kid. [Emulator.RotateKey] always generates fresh
// material.
var firstKey = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })

func newSigningKey(first bool, alg jose.SignatureAlgorithm) (*signingKey, error) {
	var priv crypto.Signer
	var err error
	switch {
	case alg == jose.ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case first:
		priv, err = firstKey()
	default:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil {
		return nil, fmt.Errorf("transmittest: generate key: %w", err)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return &signingKey{kid: "emu-" + hex.EncodeToString(b[:]), alg: alg, priv: priv}, nil
}

// ensureKey generates the first signing key on first use (key generation is slow, and many
// tests never need one).
func (e *Emulator) ensureKey() error {
	e.mu.Lock()
	have := len(e.keys) > 0 && (e.opts.AppIssuer == "" || e.appKey != nil)
	e.mu.Unlock()
	if have {
		return nil
	}
	alg := jose.SignatureAlgorithm(e.opts.SigningAlgorithm)
	k, err := newSigningKey(true, alg)
	if err != nil {
		return err
	}
	var app *signingKey
	if e.opts.AppIssuer != "" {
		// The application's own key: never the tenant's, never in the tenant's JWKS.
		if app, err = newSigningKey(false, alg); err != nil {
			return err
		}
	}
	e.mu.Lock()
	if len(e.keys) == 0 {
		e.keys = append(e.keys, k)
	}
	if e.appKey == nil {
		e.appKey = app
	}
	e.mu.Unlock()
	return nil
}

// currentKeyLocked returns the current key. e.mu must be held and ensureKey must have run.
func (e *Emulator) currentKeyLocked() *signingKey { return e.keys[len(e.keys)-1] }

// RotateKey makes a new signing key current and returns its kid. The previous key stays in
// the JWKS for Options.OldKeyGrace (or until [Emulator.RemoveOldKeys]).
func (e *Emulator) RotateKey() (string, error) {
	if err := e.ensureKey(); err != nil {
		return "", err
	}
	k, err := newSigningKey(false, jose.SignatureAlgorithm(e.opts.SigningAlgorithm))
	if err != nil {
		return "", err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.nowLocked()
	for _, old := range e.keys {
		if old.retiredAt.IsZero() {
			old.retiredAt = now
		}
	}
	e.keys = append(e.keys, k)
	return k.kid, nil
}

// RemoveOldKeys drops every rotated-out key from the JWKS.
func (e *Emulator) RemoveOldKeys() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.keys) > 0 {
		e.keys = []*signingKey{e.currentKeyLocked()}
	}
}

// KeyID returns the kid of the current signing key (generating the key if needed).
func (e *Emulator) KeyID() (string, error) {
	if err := e.ensureKey(); err != nil {
		return "", err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.currentKeyLocked().kid, nil
}

// signLocked signs claims with the current key. e.mu must be held and ensureKey must have run.
func (e *Emulator) signLocked(claims map[string]any) (string, error) {
	return signWith(e.currentKeyLocked(), claims)
}

// signIDLocked signs ID-token claims: with the application's own key and iss when
// Options.AppIssuer is set, and encrypted to Options.IDTokenEncryptionKey when that is set.
// e.mu must be held and ensureKey must have run.
func (e *Emulator) signIDLocked(claims map[string]any) (string, error) {
	k := e.currentKeyLocked()
	if e.opts.AppIssuer != "" {
		k = e.appKey
		claims["iss"] = e.opts.AppIssuer
	}
	tok, err := signWith(k, claims)
	if err != nil || e.opts.IDTokenEncryptionKey == nil {
		return tok, err
	}
	alg := jose.RSA_OAEP_256
	if _, ok := e.opts.IDTokenEncryptionKey.(*ecdsa.PublicKey); ok {
		alg = jose.ECDH_ES_A256KW
	}
	enc, err := jose.NewEncrypter(jose.A256GCM, jose.Recipient{Algorithm: alg, Key: e.opts.IDTokenEncryptionKey},
		(&jose.EncrypterOptions{}).WithContentType("JWT").WithType("JWT"))
	if err != nil {
		return "", fmt.Errorf("transmittest: encrypter: %w", err)
	}
	obj, err := enc.Encrypt([]byte(tok))
	if err != nil {
		return "", fmt.Errorf("transmittest: encrypt: %w", err)
	}
	return obj.CompactSerialize()
}

func signWith(k *signingKey, claims map[string]any) (string, error) {
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: k.alg, Key: jose.JSONWebKey{Key: k.priv, KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"}},
		(&jose.SignerOptions{}).WithType("JWT"),
	)
	if err != nil {
		return "", fmt.Errorf("transmittest: signer: %w", err)
	}
	tok, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		return "", fmt.Errorf("transmittest: sign: %w", err)
	}
	return tok, nil
}

// JWKS returns the public keys currently published.
func (e *Emulator) JWKS() (jose.JSONWebKeySet, error) {
	if err := e.ensureKey(); err != nil {
		return jose.JSONWebKeySet{}, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.nowLocked()
	var set jose.JSONWebKeySet
	for i := len(e.keys) - 1; i >= 0; i-- {
		k := e.keys[i]
		if !k.retiredAt.IsZero() && !now.Before(k.retiredAt.Add(e.opts.OldKeyGrace)) {
			continue
		}
		set.Keys = append(set.Keys, k.public())
	}
	return set, nil
}

func (e *Emulator) handleJWKS(w *recorder, _ *http.Request, _ []byte) {
	set, err := e.JWKS()
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, internalError())
		return
	}
	for _, k := range set.Keys {
		if _, rsa := k.Key.(*rsa.PublicKey); !rsa {
			// Transmit documents RSA keys only: an EC key (the ES256 mode) is outside the
			// documented JWKS schema on purpose.
			w.markOutOfSpec()
			break
		}
	}
	writeJSON(w, http.StatusOK, set)
}

// AppJWKS returns the application's own public key (see Options.AppIssuer); the set is empty
// without AppIssuer.
func (e *Emulator) AppJWKS() (jose.JSONWebKeySet, error) {
	if err := e.ensureKey(); err != nil {
		return jose.JSONWebKeySet{}, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var set jose.JSONWebKeySet
	if e.appKey != nil {
		set.Keys = append(set.Keys, e.appKey.public())
	}
	return set, nil
}

// AppJWKSHandler serves [Emulator.AppJWKS] (GET only): the JWKS of the application's own
// domain. [NewServer] serves it on a second listener, as the application's domain is not
// Mosaic's API host.
func (e *Emulator) AppJWKSHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != AppJWKSPath {
			writeRaw(w, http.StatusNotFound, `{"message":"Not found","error_code":404}`)
			return
		}
		set, err := e.AppJWKS()
		if err != nil {
			writeRaw(w, http.StatusInternalServerError, `{"message":"Internal server error","error_code":500}`)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_ = json.NewEncoder(w).Encode(set)
	})
}

// AppJWKSPath is the path of the application's JWKS on [Server.AppURL].
const AppJWKSPath = "/oidc/jwks"

func internalError() map[string]any {
	return map[string]any{"message": "Something went wrong - Internal server error", "error_code": 500}
}

// baseURL returns Options.BaseURL or the URL the request came in on.
func (e *Emulator) baseURL(r *http.Request) string {
	if e.opts.BaseURL != "" {
		return e.opts.BaseURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (e *Emulator) handleDiscovery(w *recorder, r *http.Request, _ []byte) {
	base := e.baseURL(r) + "/cis/oidc"
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                e.opts.Issuer,
		"authorization_endpoint":                base + "/auth",
		"token_endpoint":                        base + "/token",
		"jwks_uri":                              base + "/jwks",
		"revocation_endpoint":                   base + "/token/revocation",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"grant_types_supported":                 []string{"client_credentials", "refresh_token", "authorization_code"},
		"id_token_signing_alg_values_supported": []string{e.opts.SigningAlgorithm},
		"token_endpoint_auth_methods_supported": []string{"client_secret_post"},
		"claims_supported":                      []string{"sub", "tid", "aud", "iss", "iat", "exp", "auth_time", "amr", "email", "email_verified", "phone_number", "phone_number_verified", "new_user"},
	})
}
