package transmittest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// signingKey is one RS256 key; retiredAt is zero for the current key.
type signingKey struct {
	kid       string
	priv      *rsa.PrivateKey
	retiredAt time.Time
}

// firstKey is the RSA key material every emulator in the process starts with, generated once:
// 2048-bit key generation takes 0.1-2 s, and a test suite starts hundreds of emulators. The
// key is never modified. Each emulator still gets its own kid, so a token from one emulator
// does not verify against another's JWKS by kid. [Emulator.RotateKey] always generates fresh
// material.
var firstKey = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })

func newSigningKey(first bool) (*signingKey, error) {
	var priv *rsa.PrivateKey
	var err error
	if first {
		priv, err = firstKey()
	} else {
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil {
		return nil, fmt.Errorf("transmittest: generate key: %w", err)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return &signingKey{kid: "emu-" + hex.EncodeToString(b[:]), priv: priv}, nil
}

// ensureKey generates the first signing key on first use (key generation is slow, and many
// tests never need one).
func (e *Emulator) ensureKey() error {
	e.mu.Lock()
	have := len(e.keys) > 0
	e.mu.Unlock()
	if have {
		return nil
	}
	k, err := newSigningKey(true)
	if err != nil {
		return err
	}
	e.mu.Lock()
	if len(e.keys) == 0 {
		e.keys = append(e.keys, k)
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
	k, err := newSigningKey(false)
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
	k := e.currentKeyLocked()
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: k.priv, KeyID: k.kid, Algorithm: string(jose.RS256), Use: "sig"}},
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
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &k.priv.PublicKey, KeyID: k.kid, Algorithm: string(jose.RS256), Use: "sig"})
	}
	return set, nil
}

func (e *Emulator) handleJWKS(w *recorder, _ *http.Request, _ []byte) {
	set, err := e.JWKS()
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, internalError())
		return
	}
	writeJSON(w, http.StatusOK, set)
}

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
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_post"},
		"claims_supported":                      []string{"sub", "tid", "aud", "iss", "iat", "exp", "auth_time", "amr", "email", "email_verified", "phone_number", "phone_number_verified", "new_user"},
	})
}
