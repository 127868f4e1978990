package transmit

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func validConfig() Config {
	return Config{BaseURL: SandboxBaseURL, ClientID: testClientID, ClientSecret: testClientSecret}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		mod  func(*Config)
		want string // substring of the error; "" = valid
	}{
		{"valid", func(*Config) {}, ""},
		{"http base", func(c *Config) { c.BaseURL = "http://127.0.0.1:8080/cis" }, ""},
		{"empty base", func(c *Config) { c.BaseURL = "" }, "BaseURL"},
		{"relative base", func(c *Config) { c.BaseURL = "/cis" }, "BaseURL"},
		{"ftp base", func(c *Config) { c.BaseURL = "ftp://api.example.com/cis" }, "BaseURL"},
		{"no host", func(c *Config) { c.BaseURL = "https:///cis" }, "BaseURL"},
		{"user info", func(c *Config) { c.BaseURL = "https://user:pw@api.example.com/cis" }, "BaseURL"},
		{"query", func(c *Config) { c.BaseURL = "https://api.example.com/cis?x=1" }, "BaseURL"},
		{"bad url", func(c *Config) { c.BaseURL = "https://%zz" }, "BaseURL"},
		{"empty client id", func(c *Config) { c.ClientID = " " }, "ClientID"},
		{"empty secret", func(c *Config) { c.ClientSecret = "" }, "ClientSecret"},
		{"bad token url", func(c *Config) { c.TokenURL = "token" }, "TokenURL"},
		// A base URL without /cis sends every call to a 404: refused, naming what to write.
		{"base without /cis", func(c *Config) { c.BaseURL = "https://api.transmitsecurity.io" }, "write https://api.transmitsecurity.io/cis"},
		{"base with slash, no /cis", func(c *Config) { c.BaseURL = "https://api.transmitsecurity.io/" }, "must end in /cis"},
		{"base with another path", func(c *Config) { c.BaseURL = "https://api.transmitsecurity.io/v1" }, "write https://api.transmitsecurity.io/cis"},
		{"base /cis/v1", func(c *Config) { c.BaseURL = "https://api.transmitsecurity.io/cis/v1" }, "must end in /cis"},
		{"base /cis/", func(c *Config) { c.BaseURL = "https://api.transmitsecurity.io/cis/" }, ""},
		{"base /proxy/cis", func(c *Config) { c.BaseURL = "https://gw.example.com/proxy/cis" }, ""},
		// Plain http only on loopback: the client secret and every code would cross the network
		// in clear text.
		{"http base, public host", func(c *Config) { c.BaseURL = "http://api.transmitsecurity.io/cis" }, "write https://api.transmitsecurity.io/cis"},
		{"http base, private IP", func(c *Config) { c.BaseURL = "http://10.0.0.5:8080/cis" }, "must use https"},
		{"http base, localhost", func(c *Config) { c.BaseURL = "http://localhost:8090/cis" }, ""},
		{"http base, ::1", func(c *Config) { c.BaseURL = "http://[::1]:8090/cis" }, ""},
		{"http base, 127.0.0.2", func(c *Config) { c.BaseURL = "http://127.0.0.2/cis" }, ""},
		{"http base, localhost look-alike", func(c *Config) { c.BaseURL = "http://localhost.example.com/cis" }, "must use https"},
		{"http token url, public host", func(c *Config) { c.TokenURL = "http://api.transmitsecurity.io/oidc/token" }, "TokenURL must use https"},
		{"http token url, loopback", func(c *Config) { c.TokenURL = "http://127.0.0.1:9/oidc/token" }, ""},
		{"ws base", func(c *Config) { c.BaseURL = "ws://127.0.0.1/cis" }, "https URL"},
		{"upper-case scheme and host", func(c *Config) { c.BaseURL = "HTTPS://API.TRANSMITSECURITY.IO/cis" }, ""},
		{"upper-case loopback host", func(c *Config) { c.BaseURL = "http://LOCALHOST:8090/cis" }, ""},
		{"loopback host, trailing dot", func(c *Config) { c.BaseURL = "http://localhost.:8090/cis" }, ""},
		{"IPv4-mapped loopback", func(c *Config) { c.BaseURL = "http://[::ffff:127.0.0.1]:8090/cis" }, ""},
		// Go's resolver may ask DNS for a name under .localhost: not loopback for a client.
		{"http base under .localhost", func(c *Config) { c.BaseURL = "http://mosaic.localhost:8090/cis" }, "must use https"},
		{"http base, zoned ::1", func(c *Config) { c.BaseURL = "http://[::1%25lo]:8090/cis" }, "must use https"},
		{"http base, 0.0.0.0", func(c *Config) { c.BaseURL = "http://0.0.0.0:8090/cis" }, "must use https"},
		{"negative timeout", func(c *Config) { c.Timeout = -time.Second }, "Timeout"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := validConfig()
			tc.mod(&cfg)
			c, err := New(cfg)
			if tc.want == "" {
				require.NoError(t, err)
				require.NotNil(t, c)
				return
			}
			require.Error(t, err)
			assert.Nil(t, c)
			assert.Contains(t, err.Error(), tc.want)
			assert.True(t, strings.HasPrefix(err.Error(), "transmit: "))
			assert.NotContains(t, err.Error(), "pw")
		})
	}
}

// TestBaseURLSuggestion: the fix a refused BaseURL's error suggests is Mosaic's base (the
// host's /cis, or the path up to its /cis segment), never /cis appended to whatever was
// written (".../cis/v1/cis", ".../CIS/cis").
func TestBaseURLSuggestion(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{
		"https://api.transmitsecurity.io":               "https://api.transmitsecurity.io/cis",
		"https://api.transmitsecurity.io/v1":            "https://api.transmitsecurity.io/cis",
		"https://api.transmitsecurity.io/cis/v1":        "https://api.transmitsecurity.io/cis",
		"https://api.transmitsecurity.io/cis/v1/auth/":  "https://api.transmitsecurity.io/cis",
		"HTTPS://API.TRANSMITSECURITY.IO/CIS":           "https://api.transmitsecurity.io/cis",
		"https://api.transmitsecurity.io/Cis/v1":        "https://api.transmitsecurity.io/cis",
		"https://gw.example.com/proxy/cis/v1":           "https://gw.example.com/proxy/cis",
		"http://127.0.0.1:8090/cis/oidc/token":          "http://127.0.0.1:8090/cis",
		"https://api.eu.transmitsecurity.io/oidc/token": "https://api.eu.transmitsecurity.io/cis",
	} {
		cfg := validConfig()
		cfg.BaseURL = raw
		_, err := New(cfg)
		if assert.Error(t, err, raw) {
			assert.True(t, strings.HasSuffix(err.Error(), ": write "+want), "%s: %v", raw, err)
		}
	}
}

func TestNewDefaults(t *testing.T) {
	t.Parallel()
	hc := &http.Client{Timeout: time.Minute}
	cfg := validConfig()
	cfg.BaseURL = USBaseURL + "/"
	cfg.HTTPClient = hc
	c, err := New(cfg)
	require.NoError(t, err)
	assert.Equal(t, USBaseURL, c.BaseURL())
	assert.Equal(t, testClientID, c.ClientID())
	assert.Equal(t, "https://api.transmitsecurity.io/oidc/token", c.cfg.TokenURL, "token endpoint at the host root, not under /cis")
	assert.Equal(t, DefaultTimeout, c.cfg.Timeout)
	assert.Equal(t, DefaultTokenExpiryDelta, c.cfg.TokenExpiryDelta)
	assert.NotNil(t, c.cfg.Now)
	assert.NotSame(t, hc, c.cfg.HTTPClient, "the caller's client is copied")
	assert.Nil(t, hc.CheckRedirect, "the caller's client is not modified")
	assert.Equal(t, time.Minute, c.cfg.HTTPClient.Timeout)

	cfg.TokenURL = "https://auth.example.com/custom/token"
	c, err = New(cfg)
	require.NoError(t, err)
	assert.Equal(t, "https://auth.example.com/custom/token", c.cfg.TokenURL, "TokenURL overrides")

	cfg.TokenURL = ""
	cfg.BaseURL = "http://127.0.0.1:8090/cis"
	c, err = New(cfg)
	require.NoError(t, err)
	assert.Equal(t, "http://127.0.0.1:8090/oidc/token", c.cfg.TokenURL)
}

func TestBaseURLConstants(t *testing.T) {
	t.Parallel()
	for _, u := range []string{SandboxBaseURL, USBaseURL, EUBaseURL, CABaseURL, AUBaseURL} {
		assert.True(t, strings.HasPrefix(u, "https://"), u)
		assert.True(t, strings.HasSuffix(u, "/cis"), u)
		_, err := New(Config{BaseURL: u, ClientID: "id", ClientSecret: "s"})
		assert.NoError(t, err, u)
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	t.Parallel()
	cfg := validConfig()
	c, err := New(cfg)
	require.NoError(t, err)
	type wrapper struct {
		Transmit Config
		Ptr      *Config
	}
	values := map[string]any{
		"Config":        cfg,
		"*Config":       &cfg,
		"Client":        c,
		"wrapped value": wrapper{Transmit: cfg, Ptr: &cfg},
	}
	for name, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			t.Run(name+"/"+verb, func(t *testing.T) {
				t.Parallel()
				out := fmt.Sprintf(verb, v)
				assert.NotContains(t, out, testClientSecret)
				assert.Contains(t, out, "REDACTED")
			})
		}
	}
	for name, v := range map[string]any{"Config": cfg, "Client": c} {
		for hname, mk := range map[string]func(*bytes.Buffer) slog.Handler{
			"json": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
			"text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		} {
			t.Run(name+"/slog "+hname, func(t *testing.T) {
				t.Parallel()
				var buf bytes.Buffer
				slog.New(mk(&buf)).Info("config", "transmit", v)
				assert.NotContains(t, buf.String(), testClientSecret)
				assert.Contains(t, buf.String(), "REDACTED")
				assert.Contains(t, buf.String(), testClientID)
			})
		}
	}
	var empty Config
	assert.NotContains(t, empty.String(), "REDACTED", "an unset secret shows as empty")
}
