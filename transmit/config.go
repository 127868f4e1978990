package transmit

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/otlogin/otlogin/internal/devhost"
)

// Base URLs of Mosaic's regions. Each ends in /cis: the One-Time Login, sessions, users and
// discovery endpoints live under it. The client-credentials token is fetched from the same
// host's root, /oidc/token (see [Config].TokenURL).
const (
	SandboxBaseURL = "https://api.sbx.transmitsecurity.io/cis"
	USBaseURL      = "https://api.transmitsecurity.io/cis"
	EUBaseURL      = "https://api.eu.transmitsecurity.io/cis"
	CABaseURL      = "https://api.ca.transmitsecurity.io/cis"
	AUBaseURL      = "https://api.au.transmitsecurity.io/cis"
)

// Defaults applied by [New] to zero-valued [Config] fields.
const (
	DefaultTimeout          = 10 * time.Second
	DefaultTokenExpiryDelta = 60 * time.Second
)

// redacted replaces the client secret wherever a Config or Client is printed or logged.
const redacted = "REDACTED"

// Config configures a [Client]. It is passed by value to [New]; the zero value of every
// optional field means its documented default.
type Config struct {
	// BaseURL is Mosaic's API base including /cis, e.g. [SandboxBaseURL]: an https URL (http
	// only for a loopback host such as the emulator's 127.0.0.1) whose path ends in /cis,
	// without user info, query or fragment. Required.
	BaseURL string
	// ClientID is the application's OIDC client ID. Required.
	ClientID string
	// ClientSecret is the application's client secret. Required. It is sent only in the form
	// body of the token request and is never printed: String, GoString and LogValue show
	// "REDACTED".
	ClientSecret string
	// HTTPClient sends every request. The client is copied and redirects are not followed.
	// Default: a new http.Client with no timeout of its own (Timeout bounds each call).
	HTTPClient *http.Client
	// Timeout bounds each method call as a whole (client-token fetch, the request and the one
	// retry after a 401), even when the caller's context has no deadline. Default: 10s.
	Timeout time.Duration
	// TokenURL is the client-credentials token endpoint: https, or http on a loopback host.
	// Default: BaseURL's scheme and host + "/oidc/token" (the host root, not under /cis: where
	// Mosaic serves it), e.g. https://api.transmitsecurity.io/oidc/token.
	TokenURL string
	// TokenExpiryDelta is how long before expires_in the cached client token is replaced.
	// Default: 60s (halved lifetimes are used for tokens shorter than twice this).
	TokenExpiryDelta time.Duration
	// Now is the clock, a test seam. Default: time.Now.
	Now func() time.Time
}

// String describes the Config without the client secret.
func (c Config) String() string {
	return fmt.Sprintf("transmit.Config{BaseURL:%q, ClientID:%q, ClientSecret:%s, TokenURL:%q, Timeout:%s}",
		c.BaseURL, c.ClientID, c.secretMark(), c.TokenURL, c.Timeout)
}

// GoString is String: %#v must not show the secret either.
func (c Config) GoString() string { return c.String() }

// LogValue implements slog.LogValuer without the client secret.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("base_url", c.BaseURL),
		slog.String("client_id", c.ClientID),
		slog.String("client_secret", c.secretMark()),
		slog.String("token_url", c.TokenURL),
		slog.Duration("timeout", c.Timeout),
	)
}

// secretMark is what is shown in place of the secret: REDACTED, or "" when unset so a
// missing secret is visible in diagnostics.
func (c Config) secretMark() string {
	if c.ClientSecret == "" {
		return `""`
	}
	return redacted
}

// withDefaults validates c and fills in the defaults.
func (c Config) withDefaults() (Config, error) {
	base, err := checkBaseURL(c.BaseURL)
	if err != nil {
		return c, err
	}
	c.BaseURL = base
	if strings.TrimSpace(c.ClientID) == "" {
		return c, errors.New("transmit: Config.ClientID is required")
	}
	if c.ClientSecret == "" {
		return c, errors.New("transmit: Config.ClientSecret is required")
	}
	if c.TokenURL == "" {
		u, _ := url.Parse(c.BaseURL) // checked above
		c.TokenURL = u.Scheme + "://" + u.Host + "/oidc/token"
	} else if c.TokenURL, err = checkURL("TokenURL", c.TokenURL); err != nil {
		return c, err
	}
	if c.Timeout < 0 || c.TokenExpiryDelta < 0 {
		return c, errors.New("transmit: Config.Timeout and Config.TokenExpiryDelta must not be negative")
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.TokenExpiryDelta == 0 {
		c.TokenExpiryDelta = DefaultTokenExpiryDelta
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	hc := &http.Client{}
	if c.HTTPClient != nil {
		copied := *c.HTTPClient
		hc = &copied
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.HTTPClient = hc
	return c, nil
}

// checkURL accepts an absolute https URL, or an http URL whose host is loopback (localhost,
// 127.0.0.0/8, ::1: the emulator in tests), without user info, query or fragment. The URL is
// not echoed in errors: it could carry a password in its user info.
func checkURL(field, raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || raw == "" || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return "", fmt.Errorf("transmit: Config.%s must be an absolute https URL such as %s", field, example(field))
	}
	if u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", fmt.Errorf("transmit: Config.%s must not carry user info, a query or a fragment", field)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !devhost.LoopbackForDial(u.Hostname()) {
			return "", fmt.Errorf("transmit: Config.%s must use https (http is accepted only for a loopback host such as 127.0.0.1): write https://%s%s", field, u.Host, u.EscapedPath())
		}
	default:
		return "", fmt.Errorf("transmit: Config.%s must be an absolute https URL such as %s", field, example(field))
	}
	return raw, nil
}

// example is a valid value for field, quoted in error messages.
func example(field string) string {
	if field == "TokenURL" {
		return "https://api.transmitsecurity.io/oidc/token"
	}
	return USBaseURL
}

// checkBaseURL is checkURL plus the path rule: Mosaic's APIs live under /cis, so a base URL
// whose path does not end in /cis would send every call to a 404. The result has no trailing
// slash.
func checkBaseURL(raw string) (string, error) {
	if _, err := checkURL("BaseURL", raw); err != nil {
		return "", err
	}
	base := strings.TrimRight(raw, "/")
	u, _ := url.Parse(base)
	// Scheme and host are case-insensitive: HTTPS://API.TRANSMITSECURITY.IO/cis is fine.
	u.Scheme, u.Host = strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	if !strings.HasSuffix(u.Path, "/cis") {
		return "", fmt.Errorf("transmit: Config.BaseURL must end in /cis, Mosaic's API base (for example %s or transmit.SandboxBaseURL): write %s", USBaseURL, suggestBaseURL(u))
	}
	return u.String(), nil
}

// suggestBaseURL is the base URL a refused one most likely meant: its path up to and
// including its first /cis segment (any case, written /cis), or else the host's /cis
// (".../cis/v1" and ".../v1" both give scheme://host/cis).
func suggestBaseURL(u *url.URL) string {
	segs := strings.Split(strings.Trim(u.EscapedPath(), "/"), "/")
	path := "/cis"
	for i, s := range segs {
		if strings.EqualFold(s, "cis") {
			path = "/" + strings.Join(append(segs[:i:i], "cis"), "/")
			break
		}
	}
	return u.Scheme + "://" + u.Host + path
}
