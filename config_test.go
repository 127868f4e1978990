package otlogin

import (
	"context"
	"html/template"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin/transmit"
)

// testClient is a transmit client that is never called (New makes no network call).
func testClient(t *testing.T) *transmit.Client {
	t.Helper()
	c, err := transmit.New(transmit.Config{BaseURL: "http://127.0.0.1:1/cis", ClientID: "id", ClientSecret: "secret"})
	require.NoError(t, err)
	return c
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	client := testClient(t)
	cases := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"minimal https", Config{Client: client, PublicURL: "https://app.example.com"}, true},
		{"loopback http", Config{Client: client, PublicURL: "http://localhost:8080"}, true},
		{"127.0.0.1 http", Config{Client: client, PublicURL: "http://127.0.0.1:8080"}, true},
		{"loopback http, trailing dot", Config{Client: client, PublicURL: "http://LOCALHOST.:8080"}, true},
		{"loopback http, .localhost name", Config{Client: client, PublicURL: "http://app.localhost:8080"}, true},
		{"loopback http, [::1]", Config{Client: client, PublicURL: "http://[::1]:8080"}, true},
		{"http, localhost look-alike", Config{Client: client, PublicURL: "http://localhost.evil.com:8080"}, false},
		{"http, 127.0.0.1.nip.io", Config{Client: client, PublicURL: "http://127.0.0.1.nip.io:8080"}, false},
		{"http, 0.0.0.0", Config{Client: client, PublicURL: "http://0.0.0.0:8080"}, false},
		{"http needs InsecureCookies", Config{Client: client, PublicURL: "http://app.example.com"}, false},
		{"http with InsecureCookies", Config{Client: client, PublicURL: "http://app.example.com", InsecureCookies: true}, true},
		{"no client", Config{PublicURL: "https://app.example.com"}, false},
		{"no PublicURL", Config{Client: client}, false},
		{"relative PublicURL", Config{Client: client, PublicURL: "/app"}, false},
		{"PublicURL with query", Config{Client: client, PublicURL: "https://app.example.com/?x=1"}, false},
		{"PublicURL with user", Config{Client: client, PublicURL: "https://u:p@app.example.com"}, false},
		{"ftp PublicURL", Config{Client: client, PublicURL: "ftp://app.example.com"}, false},
		{"LinkTTL too long", Config{Client: client, PublicURL: "https://a.example", LinkTTL: 11 * time.Minute}, false},
		{"OTPTTL too long", Config{Client: client, PublicURL: "https://a.example", OTPTTL: time.Hour}, false},
		{"negative timeout", Config{Client: client, PublicURL: "https://a.example", Timeout: -1}, false},
		{"bad prefix", Config{Client: client, PublicURL: "https://a.example", Prefix: "/"}, false},
		{"bad country code", Config{Client: client, PublicURL: "https://a.example", SMSCountryCodes: []string{"UK"}}, false},
		{"area-code prefix", Config{Client: client, PublicURL: "https://a.example", SMSCountryCodes: []string{"+1201", "44"}}, true},
		{"prefix too long", Config{Client: client, PublicURL: "https://a.example", SMSCountryCodes: []string{"120155"}}, false},
		{"LinkTTL under 1m", Config{Client: client, PublicURL: "https://a.example", LinkTTL: 30 * time.Second}, false},
		{"OTPTTL under 1m", Config{Client: client, PublicURL: "https://a.example", OTPTTL: time.Second}, false},
		{"incomplete templates", Config{Client: client, PublicURL: "https://a.example",
			Templates: template.Must(template.New("login.html").Parse("x"))}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, err := New(tc.cfg)
			if !tc.ok {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "otlogin: ")
				assert.NotContains(t, err.Error(), "secret")
				return
			}
			require.NoError(t, err)
			require.NotNil(t, a)
		})
	}
}

// TestCodeTTLWholeMinutes: Mosaic's email_expiration and expires_in are minutes; a TTL that
// is not a whole number of minutes is rounded up, never sent as a fraction.
func TestCodeTTLWholeMinutes(t *testing.T) {
	t.Parallel()
	a, err := New(Config{Client: testClient(t), PublicURL: "https://app.example.com", LinkTTL: 90 * time.Second, OTPTTL: 4*time.Minute + time.Nanosecond})
	require.NoError(t, err)
	assert.Equal(t, 2*time.Minute, a.cfg.LinkTTL)
	assert.Equal(t, 5*time.Minute, a.cfg.OTPTTL)
	a, err = New(Config{Client: testClient(t), PublicURL: "https://app.example.com", LinkTTL: 9*time.Minute + 30*time.Second, OTPTTL: 3 * time.Minute})
	require.NoError(t, err)
	assert.Equal(t, 10*time.Minute, a.cfg.LinkTTL, "rounding up stays within the 10m cap")
	assert.Equal(t, 3*time.Minute, a.cfg.OTPTTL)
}

func TestNewDefaults(t *testing.T) {
	t.Parallel()
	a, err := New(Config{Client: testClient(t), PublicURL: "https://app.example.com/"})
	require.NoError(t, err)
	assert.Equal(t, "/auth", a.prefix)
	assert.Equal(t, "https://app.example.com/auth/link/email/callback", a.callbackURL)
	assert.Equal(t, 30*time.Minute, a.cfg.IdleTimeout)
	assert.Equal(t, 12*time.Hour, a.cfg.SessionLifetime)
	assert.Equal(t, 10*time.Minute, a.cfg.LinkTTL)
	assert.Equal(t, 5*time.Minute, a.cfg.OTPTTL)
	assert.Equal(t, Rate{N: 5, Per: 15 * time.Minute}, a.cfg.Limits.SendsPerIdentifier)
	assert.Equal(t, Rate{N: 30, Per: 15 * time.Minute}, a.cfg.Limits.SendsPerIP)
	assert.Equal(t, Rate{N: 20, Per: 15 * time.Minute}, a.cfg.Limits.SendsPerIdentifierTotal)
	assert.Equal(t, 2, a.cfg.Limits.AttemptsPerFlow)
	assert.Equal(t, 500, a.cfg.Limits.SMSPerHour)
	assert.Equal(t, int64(16<<10), a.cfg.MaxBodyBytes)
	assert.Equal(t, "__Host-otlogin", a.sm.Cookie.Name)
	assert.True(t, a.sm.Cookie.Secure)
	assert.Equal(t, time.Duration(0), a.sm.IdleTimeout)
	assert.Equal(t, 12*time.Hour, a.sm.Lifetime)
	assert.Equal(t, time.Minute, a.idleStep)

	local, err := New(Config{Client: testClient(t), PublicURL: "http://localhost:8080", Prefix: "login/"})
	require.NoError(t, err)
	assert.Equal(t, "otlogin", local.sm.Cookie.Name)
	assert.False(t, local.sm.Cookie.Secure)
	assert.Equal(t, "/login", local.prefix)

	own := scs.New()
	own.Cookie.Name, own.Cookie.Secure = "__Host-app", true
	withOwn, err := New(Config{Client: testClient(t), PublicURL: "https://a.example", Sessions: own})
	require.NoError(t, err)
	assertOwnCopy(t, own, withOwn)
}

// TestNewChecksOwnSessions: a session manager passed in Config.Sessions is refused, with an
// error naming the field, when its cookie or timeouts weaken the session (docs/SECURITY.md S2).
func TestNewChecksOwnSessions(t *testing.T) {
	t.Parallel()
	good := func(sm *scs.SessionManager) { sm.Cookie.Name, sm.Cookie.Secure = "__Host-app", true }
	cases := []struct {
		name      string
		publicURL string
		insecure  bool
		mod       func(*scs.SessionManager)
		wantErr   string // "" = accepted
	}{
		{"https, hardened", "https://a.example", false, func(*scs.SessionManager) {}, ""},
		{"https, SameSite Strict", "https://a.example", false, func(sm *scs.SessionManager) { sm.Cookie.SameSite = http.SameSiteStrictMode }, ""},
		{"http loopback, scs defaults", "http://localhost:8080", false, func(sm *scs.SessionManager) { sm.Cookie.Name, sm.Cookie.Secure = "session", false }, ""},
		{"https, not Secure", "https://a.example", false, func(sm *scs.SessionManager) { sm.Cookie.Secure = false }, "Cookie.Secure"},
		{"https, no __Host- prefix", "https://a.example", false, func(sm *scs.SessionManager) { sm.Cookie.Name = "session" }, "Cookie.Name"},
		{"https, Path not /", "https://a.example", false, func(sm *scs.SessionManager) { sm.Cookie.Path = "/app" }, "Cookie.Path"},
		{"https with InsecureCookies, scs defaults", "https://a.example", true, func(sm *scs.SessionManager) {
			sm.Cookie.Name, sm.Cookie.Secure, sm.Cookie.Path = "session", false, ""
		}, ""},
		{"not HttpOnly", "https://a.example", false, func(sm *scs.SessionManager) { sm.Cookie.HttpOnly = false }, "Cookie.HttpOnly"},
		{"not HttpOnly, even with InsecureCookies", "http://app.example", true, func(sm *scs.SessionManager) { sm.Cookie.HttpOnly = false }, "Cookie.HttpOnly"},
		{"SameSite None", "https://a.example", false, func(sm *scs.SessionManager) { sm.Cookie.SameSite = http.SameSiteNoneMode }, "Cookie.SameSite"},
		{"Domain set", "https://a.example", false, func(sm *scs.SessionManager) { sm.Cookie.Domain = "a.example" }, "Cookie.Domain"},
		{"Domain set over http", "http://localhost:8080", false, func(sm *scs.SessionManager) { sm.Cookie.Domain = "localhost" }, "Cookie.Domain"},
		{"scs IdleTimeout", "https://a.example", false, func(sm *scs.SessionManager) { sm.IdleTimeout = time.Hour }, "Config.IdleTimeout"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sm := scs.New()
			good(sm)
			tc.mod(sm)
			a, err := New(Config{Client: testClient(t), PublicURL: tc.publicURL, InsecureCookies: tc.insecure, Sessions: sm})
			if tc.wantErr == "" {
				require.NoError(t, err)
				assertOwnCopy(t, sm, a)
				return
			}
			require.Error(t, err)
			assert.IsType(t, &memstore.MemStore{}, sm.Store, "a New that fails leaves the manager as it was")
			assert.Contains(t, err.Error(), "otlogin: Config.Sessions.")
			assert.Contains(t, err.Error(), tc.wantErr)
		})
	}
}

// TestNewLimitsPerAddress: the absolute per-address cap follows SendsPerIdentifier, must be
// larger than it, and the deprecated AttemptsPerIdentifier still sets the per-flow cap.
func TestNewLimitsPerAddress(t *testing.T) {
	t.Parallel()
	newLimits := func(l Limits) (Limits, error) {
		a, err := New(Config{Client: testClient(t), PublicURL: "https://app.example.com/", Limits: l})
		if err != nil {
			return Limits{}, err
		}
		return a.cfg.Limits, nil
	}
	l, err := newLimits(Limits{SendsPerIdentifier: Rate{N: 3, Per: time.Hour}})
	require.NoError(t, err)
	assert.Equal(t, Rate{N: 12, Per: time.Hour}, l.SendsPerIdentifierTotal)

	l, err = newLimits(Limits{SendsPerIdentifier: Rate{N: -1}})
	require.NoError(t, err)
	assert.Negative(t, l.SendsPerIdentifierTotal.N, "off with the per-network limit")

	_, err = newLimits(Limits{SendsPerIdentifier: Rate{N: 5}, SendsPerIdentifierTotal: Rate{N: 5}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "SendsPerIdentifierTotal must be larger than SendsPerIdentifier")

	l, err = newLimits(Limits{AttemptsPerIdentifier: Rate{N: 4}})
	require.NoError(t, err)
	assert.Equal(t, 4, l.AttemptsPerFlow)
	l, err = newLimits(Limits{AttemptsPerIdentifier: Rate{N: 4}, AttemptsPerFlow: 1})
	require.NoError(t, err)
	assert.Equal(t, 1, l.AttemptsPerFlow)
}

// TestPublicURLHostCaseInsensitive: host names are case-insensitive, so
// http://LOCALHOST:18381 is a loopback URL like http://localhost:18381; the origin (CSRF
// check) and the magic link's redirect URI use the lower-case form browsers send.
func TestPublicURLHostCaseInsensitive(t *testing.T) {
	t.Parallel()
	a, err := New(Config{Client: testClient(t), PublicURL: "http://LOCALHOST:18381"})
	require.NoError(t, err)
	assert.Equal(t, "http://localhost:18381", a.origin)
	assert.Equal(t, "http://localhost:18381/auth/link/email/callback", a.callbackURL)
}

// sendRecorder is a MosaicClient that keeps the send requests otlogin makes.
type sendRecorder struct {
	MosaicClient
	mu    sync.Mutex
	links []transmit.SendMagicLinkRequest
	otps  []transmit.SendOTPRequest
}

func (s *sendRecorder) SendMagicLink(ctx context.Context, req transmit.SendMagicLinkRequest) (*transmit.SendMagicLinkResponse, error) {
	s.mu.Lock()
	s.links = append(s.links, req)
	s.mu.Unlock()
	return s.MosaicClient.SendMagicLink(ctx, req)
}

func (s *sendRecorder) SendOTP(ctx context.Context, req transmit.SendOTPRequest) (*transmit.SendOTPResponse, error) {
	s.mu.Lock()
	s.otps = append(s.otps, req)
	s.mu.Unlock()
	return s.MosaicClient.SendOTP(ctx, req)
}

// TestEmailContentAndSMSInputReachMosaic: Config.EmailContent goes with every email (the link
// and the email passcode) and Config.SMSInput with every SMS, each only on its own channel.
func TestEmailContentAndSMSInputReachMosaic(t *testing.T) {
	t.Parallel()
	email := &transmit.EmailContent{Subject: "Sign in to Acme", BodyText: "Your sign-in"}
	sms := &transmit.SMSInput{CustomMessage: "{otp} is your {app} code", SenderID: "Acme"}
	rec := &sendRecorder{}
	h := newHarness(t, func(c *Config) {
		rec.MosaicClient = c.Client
		c.Client = rec
		c.EmailContent, c.SMSInput = email, sms
	})
	h.emu.CreateUser("ada@example.com", "+447911123456")
	for _, body := range []map[string]string{
		{"channel": "email", "identifier": "ada@example.com"},
		{"channel": "sms", "identifier": "+447911123456"},
	} {
		r := h.postJSON(h.newClient(), "/auth/otp/send", body)
		require.Equal(t, http.StatusAccepted, r.StatusCode, r.body)
	}
	r := h.postJSON(h.newClient(), "/auth/link/email/send", map[string]string{"email": "ada@example.com"})
	require.Equal(t, http.StatusAccepted, r.StatusCode, r.body)

	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.Len(t, rec.links, 1)
	assert.Equal(t, email, rec.links[0].EmailContent)
	require.Len(t, rec.otps, 2)
	assert.Equal(t, email, rec.otps[0].EmailContent, "email passcode")
	assert.Nil(t, rec.otps[0].CustomSMSInput)
	assert.Equal(t, sms, rec.otps[1].CustomSMSInput, "SMS passcode")
	assert.Nil(t, rec.otps[1].EmailContent)
}
