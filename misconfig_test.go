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
