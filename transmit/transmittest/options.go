package transmittest

import (
	"log/slog"
	"net/http"
	"time"
)

// Default values used by [New] for zero [Options] fields.
const (
	DefaultClientID     = "otlogin-test-client"
	DefaultClientSecret = "otlogin-test-secret-3f9b1c"
	DefaultIssuer       = "https://userid.security"
	DefaultTenantID     = "emulator-tenant"
)

// Options configures an [Emulator]. The zero value is usable; each field documents its default.
type Options struct {
	// ClientID and ClientSecret are the only client credentials /oidc/token accepts.
	// Default: [DefaultClientID], [DefaultClientSecret].
	ClientID     string
	ClientSecret string
	// Issuer is the iss of every token and of the discovery document. It is deliberately not
	// the server's URL, as with Mosaic. Default: "https://userid.security".
	Issuer string
	// TenantID is the tid claim. Default: "emulator-tenant".
	TenantID string
	// SigningAlgorithm signs every token and is the only entry of the discovery document's
	// id_token_signing_alg_values_supported: "RS256", "PS256" (Mosaic's choice for FAPI
	// tenants) or "ES256". Default: "RS256".
	SigningAlgorithm string
	// AppIssuer, when set, models an application with its own signing keys: ID tokens carry
	// iss = AppIssuer (e.g. "https://acme.app.transmitsecurity.io") and are signed with a key
	// published only at the application's own JWKS ([Emulator.AppJWKSHandler];
	// [Server.AppJWKSURL]), never in the tenant's JWKS, which discovery names. Default: "".
	AppIssuer string
	// IDTokenEncryptionKey, when set (*rsa.PublicKey or *ecdsa.PublicKey), is the
	// application's registered encryption key: ID tokens are signed, then encrypted to it
	// (JWE: RSA-OAEP-256 or ECDH-ES+A256KW, A256GCM, cty JWT). Default: nil (signed only).
	IDTokenEncryptionKey any
	// BaseURL is the emulator's own URL without /cis (used for jwks_uri and token_endpoint in
	// discovery). Default: derived from each request's Host (fine for an emulator).
	BaseURL string
	// AllowedRedirectURIs lists the redirect_uri values magic-link send accepts (exact match),
	// like the redirect URIs registered for a Mosaic app. Default: empty, meaning PublicURLs
	// decide.
	AllowedRedirectURIs []string
	// PublicURLs are the public URLs of the apps using the emulator (otlogin's
	// Config.PublicURL). When AllowedRedirectURIs is empty, a redirect_uri is accepted only
	// under one of them (same scheme, host and port, path below theirs); anything else gets the
	// documented 400 "redirect_uri is not one of the allowed redirect URIs configured for this
	// app". Default: empty, meaning any http(s) URI on a loopback host (localhost, 127.0.0.0/8,
	// ::1), which is where tests and local example apps run.
	PublicURLs []string
	// OTPLength is the number of digits of a passcode. Default: 6.
	OTPLength int
	// OTPTTL is how long a passcode lives when the request has no expires_in. Default: 5m.
	OTPTTL time.Duration
	// MaxFailures is the number of wrong passcodes after which the code is invalidated and the
	// identifier locked. Default: 3.
	MaxFailures int
	// LockoutDuration is how long an identifier stays locked. Default: 15m.
	LockoutDuration time.Duration
	// LinkTTL is how long a magic link lives when the request has no email_expiration.
	// Default: 15m.
	LinkTTL time.Duration
	// TokenTTL is the lifetime of client, access and ID tokens. Default: 1h.
	TokenTTL time.Duration
	// RefreshTTL is the lifetime of a refresh token. Default: 336h (14 days).
	RefreshTTL time.Duration
	// OldKeyGrace is how long a rotated-out signing key stays in the JWKS. Default: 24h.
	OldKeyGrace time.Duration
	// OutboxSize is the number of messages the outbox keeps; older ones are dropped first.
	// Default: 1000.
	OutboxSize int
	// OutboxPerAddress is the number of messages the outbox keeps for one destination
	// address or number; its older ones are dropped first. Default: 50.
	OutboxPerAddress int
	// Logger receives one Info line per "sent" link or code (the link or code included: this is
	// a development tool). Default: nil, silent.
	Logger *slog.Logger
	// Now is the emulator's clock; [Emulator.Advance] and [Emulator.SetNow] shift it.
	// Default: time.Now.
	Now func() time.Time
	// Observer, when set, sees every exchange the emulator answers (including requests to paths
	// it does not serve), after the answer is built and before it is written. It is called on
	// the request's goroutine, so it must be safe for concurrent use. otlogin's own tests attach
	// an OpenAPI contract checker here. Default: nil.
	Observer func(Exchange)
}

// Exchange is one request the emulator answered, as [Options.Observer] sees it. Its fields
// must not be modified.
type Exchange struct {
	Request     *http.Request // the request (its body already read into RequestBody)
	RequestBody []byte
	Status      int
	Header      http.Header // the answer's headers
	Body        []byte      // the answer's body
	// ByDesign marks an answer the emulator produced on purpose outside Mosaic's documented
	// contract: a forced fault ([Emulator.Force]), the 401 of the token rule, an unknown path or
	// method, 401 invalid_client, and the 400 answers of refresh and logout (whose documents
	// list no error at all).
	ByDesign bool
}

func (o Options) withDefaults() Options {
	if o.ClientID == "" {
		o.ClientID = DefaultClientID
	}
	if o.ClientSecret == "" {
		o.ClientSecret = DefaultClientSecret
	}
	if o.Issuer == "" {
		o.Issuer = DefaultIssuer
	}
	if o.TenantID == "" {
		o.TenantID = DefaultTenantID
	}
	if o.SigningAlgorithm == "" {
		o.SigningAlgorithm = "RS256"
	}
	if o.OTPLength <= 0 {
		o.OTPLength = 6
	}
	if o.OTPTTL <= 0 {
		o.OTPTTL = 5 * time.Minute
	}
	if o.OutboxSize <= 0 {
		o.OutboxSize = 1000
	}
	if o.OutboxPerAddress <= 0 {
		o.OutboxPerAddress = 50
	}
	if o.MaxFailures <= 0 {
		o.MaxFailures = 3
	}
	if o.LockoutDuration <= 0 {
		o.LockoutDuration = 15 * time.Minute
	}
	if o.LinkTTL <= 0 {
		o.LinkTTL = 15 * time.Minute
	}
	if o.TokenTTL <= 0 {
		o.TokenTTL = time.Hour
	}
	if o.RefreshTTL <= 0 {
		o.RefreshTTL = 14 * 24 * time.Hour
	}
	if o.OldKeyGrace <= 0 {
		o.OldKeyGrace = 24 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}
