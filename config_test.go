package otlogin

import (
	"html/template"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
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
	_, err = New(Config{Client: testClient(t), PublicURL: "https://a.example", Sessions: own})
	require.Error(t, err, "an https app with a non-Secure cookie")
	own.Cookie.Secure = true
	withOwn, err := New(Config{Client: testClient(t), PublicURL: "https://a.example", Sessions: own})
	require.NoError(t, err)
	assert.Same(t, own, withOwn.sm)
}
