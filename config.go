package otlogin

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/alexedwards/scs/v2"
	"golang.org/x/sync/singleflight"

	"github.com/otlogin/otlogin/transmit"
)

// MosaicClient is the part of [transmit.Client] that otlogin uses. Tests and wrappers can
// supply anything with these methods.
type MosaicClient interface {
	SendMagicLink(ctx context.Context, req transmit.SendMagicLinkRequest) (*transmit.SendMagicLinkResponse, error)
	AuthenticateMagicLink(ctx context.Context, req transmit.AuthenticateMagicLinkRequest) (*transmit.TokenResponse, error)
	SendOTP(ctx context.Context, req transmit.SendOTPRequest) (*transmit.SendOTPResponse, error)
	AuthenticateOTP(ctx context.Context, req transmit.AuthenticateOTPRequest) (*transmit.TokenResponse, error)
	CreateUser(ctx context.Context, req transmit.CreateUserRequest) (*transmit.User, error)
	Logout(ctx context.Context, sessionID string) error
	RefreshToken(ctx context.Context, refreshToken string) (*transmit.TokenResponse, error)
	Discover(ctx context.Context) (*transmit.Discovery, error)
	ClientID() string
}

// Rate is a budget of N events per period Per.
type Rate struct {
	N   int
	Per time.Duration
}

// Limits are the rate limits otlogin enforces before calling Mosaic. A zero field means its
// default; a negative N turns that limit off.
type Limits struct {
	// SendsPerIdentifier caps link and code sends to one email address or phone number.
	// Default: 5 per 15m.
	SendsPerIdentifier Rate
	// SendsPerIP caps link and code sends from one client IP address (an IPv6 client counts
	// by its /64). Default: 30 per 15m.
	SendsPerIP Rate
	// AttemptsPerIdentifier caps passcode attempts for one identifier. Default: 5 per 15m.
	AttemptsPerIdentifier Rate
	// SMSPerHour caps SMS sends for the whole application. Default: 500.
	SMSPerHour int
	// SMSPerCountryPerHour caps SMS sends to the numbers of one country (ISO region: the US,
	// Canada and each Caribbean country of +1 count apart), so pumping one country cannot
	// spend SMSPerHour. Default: a fifth of SMSPerHour (100), or 100 when SMSPerHour is off.
	SMSPerCountryPerHour int
	// RedeemsPerIP caps magic-link codes redeemed from one client IP (IPv6: its /64) without
	// a matching flow in the browser (POST /link/email/authenticate with AllowCrossDevice). Default: 30 per 15m.
	RedeemsPerIP Rate
}

// Defaults applied by [New] to zero-valued [Config] fields.
const (
	DefaultPrefix          = "/auth"
	DefaultIdleTimeout     = 30 * time.Minute
	DefaultSessionLifetime = 12 * time.Hour
	DefaultLeeway          = time.Minute
	DefaultJWKSCooldown    = 30 * time.Second
	DefaultTimeout         = 10 * time.Second
	DefaultLinkTTL         = 10 * time.Minute
	DefaultOTPTTL          = 5 * time.Minute
	DefaultMaxBodyBytes    = 16 << 10
	DefaultRevalidateEvery = 15 * time.Minute
	// MaxCodeTTL is the longest LinkTTL or OTPTTL that New accepts (ASVS 2.7.2).
	MaxCodeTTL = 10 * time.Minute
)

// Config configures an [Auth]. It is passed by value to [New]; the zero value of every
// optional field is its safe default.
type Config struct {
	// Client calls Mosaic, normally a *transmit.Client. Required.
	Client MosaicClient
	// PublicURL is the application's external origin, e.g. "https://app.example.com". It
	// builds the magic-link redirect_uri and the trusted origin for CSRF checks; the Host
	// header is never used. http is allowed only for loopback hosts unless InsecureCookies
	// is set. Required.
	PublicURL string
	// Prefix is where [Auth.Handler] is mounted. Default: "/auth".
	Prefix string
	// Sessions is the session manager. When nil, New builds one: Store = SessionStore,
	// cookie "__Host-otlogin" (Secure) when PublicURL is https, else "otlogin"; HttpOnly,
	// SameSite=Lax, Path "/", persistent; Lifetime = SessionLifetime. A manager passed
	// here is used as is, but New refuses it unless its cookie is HttpOnly, not SameSite=None
	// and without Domain, and its IdleTimeout is 0 (otlogin enforces Config.IdleTimeout
	// itself; scs's would make every request write to the store); when PublicURL is https it
	// must also be Secure, named "__Host-..." and have Path "/" (unless InsecureCookies).
	// Default: nil.
	Sessions *scs.SessionManager
	// SessionStore is the store of the session manager New builds (ignored when Sessions
	// is set). Default: an in-memory store.
	SessionStore scs.Store
	// IdleTimeout signs a user out after this long without a request. Activity is recorded
	// at most once per idle step (IdleTimeout/10, at most 1m), so the sign-out can come up
	// to one idle step (≤1m) later than IdleTimeout after the last request. Default: 30m.
	IdleTimeout time.Duration
	// SessionLifetime is the absolute lifetime of a signed-in session. Default: 12h.
	SessionLifetime time.Duration
	// RevalidateEvery is how often a signed-in session is checked with Mosaic, so a user
	// disabled or deleted there (or whose Mosaic session was revoked) is signed out within
	// this time: the first request of a session after each period refreshes its tokens
	// (one Mosaic call, shared by concurrent requests of the session) and, when Mosaic
	// refuses, ends the session. When Mosaic is down or failing the user stays signed in
	// and the check is retried the next period. Negative: never. Default: 15m.
	RevalidateEvery time.Duration
	// AllowCrossDevice lets a magic link opened in another browser sign that browser in,
	// after the user confirms with a button on a page that names the address the link was
	// sent to; only that address is signed in. Default: false.
	AllowCrossDevice bool
	// CreateUsers creates users Mosaic does not know (POST /v1/users) before sending them
	// a link or code. Every send then asks for the creation first, for known users too, so
	// that known and unknown addresses cost the same calls and time. Default: false.
	CreateUsers bool
	// InsecureCookies allows an http PublicURL on a non-loopback host (cookies without
	// Secure). For development only. Default: false.
	InsecureCookies bool
	// Issuer is the expected iss of ID tokens. Default: the issuer of Mosaic's discovery
	// document.
	Issuer string
	// JWKSURL is where the ID-token signing keys are fetched. Set it, with Issuer, for an
	// application with its own signing keys (tokens issued by its own domain, e.g.
	// https://<app>.app.transmitsecurity.io): such tokens never verify with the tenant's
	// keys. Must be an absolute http(s) URL. Default: the jwks_uri of Mosaic's discovery
	// document.
	JWKSURL string
	// TenantID, when set, must equal the tid claim of every ID token (Transmit's token
	// validation guide asks for it). Default: "" (not checked).
	TenantID string
	// IDTokenDecryptionKey is the private key (*rsa.PrivateKey of at least 2048 bits, or
	// *ecdsa.PrivateKey) of the encryption key registered for the application in Mosaic.
	// When set, ID tokens must be encrypted (JWE, RSA-OAEP or ECDH-ES); they are decrypted,
	// then verified. Default: nil (an encrypted ID token is refused).
	IDTokenDecryptionKey any
	// Leeway is the clock skew allowed when checking token times. Default: 1m.
	Leeway time.Duration
	// JWKSCooldown is the minimum time between JWKS refetches caused by unknown key IDs.
	// Default: 30s.
	JWKSCooldown time.Duration
	// Timeout bounds each Mosaic call. Default: 10s.
	Timeout time.Duration
	// HTTPClient fetches the signing keys (the JWKS URL named by Mosaic's discovery
	// document); Mosaic's API calls and discovery go through Client. Redirects are never
	// followed, whatever the client's CheckRedirect (a copy is used). Default: a client
	// with Timeout and no redirects.
	HTTPClient *http.Client
	// LinkTTL is the lifetime of a magic link; New accepts 1m to 10m and rounds it up to whole
	// minutes (Mosaic's email_expiration is in minutes). Default: 10m.
	LinkTTL time.Duration
	// OTPTTL is the lifetime of a passcode; New accepts 1m to 10m and rounds it up to whole
	// minutes (Mosaic's expires_in is in minutes). Default: 5m.
	OTPTTL time.Duration
	// EmailContent customises the emails Mosaic sends. Default: nil (Mosaic's template).
	EmailContent *transmit.EmailContent
	// SMSInput customises the SMS text. Default: nil (Mosaic's text).
	SMSInput *transmit.SMSInput
	// Limiter counts rate limits. Default: the session store's limiter when it implements
	// [LimiterProvider], else a [MemoryLimiter] on the Now clock.
	Limiter Limiter
	// Limits are the rate limits. Default: see [Limits].
	Limits Limits
	// SMSCountryCodes lists the number prefixes (calling codes, e.g. "1", "44", or longer
	// prefixes of up to 4 digits, e.g. "1201") that may receive SMS. "1" admits the whole
	// North American Numbering Plan, including Caribbean ranges targeted by SMS pumping;
	// list area codes ("1201", "1415") to admit only those. Default: empty, meaning all.
	SMSCountryCodes []string
	// TrustedProxies are the proxies whose X-Forwarded-For header names the client IP.
	// Default: none (the connection's address is the client IP).
	TrustedProxies []netip.Prefix
	// OnLogin runs after Mosaic authenticated a user and before the session is created;
	// an error refuses the sign-in. Default: nil.
	OnLogin func(ctx context.Context, u *User) error
	// ErrorHandler renders errors of the auth routes. The error is an [*Error]. Default: a
	// JSON answer or the error page.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
	// HashKey, when set (at least 16 bytes, the same on every instance, kept secret), is the
	// HMAC key that names identifiers and client IPs in rate-limit keys and in log events:
	// the limit keys in a shared store cannot then be reversed with a dictionary of
	// addresses, and logs of several instances name the same identifier the same way.
	// When nil, limit keys are an unkeyed SHA-256 (the same on every instance) and log
	// events use a random key per Auth (they correlate within one process only).
	// Default: nil.
	HashKey []byte
	// Logger receives one event per sign-in attempt, without secrets. Default: nil (silent).
	Logger *slog.Logger
	// Templates replaces the embedded pages; it must define the same template names
	// (see [TemplateNames]). Default: the embedded templates.
	Templates *template.Template
	// MaxBodyBytes caps request bodies of the auth routes (413 above). Default: 16 KiB.
	MaxBodyBytes int64
	// Now is the clock, a test seam. Default: time.Now.
	Now func() time.Time
}

// Auth is the configured login service. Create it with [New]; it is safe for concurrent use.
type Auth struct {
	cfg         Config
	client      MosaicClient
	sm          *scs.SessionManager
	limiter     Limiter
	verifier    *verifier
	tmpl        *template.Template
	logKey      []byte // HMAC key of log hashes: HashKey, else random
	hashKey     []byte // HMAC key of limit keys: HashKey, or nil for an unkeyed hash
	prefix      string
	callbackURL string
	origin      string
	idleStep    time.Duration
	smsCodes    []string
	handler     http.Handler
	refreshes   singleflight.Group
	recent      recentRefreshes
	background  sync.WaitGroup // Mosaic calls that outlive their request (see Shutdown)
	sessKey     sessionKey     // the session manager's context key (see middleware.go)
}

// New validates cfg, applies defaults and returns an Auth. It makes no network call and
// starts no goroutine.
func New(cfg Config) (*Auth, error) {
	if cfg.Client == nil {
		return nil, errors.New("otlogin: Config.Client is required")
	}
	u, err := checkPublicURL(cfg.PublicURL, cfg.InsecureCookies)
	if err != nil {
		return nil, err
	}
	if err := cfg.applyDefaults(); err != nil {
		return nil, err
	}
	if err := checkTokenConfig(cfg); err != nil {
		return nil, err
	}
	a := &Auth{
		cfg:         cfg,
		client:      cfg.Client,
		prefix:      cfg.Prefix,
		origin:      u.Scheme + "://" + u.Host,
		callbackURL: strings.TrimRight(u.Scheme+"://"+u.Host+u.EscapedPath(), "/") + cfg.Prefix + "/link/email/callback",
	}
	switch {
	case len(cfg.HashKey) > 0 && len(cfg.HashKey) < 16:
		return nil, errors.New("otlogin: Config.HashKey must be at least 16 bytes")
	case len(cfg.HashKey) > 0:
		a.hashKey = append([]byte(nil), cfg.HashKey...)
		a.logKey = a.hashKey
	default:
		a.logKey = make([]byte, 32)
		if _, err := rand.Read(a.logKey); err != nil {
			return nil, fmt.Errorf("otlogin: random key: %w", err)
		}
	}
	a.idleStep = min(cfg.IdleTimeout/10, time.Minute)
	for _, c := range cfg.SMSCountryCodes {
		d := strings.TrimPrefix(strings.TrimSpace(c), "+")
		if d == "" || strings.Trim(d, "0123456789") != "" || len(d) > 4 {
			return nil, fmt.Errorf("otlogin: Config.SMSCountryCodes: %q is not a calling code or a prefix of up to 4 digits", c)
		}
		a.smsCodes = append(a.smsCodes, d)
	}
	a.sm = cfg.Sessions
	if a.sm != nil {
		if err := checkSessions(a.sm, u.Scheme == "https" && !cfg.InsecureCookies); err != nil {
			return nil, err
		}
	}
	if a.sm == nil {
		a.sm = newSessionManager(cfg, u.Scheme == "https")
	}
	if _, ok := a.sm.Store.(UpdateStore); !ok && cfg.Logger != nil {
		cfg.Logger.Warn("otlogin: the session store has no atomic update (otlogin.UpdateStore): a request that loaded a session just before a logout can save it back (see README, security model)",
			"event", "session_store", "outcome", "no_atomic_update")
	}
	a.limiter = cfg.Limiter
	if a.limiter == nil {
		if lp, ok := a.sm.Store.(LimiterProvider); ok {
			a.limiter = lp.Limiter()
		}
	}
	if a.limiter == nil {
		l := NewMemoryLimiter()
		l.Now = cfg.Now // so tests that move Now move the limit windows too
		a.limiter = l
	}
	if a.tmpl, err = loadTemplates(cfg.Templates); err != nil {
		return nil, err
	}
	client := cfg.Client
	a.verifier = newVerifier(verifierConfig{
		ClientID: client.ClientID(),
		Issuer:   cfg.Issuer,
		Discover: func(ctx context.Context) (verifierDiscovery, error) {
			d, err := client.Discover(ctx)
			if err != nil {
				return verifierDiscovery{}, err
			}
			return verifierDiscovery{Issuer: d.Issuer, JWKSURL: d.JWKSURL, Algorithms: d.IDTokenSigningAlgs}, nil
		},
		HTTPClient: cfg.HTTPClient,
		Timeout:    cfg.Timeout,
		Leeway:     cfg.Leeway,
		Cooldown:   cfg.JWKSCooldown,
		Now:        cfg.Now,

		JWKSURL:       cfg.JWKSURL,
		TenantID:      cfg.TenantID,
		DecryptionKey: cfg.IDTokenDecryptionKey,
	})
	a.handler = a.buildHandler()
	return a, nil
}

// applyDefaults fills zero fields and refuses invalid ones.
func (c *Config) applyDefaults() error {
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	c.Prefix = "/" + strings.Trim(c.Prefix, "/")
	if c.Prefix == "/" || strings.ContainsAny(c.Prefix, " {}?#\\") {
		return errors.New("otlogin: Config.Prefix must be a path like /auth")
	}
	if c.RevalidateEvery == 0 {
		c.RevalidateEvery = DefaultRevalidateEvery
	}
	durations := []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"IdleTimeout", &c.IdleTimeout, DefaultIdleTimeout},
		{"SessionLifetime", &c.SessionLifetime, DefaultSessionLifetime},
		{"Leeway", &c.Leeway, DefaultLeeway},
		{"JWKSCooldown", &c.JWKSCooldown, DefaultJWKSCooldown},
		{"Timeout", &c.Timeout, DefaultTimeout},
		{"LinkTTL", &c.LinkTTL, DefaultLinkTTL},
		{"OTPTTL", &c.OTPTTL, DefaultOTPTTL},
	}
	for _, d := range durations {
		if *d.v < 0 {
			return fmt.Errorf("otlogin: Config.%s must not be negative", d.name)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if c.LinkTTL > MaxCodeTTL || c.OTPTTL > MaxCodeTTL {
		return errors.New("otlogin: Config.LinkTTL and Config.OTPTTL must be at most 10m")
	}
	if c.LinkTTL < time.Minute || c.OTPTTL < time.Minute {
		return errors.New("otlogin: Config.LinkTTL and Config.OTPTTL must be at least 1m")
	}
	// Mosaic takes email_expiration and expires_in in minutes: whole minutes, rounded up, so
	// the flow here lasts exactly as long as the code there (at most 10m still).
	c.LinkTTL = wholeMinutes(c.LinkTTL)
	c.OTPTTL = wholeMinutes(c.OTPTTL)
	if c.MaxBodyBytes < 0 {
		return errors.New("otlogin: Config.MaxBodyBytes must not be negative")
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	defRate := func(r *Rate, n int, per time.Duration) {
		if r.N == 0 {
			r.N = n
		}
		if r.Per <= 0 {
			r.Per = per
		}
	}
	defRate(&c.Limits.SendsPerIdentifier, 5, 15*time.Minute)
	defRate(&c.Limits.SendsPerIP, 30, 15*time.Minute)
	defRate(&c.Limits.AttemptsPerIdentifier, 5, 15*time.Minute)
	defRate(&c.Limits.RedeemsPerIP, 30, 15*time.Minute)
	if c.Limits.SMSPerHour == 0 {
		c.Limits.SMSPerHour = 500
	}
	if c.Limits.SMSPerCountryPerHour == 0 {
		c.Limits.SMSPerCountryPerHour = 100
		if c.Limits.SMSPerHour > 0 {
			c.Limits.SMSPerCountryPerHour = max(c.Limits.SMSPerHour/5, 1)
		}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// checkSessions refuses a user-supplied session manager whose cookie or timeouts weaken
// the session (SECURITY S2). https requires the cookie attributes a browser needs to keep
// an https session to this origin only.
func checkSessions(sm *scs.SessionManager, https bool) error {
	c := sm.Cookie
	switch {
	case !c.HttpOnly:
		return errors.New("otlogin: Config.Sessions.Cookie.HttpOnly must be true")
	case c.SameSite == http.SameSiteNoneMode:
		return errors.New("otlogin: Config.Sessions.Cookie.SameSite must not be None (use Lax or Strict)")
	case c.Domain != "":
		return errors.New("otlogin: Config.Sessions.Cookie.Domain must be empty (the cookie belongs to PublicURL's host only)")
	case sm.IdleTimeout != 0:
		return errors.New("otlogin: Config.Sessions.IdleTimeout must be 0: otlogin enforces the idle timeout itself (set Config.IdleTimeout), and scs's would write the session on every request")
	case https && !c.Secure:
		return errors.New("otlogin: Config.Sessions.Cookie.Secure must be true when PublicURL is https (or set InsecureCookies)")
	case https && !strings.HasPrefix(c.Name, "__Host-"):
		return errors.New("otlogin: Config.Sessions.Cookie.Name must start with \"__Host-\" when PublicURL is https (or set InsecureCookies)")
	case https && c.Path != "/":
		return errors.New("otlogin: Config.Sessions.Cookie.Path must be \"/\" when PublicURL is https (or set InsecureCookies)")
	}
	return nil
}

// checkPublicURL accepts an absolute http(s) URL without query, fragment or user info;
// plain http only for loopback hosts unless insecure.
func checkPublicURL(raw string, insecure bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || raw == "" || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, errors.New("otlogin: Config.PublicURL must be an absolute http or https URL")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return nil, errors.New("otlogin: Config.PublicURL must not carry user info, a query or a fragment")
	}
	if u.Scheme == "http" && !insecure && !isLoopback(u.Hostname()) {
		return nil, errors.New("otlogin: Config.PublicURL must be https (http is allowed for loopback hosts, or with InsecureCookies)")
	}
	return u, nil
}

// isLoopback reports whether host is localhost or a loopback address.
func isLoopback(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// wholeMinutes rounds d up to a whole number of minutes.
func wholeMinutes(d time.Duration) time.Duration {
	return (d + time.Minute - 1).Truncate(time.Minute)
}
