package otlogin

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"golang.org/x/sync/singleflight"

	"github.com/otlogin/otlogin/internal/devhost"
	"github.com/otlogin/otlogin/internal/idtoken"
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
	// SendsPerIdentifier caps link and code sends to one email address or phone number from
	// one client network (an IPv4 address, or an IPv6 /64), so that sends from another
	// network cannot use up the budget of a person signing in from their own. Default: 5 per
	// 15m.
	SendsPerIdentifier Rate
	// SendsPerIdentifierTotal caps link and code sends to one email address or phone number
	// from all networks together: the most messages one address or number can receive (see
	// the security model in README.md for what an attacker with many networks can still do).
	// It must be larger than SendsPerIdentifier, so that one network cannot spend it alone.
	// Default: 4 × SendsPerIdentifier.N per SendsPerIdentifier.Per (20 per 15m); off when
	// SendsPerIdentifier is off.
	SendsPerIdentifierTotal Rate
	// SendsPerIP caps link and code sends from one client IP address (an IPv6 client counts
	// by its /64). Default: 30 per 15m.
	SendsPerIP Rate
	// AttemptsPerFlow caps the passcodes checked for one pending code flow (one send, in one
	// browser); a new send starts a new flow. Keep it below the "max failures" of the
	// tenant's OTP lockout policy at Mosaic (3 in Mosaic's example): Mosaic locks the user's
	// OTP authenticator after that many wrong codes, and a flow that someone else started
	// for the same address must not be able to do that. A flow whose code was replaced at
	// Mosaic by a later send to the same address is refused without a call. A negative value
	// turns the cap off. Default: 2.
	AttemptsPerFlow int
	// AttemptsPerIdentifier is the former per-address cap on passcode attempts, which let
	// anyone lock an address out.
	//
	// Deprecated: attempts are counted per flow (AttemptsPerFlow). When AttemptsPerFlow is
	// zero, a non-zero AttemptsPerIdentifier.N is used as AttemptsPerFlow; Per is ignored.
	AttemptsPerIdentifier Rate
	// SMSPerHour caps SMS sends for the whole application. Default: 500.
	SMSPerHour int
	// SMSPerIPPerHour caps SMS sends from one client network (an IPv4 address, an IPv6 /64)
	// per hour, so a few addresses cannot spend a country's or the app's SMS budget. Negative:
	// off. Default: 10.
	SMSPerIPPerHour int
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
	defaultPrefix          = "/auth"
	defaultIdleTimeout     = 30 * time.Minute
	defaultSessionLifetime = 12 * time.Hour
	defaultTimeout         = 10 * time.Second
	defaultStoreTimeout    = 2 * time.Second
	defaultBodyTimeout     = 10 * time.Second
	defaultLinkTTL         = 10 * time.Minute
	defaultOTPTTL          = 5 * time.Minute
	defaultMaxBodyBytes    = 16 << 10
	defaultRevalidateEvery = 15 * time.Minute
	// MaxCodeTTL is the longest LinkTTL or OTPTTL that New accepts (ASVS 2.7.2).
	MaxCodeTTL = 10 * time.Minute
)

// Config configures an [Auth]. It is passed by value to [New]; the zero value of every
// optional field is its safe default.
type Config struct {
	// Client calls Mosaic, normally a *transmit.Client. Required.
	Client MosaicClient
	// PublicURL is the application's external origin, e.g. "https://app.example.com", with
	// no path (New refuses one: use Prefix to move the routes). It
	// builds the magic-link redirect_uri and the trusted origin for CSRF checks; the Host
	// header is never used. http is allowed only for loopback hosts unless InsecureCookies
	// is set. Required.
	PublicURL string
	// Prefix is where [Auth.Handler] is mounted. Default: "/auth".
	Prefix string
	// Sessions is the session manager. When nil, New builds one: Store = SessionStore,
	// cookie "__Host-otlogin" (Secure) when PublicURL is https, else "otlogin"; HttpOnly,
	// SameSite=Lax, Path "/", persistent; Lifetime = SessionLifetime. A manager passed
	// here keeps its settings, but New refuses it unless its cookie is HttpOnly, not SameSite=None
	// and without Domain, and its IdleTimeout is 0 (otlogin enforces Config.IdleTimeout
	// itself; scs's would make every request write to the store); when PublicURL is https it
	// must also be Secure, named "__Host-..." and have Path "/" (unless InsecureCookies).
	// Configure it before New: otlogin works on a copy made by New (it shares the
	// manager's session, so the app's sm.Get and sm.Put see what otlogin sees) whose store
	// calls are bounded by StoreTimeout unless the store is in-process.
	//
	// An app that already uses scs passes its manager here and mounts [Auth.Middleware] in
	// place of sm.LoadAndSave (never inside or around it): Middleware loads and saves the
	// one session, the app's values included, once per request. Mounted inside
	// sm.LoadAndSave of the same manager, otlogin would save each session a second time
	// without its checks, so it refuses: it logs an Error naming this fix at the first
	// request and serves every request like one whose store is down (sign-in and
	// protected routes answer 503, public routes work). Inside Middleware, the manager's own
	// saves are refused: New puts a guard in front of its Store (otlogin saves through its
	// own copy of the manager), and sm.Commit, which sm.LoadAndSave calls, returns an error
	// and writes nothing when its context is a request otlogin serves (the first one logs
	// an Error naming the fix; the answer is a 503 unless it was already written). Inside
	// Middleware the delete of sm.RenewToken and sm.Destroy waits for otlogin's save, and a
	// signed-in session keeps its token (otlogin renewed it at sign-in; RenewToken on it is
	// ignored, logged once at Warn), so a logout meanwhile is never undone; an anonymous
	// session is renewed. sm.Commit with another context (sm.LoadAndSave mounted beside
	// Middleware, a background job's) saves as before, except a session that holds
	// otlogin's signed-in state: it is written only while it still exists in the store (see
	// [UpdateStore]), and dropped, returning nil (logged once at Warn), when a logout deleted
	// it. Keep a reference of your own to the store and do not replace sm.Store after New.
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
	// TenantID, when set, must equal the tid claim of every ID token (docs/SECURITY.md T2).
	// Default: "" (not checked).
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
	// Timeout bounds the Mosaic calls of one request together: a send (with CreateUsers, a
	// create and then the send) or an authenticate (the code exchange, then the fetch of
	// the ID token's signing keys when they are not cached) gets one budget of Timeout,
	// however many calls it makes; past it the answer is 503. Revocations after a logout
	// or a failed sign-in get a budget of their own. Default: 10s.
	Timeout time.Duration
	// StoreTimeout bounds each call to the session store and to the limiter on the request
	// path (the session load of every request, the flow save, the update-if-exists save,
	// each rate-limit check). A store that has not answered by then is treated as down:
	// the request gets the same 503 answer (public routes keep working, anonymous).
	// Default: 2s.
	StoreTimeout time.Duration
	// BodyTimeout bounds the reading of an auth route's request body, from the moment the
	// handler starts reading it (through http.ResponseController's read deadline): a
	// client that sends its body slower gets a 408 and its connection is closed. It needs
	// a server whose ResponseWriter supports read deadlines (net/http's does). Default: 10s.
	BodyTimeout time.Duration
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
	// AllowLocalLimits lets a session store that is not in process memory and brings no
	// limiter (it does not implement [LimiterProvider], e.g. scs's goredisstore) count rate
	// limits in each process's memory. Without it New refuses that combination: with n
	// instances every limit would silently be n times larger. Set it for a single instance
	// on a persistent store, or pass a shared Limiter instead. Default: false.
	AllowLocalLimits bool
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
	// ClientIPHeader names the header that the TrustedProxies append the client address to:
	// "X-Forwarded-For" or "Forwarded" (RFC 7239). Only that one is read, because a client
	// can send the other one itself and the proxy would pass it on. Entries may carry a port
	// or a bracketed IPv6 address. Default: "X-Forwarded-For".
	ClientIPHeader string
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
	// Logger receives one event per sign-in attempt, without secrets, and an Error-level
	// event naming the cause and the fix when Mosaic refuses the app's configuration (client
	// credentials, a wrong BaseURL). Silence it with slog.New(slog.DiscardHandler).
	// Default: nil, meaning slog.Default() at the time of each event.
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
	verifier    *idtoken.Verifier
	tmpl        *template.Template
	logKey      []byte // HMAC key of log hashes: HashKey, else random
	hashKey     []byte // HMAC key of limit keys: HashKey, or nil for an unkeyed hash
	prefix      string
	callbackURL string
	origin      string
	challenge   string // WWW-Authenticate of RequireAuth's 401
	idleStep    time.Duration
	smsCodes    []string
	handler     http.Handler
	refreshes   singleflight.Group
	recent      recentRefreshes
	background  sync.WaitGroup // Mosaic calls that outlive their request (see Shutdown)
	stack       stackChecks    // another session layer in the requests (see guard.go)
	// outsidePrefixWarned: a request outside Prefix reached Handler and was logged once.
	outsidePrefixWarned atomic.Bool
	sessKey             sessionKey // the session manager's context key (see middleware.go)
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
	if u.Scheme == "http" && !devhost.Loopback(u.Hostname()) {
		a.logger().Warn("otlogin: InsecureCookies with a non-loopback http PublicURL: session cookies cross the network in clear text",
			"event", "config", "public_url", a.origin,
			"fix", "serve PublicURL over https and drop InsecureCookies outside local development")
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
	if cfg.Sessions != nil {
		if err := checkSessions(cfg.Sessions, u.Scheme == "https" && !cfg.InsecureCookies); err != nil {
			return nil, err
		}
		a.sm = ownSessions(cfg.Sessions) // otlogin's copy, without the guard (see guard.go)
	}
	if a.sm == nil {
		a.sm = newSessionManager(cfg, u.Scheme == "https")
	}
	if _, ok := a.sm.Store.(UpdateStore); !ok {
		a.logger().Warn("otlogin: the session store has no atomic update (otlogin.UpdateStore): a request that loaded a session just before a logout can save it back (see README, security model)",
			"event", "session_store", "outcome", "no_atomic_update")
	}
	a.challenge = challengeFor(u.Host, cfg.Prefix, a.sm.Cookie.Name)
	a.limiter = cfg.Limiter
	lp, provider := a.sm.Store.(LimiterProvider)
	if provider && a.limiter == nil {
		a.limiter = lp.Limiter()
	}
	if a.limiter == nil && !provider && !cfg.AllowLocalLimits && !inProcessStore(a.sm.Store) {
		return nil, fmt.Errorf("otlogin: the session store (%T) can be shared by several instances but brings no limiter, "+
			"so each process would count rate limits on its own: pass a shared Config.Limiter (e.g. package store's), "+
			"or set Config.AllowLocalLimits for a single instance", a.sm.Store)
	}
	if a.limiter == nil {
		l := NewMemoryLimiter()
		l.Now = cfg.Now // so tests that move Now move the limit windows too
		a.limiter = l
	}
	a.limiter = withLimiterTimeout(a.limiter, cfg.StoreTimeout)
	// Every store call on the request path runs under StoreTimeout. Unless the store is
	// in-process, otlogin's manager (a copy: the same cookie, codec and context key, so the
	// app's sm.Get and sm.Put see the same session) gets a store that applies it.
	if store, wrapped := withStoreTimeout(a.sm.Store, cfg.StoreTimeout); wrapped {
		sm := *a.sm
		sm.Store = store
		a.sm = &sm
	}
	if a.tmpl, err = loadTemplates(cfg.Templates); err != nil {
		return nil, err
	}
	client := cfg.Client
	a.verifier = idtoken.New(idtoken.Config{
		ClientID: client.ClientID(),
		Issuer:   cfg.Issuer,
		Discover: func(ctx context.Context) (idtoken.Discovery, error) {
			d, err := client.Discover(ctx)
			if err != nil {
				return idtoken.Discovery{}, err
			}
			return idtoken.Discovery{Issuer: d.Issuer, JWKSURL: d.JWKSURL, Algorithms: d.IDTokenSigningAlgs}, nil
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
	if cfg.Sessions != nil {
		a.guardSessions(cfg.Sessions) // last: a New that fails leaves the manager as it was
	}
	return a, nil
}

// inProcessStore reports whether st keeps sessions in this process's memory (otlogin's
// MemoryStore or scs's memstore), so that in-memory rate limits cover every session it has.
// Any other store may be shared by several instances, unless it implements
// [LimiterProvider]: a provider that returns a nil limiter says its sessions are local.
func inProcessStore(st scs.Store) bool {
	switch st.(type) {
	case *MemoryStore, *memstore.MemStore:
		return true
	}
	return false
}

// applyDefaults fills zero fields and refuses invalid ones.
func (c *Config) applyDefaults() error {
	if c.Prefix == "" {
		c.Prefix = defaultPrefix
	}
	c.Prefix = "/" + strings.Trim(c.Prefix, "/")
	if c.Prefix == "/" || strings.ContainsAny(c.Prefix, " {}?#\\") {
		return errors.New("otlogin: Config.Prefix must be a path like /auth")
	}
	if c.RevalidateEvery == 0 {
		c.RevalidateEvery = defaultRevalidateEvery
	}
	durations := []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"IdleTimeout", &c.IdleTimeout, defaultIdleTimeout},
		{"SessionLifetime", &c.SessionLifetime, defaultSessionLifetime},
		{"Leeway", &c.Leeway, idtoken.DefaultLeeway},
		{"JWKSCooldown", &c.JWKSCooldown, idtoken.DefaultCooldown},
		{"Timeout", &c.Timeout, defaultTimeout},
		{"StoreTimeout", &c.StoreTimeout, defaultStoreTimeout},
		{"BodyTimeout", &c.BodyTimeout, defaultBodyTimeout},
		{"LinkTTL", &c.LinkTTL, defaultLinkTTL},
		{"OTPTTL", &c.OTPTTL, defaultOTPTTL},
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
	switch {
	case c.ClientIPHeader == "":
		c.ClientIPHeader = headerXFF
	case strings.EqualFold(c.ClientIPHeader, headerXFF):
		c.ClientIPHeader = headerXFF
	case strings.EqualFold(c.ClientIPHeader, headerForwarded):
		c.ClientIPHeader = headerForwarded
	default:
		return fmt.Errorf("otlogin: Config.ClientIPHeader must be %q or %q, not %q", headerXFF, headerForwarded, c.ClientIPHeader)
	}
	if c.MaxBodyBytes < 0 {
		return errors.New("otlogin: Config.MaxBodyBytes must not be negative")
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = defaultMaxBodyBytes
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
	if c.Limits.SendsPerIdentifierTotal.N == 0 && c.Limits.SendsPerIdentifier.N > 0 {
		c.Limits.SendsPerIdentifierTotal.N = 4 * c.Limits.SendsPerIdentifier.N
		if c.Limits.SendsPerIdentifierTotal.Per <= 0 {
			c.Limits.SendsPerIdentifierTotal.Per = c.Limits.SendsPerIdentifier.Per
		}
	}
	if c.Limits.SendsPerIdentifierTotal.N == 0 {
		c.Limits.SendsPerIdentifierTotal.N = -1
	}
	if c.Limits.SendsPerIdentifierTotal.Per <= 0 {
		c.Limits.SendsPerIdentifierTotal.Per = 15 * time.Minute
	}
	if t, n := c.Limits.SendsPerIdentifierTotal.N, c.Limits.SendsPerIdentifier.N; t > 0 && n > 0 && t <= n {
		return errors.New("otlogin: Config.Limits.SendsPerIdentifierTotal must be larger than SendsPerIdentifier (one network must not be able to spend an address's whole budget)")
	}
	if c.Limits.AttemptsPerFlow == 0 {
		c.Limits.AttemptsPerFlow = 2
		if n := c.Limits.AttemptsPerIdentifier.N; n != 0 {
			c.Limits.AttemptsPerFlow = n
		}
	}
	defRate(&c.Limits.RedeemsPerIP, 30, 15*time.Minute)
	if c.Limits.SMSPerHour == 0 {
		c.Limits.SMSPerHour = 500
	}
	if c.Limits.SMSPerIPPerHour == 0 {
		c.Limits.SMSPerIPPerHour = 10
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
// the session (docs/SECURITY.md S2). https requires the cookie attributes a browser needs to keep
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

// checkPublicURL accepts an absolute http(s) origin (no path but "/", no query, fragment or
// user info); plain http only for loopback hosts unless insecure.
func checkPublicURL(raw string, insecure bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || raw == "" || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, errors.New("otlogin: Config.PublicURL must be an absolute http or https URL")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return nil, errors.New("otlogin: Config.PublicURL must not carry user info, a query or a fragment")
	}
	if p := u.EscapedPath(); p != "" && p != "/" {
		return nil, fmt.Errorf("otlogin: Config.PublicURL must be an origin without a path, like %s://%s (got the path %q): "+
			"the session cookie and the CSRF check belong to the whole origin; to mount the sign-in routes under a path, "+
			"set Config.Prefix (e.g. %q)", u.Scheme, u.Host, p, strings.TrimRight(p, "/")+"/auth")
	}
	u.Host = strings.ToLower(u.Host) // as browsers send it in Origin; LOCALHOST is loopback too
	if u.Scheme == "http" && !insecure && !devhost.Loopback(u.Hostname()) {
		return nil, errors.New("otlogin: Config.PublicURL must be https (http is allowed for loopback hosts, or with InsecureCookies)")
	}
	return u, nil
}

// wholeMinutes rounds d up to a whole number of minutes.
func wholeMinutes(d time.Duration) time.Duration {
	return (d + time.Minute - 1).Truncate(time.Minute)
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
		if k.N == nil || k.N.BitLen() < idtoken.MinRSABits {
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
