package otlogin

import (
	"bytes"
	"context"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin/internal/apptest/safe"
	"github.com/otlogin/otlogin/transmit"
	"github.com/otlogin/otlogin/transmit/transmittest"
)

// TestUpstreamMisconfigurationLoggedAtError: a wrong client secret or a wrong base path
// shows users "temporarily unavailable"; the operator must find the cause in the log, at
// Error level, with the fix, and without the secret.
func TestUpstreamMisconfigurationLoggedAtError(t *testing.T) {
	t.Parallel()
	emu := transmittest.NewTestServer(t, transmittest.Options{})
	cases := []struct {
		name string
		cfg  transmit.Config
		want []string
	}{
		{"wrong client secret", transmit.Config{BaseURL: emu.BaseURL(), ClientID: emu.ClientID, ClientSecret: "not-the-secret"},
			[]string{"401", "client credentials", "ClientSecret"}},
		{"wrong base path", transmit.Config{BaseURL: strings.TrimSuffix(emu.BaseURL(), "/cis") + "/wrong/cis",
			ClientID: emu.ClientID, ClientSecret: emu.ClientSecret}, []string{"404", "BaseURL"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			client, err := transmit.New(tc.cfg)
			require.NoError(t, err)
			var logs safe.Buffer
			a, err := New(Config{Client: client, PublicURL: "http://127.0.0.1:8080",
				Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
			require.NoError(t, err)
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:8080/auth/otp/send",
				strings.NewReader(url.Values{"channel": {"email"}, "identifier": {"ops@example.com"}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			a.Handler().ServeHTTP(rec, req)
			require.Equal(t, http.StatusServiceUnavailable, rec.Code, rec.Body.String())
			var errLine string
			for _, line := range strings.Split(logs.String(), "\n") {
				if strings.Contains(line, `"level":"ERROR"`) {
					errLine = line
				}
			}
			require.NotEmpty(t, errLine, "an Error-level event names the misconfiguration; logs:\n%s", logs.String())
			for _, w := range tc.want {
				assert.Contains(t, errLine, w)
			}
			assert.NotContains(t, logs.String(), "not-the-secret")
			assert.NotContains(t, logs.String(), emu.ClientSecret)
			assert.NotContains(t, logs.String(), "ops@example.com")
		})
	}
}

// TestNilLoggerIsSlogDefault: without Config.Logger, events go to slog.Default(), so a
// misconfiguration is never silent; an app silences otlogin with a discard handler. Not
// parallel: it replaces the process's default logger.
func TestNilLoggerIsSlogDefault(t *testing.T) {
	var buf bytes.Buffer
	prev, prevOut, prevFlags := slog.Default(), log.Writer(), log.Flags()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	t.Cleanup(func() { // SetDefault also redirected package log: restore both
		slog.SetDefault(prev)
		log.SetOutput(prevOut)
		log.SetFlags(prevFlags)
	})
	a, err := New(Config{Client: testClient(t), PublicURL: "http://127.0.0.1:8080"})
	require.NoError(t, err)
	a.log(context.Background(), "callback", MethodMagicLink, "no_matching_flow", "")
	assert.Contains(t, buf.String(), "otlogin callback")

	buf.Reset()
	quiet, err := New(Config{Client: testClient(t), PublicURL: "http://127.0.0.1:8080", Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	quiet.log(context.Background(), "callback", MethodMagicLink, "no_matching_flow", "")
	assert.Empty(t, buf.String())
}

// errorLines returns the Error-level lines of a JSON log.
func errorLines(logs string) []string {
	var out []string
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, `"level":"ERROR"`) {
			out = append(out, line)
		}
	}
	return out
}

// linkSend posts a magic-link send for ops@example.com to a's handler.
func linkSend(t *testing.T, a *Auth, public string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, public+"/auth/link/email/send",
		strings.NewReader(url.Values{"email": {"ops@example.com"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	a.Handler().ServeHTTP(rec, req)
	return rec
}

// TestRedirectURINotAllowedIsNamed: when Mosaic refuses the magic link's redirect_uri (not
// registered for the app), as a 400 or a 403, the send answers 503 (nothing was sent, never
// "check your email"), and an Error-level config event names the exact URI to register.
func TestRedirectURINotAllowedIsNamed(t *testing.T) {
	t.Parallel()
	const refused = "redirect_uri is not one of the allowed redirect URIs configured for this app"
	for _, tc := range []struct {
		name  string
		fault *transmittest.Fault
	}{
		{"emulator allow-list (400)", nil},
		{"403 answer", func() *transmittest.Fault {
			f := transmittest.FaultStringCode(http.StatusForbidden, refused)
			return &f
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			emu := transmittest.NewTestServer(t, transmittest.Options{PublicURLs: []string{"http://localhost:18301"}})
			emu.CreateUser("ops@example.com", "")
			if tc.fault != nil {
				emu.Force(transmittest.EndpointSendMagicLink, *tc.fault)
			}
			var logs safe.Buffer
			const public = "http://127.0.0.1:18302"
			client, err := transmit.New(transmit.Config{BaseURL: emu.BaseURL(), ClientID: emu.ClientID, ClientSecret: emu.ClientSecret})
			require.NoError(t, err)
			a, err := New(Config{Client: client, PublicURL: public,
				Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
			require.NoError(t, err)
			rec := linkSend(t, a, public)
			assert.Equal(t, http.StatusServiceUnavailable, rec.Code, rec.Body.String())
			lines := errorLines(logs.String())
			require.Len(t, lines, 1, "one Error-level event names the misconfiguration; logs:\n%s", logs.String())
			assert.Contains(t, lines[0], `"event":"config"`)
			assert.Contains(t, lines[0], public+"/auth/link/email/callback")
			assert.Contains(t, lines[0], "Redirect URI")
			assert.Contains(t, lines[0], "not one of the allowed redirect URIs", "Mosaic's own message is kept")
			assert.NotContains(t, logs.String(), "ops@example.com")
		})
	}
}

// TestWrongBasePathLinkSendIsConfigError: a BaseURL that ends in /cis but is not Mosaic's
// (https://host/foo/cis) answers 404 "no such path" to every call. The magic-link send must
// not take that for an unknown user (answered "check your email", nothing sent), with or
// without CreateUsers (whose create call gets the same 404): 503 and an Error-level event.
func TestWrongBasePathLinkSendIsConfigError(t *testing.T) {
	t.Parallel()
	emu := transmittest.NewTestServer(t, transmittest.Options{})
	for _, create := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "CreateUsers"}[create], func(t *testing.T) {
			t.Parallel()
			client, err := transmit.New(transmit.Config{BaseURL: strings.TrimSuffix(emu.BaseURL(), "/cis") + "/foo/cis",
				ClientID: emu.ClientID, ClientSecret: emu.ClientSecret})
			require.NoError(t, err)
			var logs safe.Buffer
			const public = "http://127.0.0.1:8080"
			a, err := New(Config{Client: client, PublicURL: public, CreateUsers: create,
				Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
			require.NoError(t, err)
			rec := linkSend(t, a, public)
			assert.Equal(t, http.StatusServiceUnavailable, rec.Code, rec.Body.String())
			lines := errorLines(logs.String())
			require.NotEmpty(t, lines, "logs:\n%s", logs.String())
			assert.Contains(t, lines[0], `"event":"config"`)
			assert.Contains(t, lines[0], "404")
			assert.Contains(t, lines[0], "BaseURL")
			assert.NotContains(t, logs.String(), "unknown_user")
			assert.NotContains(t, logs.String(), "create_refused")
		})
	}
}

// TestWrongTenantOrIssuerIsConfigError: a Config.TenantID or Config.Issuer that is not the
// tenant's makes every genuine ID token (signed with the tenant's keys) fail its claim
// checks. That is the app's configuration, not a wrong code: the sign-in answers 503, not
// 400 "That code is invalid", and an Error-level config event names the claim, the token's
// value and the configured one.
func TestWrongTenantOrIssuerIsConfigError(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		want []string
	}{
		{"TenantID", func(c *Config) { c.TenantID = "not-our-tenant" },
			[]string{"tid", "not-our-tenant", transmittest.DefaultTenantID, "TenantID"}},
		{"Issuer", func(c *Config) { c.Issuer = "https://eu.userid.security" },
			[]string{"iss", "https://eu.userid.security", transmittest.DefaultIssuer, "Issuer"}},
		{"client id", func(c *Config) { c.Client = otherClientID{c.Client} },
			[]string{"aud", transmittest.DefaultClientID, "another-client", "ClientID"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h, err := newModeHarness(t, transmittest.Options{}, func(_ *transmittest.Server, c *Config) { tc.mod(c) })
			require.NoError(t, err)
			ok, status, body := modeSignIn(t, h)
			assert.False(t, ok)
			assert.Equal(t, http.StatusServiceUnavailable, status, body)
			lines := errorLines(h.logs.String())
			require.NotEmpty(t, lines, "logs:\n%s", h.logs.String())
			assert.Contains(t, lines[0], `"event":"config"`)
			for _, w := range tc.want {
				assert.Contains(t, lines[0], w)
			}
			assert.NotContains(t, h.logs.String(), "id_token_rejected")
		})
	}
}

// TestLogoutLogHasNoEmptyError: a successful logout's log line carries no error attribute
// (an empty error="" reads like a failure with no cause).
func TestLogoutLogHasNoEmptyError(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.emu.CreateUser("ada@example.com", "")
	c := h.newClient()
	require.Equal(t, http.StatusSeeOther, h.signInLink(c, "ada@example.com", "/").StatusCode)
	require.Equal(t, http.StatusNoContent, h.postJSON(c, "/auth/logout", map[string]string{}).StatusCode)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, h.auth.Shutdown(ctx))
	var line string
	for _, l := range strings.Split(h.logs.String(), "\n") {
		if strings.Contains(l, `"event":"logout"`) {
			line = l
		}
	}
	require.NotEmpty(t, line, h.logs.String())
	assert.Contains(t, line, `"outcome":"ok"`)
	assert.NotContains(t, line, `"error"`)
}

// TestHandlerOutsidePrefixWarns: the auth Handler mounted somewhere else than Config.Prefix
// (say at /signin/, or under http.StripPrefix) answers 404 to everything; the log says why,
// once, at Warn, naming Prefix.
func TestHandlerOutsidePrefixWarns(t *testing.T) {
	t.Parallel()
	var logs safe.Buffer
	a, err := New(Config{Client: testClient(t), PublicURL: "http://127.0.0.1:8080",
		Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/signin/", a.Handler())
	for range 3 {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8080/signin/login", nil))
		assert.Equal(t, http.StatusNotFound, rec.Code)
	}
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8080/auth/nope", nil))
	assert.Equal(t, http.StatusNotFound, rec.Code, "an unknown path under Prefix is a plain 404")
	assert.Equal(t, 1, strings.Count(logs.String(), `"level":"WARN"`), logs.String())
	assert.Contains(t, logs.String(), `Config.Prefix`)
	assert.Contains(t, logs.String(), `/auth`)
	assert.Contains(t, logs.String(), `/signin/login`)
}

// TestInsecureCookiesPublicWarns: InsecureCookies with an http PublicURL on a non-loopback
// host sends session cookies in clear over the network: New allows it and logs a Warn.
func TestInsecureCookiesPublicWarns(t *testing.T) {
	t.Parallel()
	for public, warn := range map[string]bool{"http://app.internal:8080": true, "http://localhost:8080": false} {
		var logs safe.Buffer
		_, err := New(Config{Client: testClient(t), PublicURL: public, InsecureCookies: true,
			Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
		require.NoError(t, err)
		assert.Equal(t, warn, strings.Contains(logs.String(), `"level":"WARN"`), "%s: %s", public, logs.String())
		if warn {
			assert.Contains(t, logs.String(), "InsecureCookies")
		}
	}
}

// otherClientID is a MosaicClient that reports another client id than the one it uses.
type otherClientID struct{ MosaicClient }

func (otherClientID) ClientID() string { return "another-client" }

// TestConfigEventHoldsNoUpstreamText: a configuration error is logged with Mosaic's status and
// error code, not its message, which could echo what was sent (here the address).
func TestConfigEventHoldsNoUpstreamText(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.emu.CreateUser("ada@example.com", "")
	h.emu.Force(transmittest.EndpointSendOTP, transmittest.FaultNumericCode(http.StatusForbidden, "client blocked while sending to ada@example.com"))
	r := h.postJSON(h.newClient(), "/auth/otp/send", map[string]string{"channel": "email", "identifier": "ada@example.com"})
	require.Equal(t, http.StatusServiceUnavailable, r.StatusCode, r.body)
	lines := errorLines(h.logs.String())
	require.Len(t, lines, 1, "one config event; logs:\n%s", h.logs.String())
	assert.Contains(t, lines[0], `"event":"config"`)
	assert.Contains(t, lines[0], "403")
	assert.NotContains(t, h.logs.String(), "ada@example.com", "no address from Mosaic's message in the log")
}
