package contract_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin/examples/internal/contract"
	"github.com/otlogin/otlogin/internal/testservice"
	"github.com/otlogin/otlogin/transmit"
)

const (
	cannedClientID = "client-123"
	cannedSecret   = "s3cret-VALUE-never-printed"
)

// cannedMosaic answers every operation the transmit client calls with a fixed success body
// (the ones package transmit's own unit-test fake gives) and shows each exchange to observe.
func cannedMosaic(t *testing.T, observe func(r *http.Request, body []byte, rec *httptest.ResponseRecorder)) *httptest.Server {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec := httptest.NewRecorder()
		answer := func(status int, b string) {
			rec.Header().Set("Content-Type", "application/json")
			rec.WriteHeader(status)
			_, _ = io.WriteString(rec, b)
		}
		switch r.URL.Path {
		case "/oidc/token":
			answer(http.StatusOK, `{"access_token":"client-token-1","token_type":"Bearer","expires_in":3600,"scope":"openid offline_access"}`)
		case "/cis/v1/auth/link/email/send":
			answer(http.StatusOK, `{"message":"Email sent successfully"}`)
		case "/cis/v1/auth/otp/send":
			answer(http.StatusOK, `{"message":"OTP sent","code":"482913"}`)
		case "/cis/v1/auth/link/email/authenticate", "/cis/v1/auth/otp/authenticate":
			answer(http.StatusOK, `{"access_token":"at","id_token":"it","refresh_token":"rt","token_type":"Bearer","expires_in":3600,"session_id":"sess-1"}`)
		case "/cis/v1/auth/token/refresh":
			answer(http.StatusOK, `{"access_token":"at2","refresh_token":"rt2","token_type":"Bearer","expires_in":3600}`)
		case "/cis/v1/auth/session/logout":
			rec.WriteHeader(http.StatusNoContent)
		case "/cis/v1/users":
			answer(http.StatusCreated, `{"result":{"user_id":"u-1","status":"Active","created_at":1,"updated_at":2,"email":{"value":"jane@example.com","email_verified":false}}}`)
		case "/cis/oidc/.well-known/openid-configuration":
			answer(http.StatusOK, `{"issuer":"https://userid.security","jwks_uri":"`+srv.URL+`/cis/oidc/jwks","token_endpoint":"x"}`)
		default:
			rec.WriteHeader(http.StatusNotFound)
		}
		observe(r, body, rec)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestRequestsMatchOpenAPI validates what the transmit client sends (and what a canned Mosaic
// answers) against Transmit's OpenAPI documents, for minimal and fully populated requests of
// every method. Without the documents it skips, unless OTLOGIN_REQUIRE_SERVICES=1.
func TestRequestsMatchOpenAPI(t *testing.T) {
	t.Parallel()
	spec, err := contract.Shared()
	if err != nil {
		testservice.Unavailable(t, fmt.Sprintf("OpenAPI documents not available (set %s): %v", contract.EnvSpecDir, err))
	}
	checker := contract.NewChecker(spec)
	srv := cannedMosaic(t, func(r *http.Request, body []byte, rec *httptest.ResponseRecorder) {
		for _, v := range checker.Check(r.Context(), contract.Exchange{Request: r, RequestBody: body,
			Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}) {
			t.Errorf("contract violation: %s", v)
		}
	})
	c, err := transmit.New(transmit.Config{BaseURL: srv.URL + "/cis", ClientID: cannedClientID, ClientSecret: cannedSecret})
	require.NoError(t, err)
	ctx := context.Background()
	full := &transmit.ClientAttributes{UserAgent: "UA", IPAddress: "203.0.113.9"}

	_, err = c.SendMagicLink(ctx, transmit.SendMagicLinkRequest{Identifier: "jane@example.com", IdentifierType: transmit.IdentifierEmail, RedirectURI: "https://app.example.com/verify"})
	require.NoError(t, err)
	_, err = c.SendMagicLink(ctx, transmit.SendMagicLinkRequest{Identifier: "jane@example.com", IdentifierType: transmit.IdentifierEmail,
		RedirectURI: "https://app.example.com/verify", State: "st", EmailExpiration: 10, Channel: transmit.ChannelEmail,
		EmailContent:     &transmit.EmailContent{Subject: "s", PrimaryColor: "#6981FF", Base64Logo: "aGk=", HeaderText: "h", BodyText: "b", LinkText: "l", InfoText: "i", FooterText: "f", SenderName: "n"},
		ClientAttributes: full, DeviceID: "dev", GenerateRequestID: true})
	require.NoError(t, err)
	_, err = c.AuthenticateMagicLink(ctx, transmit.AuthenticateMagicLinkRequest{Code: "abc"})
	require.NoError(t, err)
	_, err = c.AuthenticateMagicLink(ctx, transmit.AuthenticateMagicLinkRequest{Code: "abc", Resource: "https://api.example.com",
		Claims: &transmit.Claims{IDToken: map[string]any{"roles": nil}, AccessToken: map[string]any{"roles": nil}}, OrgID: "org",
		ClientAttributes: full, DeviceID: "dev", SessionID: "sess", RequestID: "req"})
	require.NoError(t, err)
	_, err = c.SendOTP(ctx, transmit.SendOTPRequest{Channel: transmit.ChannelSMS, IdentifierType: transmit.IdentifierPhoneNumber, Identifier: "+15551234567"})
	require.NoError(t, err)
	_, err = c.SendOTP(ctx, transmit.SendOTPRequest{Channel: transmit.ChannelEmail, IdentifierType: transmit.IdentifierEmail, Identifier: "jane@example.com",
		EmailContent: &transmit.EmailContent{Subject: "Code"}, CustomSMSInput: &transmit.SMSInput{CustomMessage: "{app}: {otp}", SenderID: "Ex"},
		ApprovalData: map[string]string{"sum": "200"}, CustomEmail: "other@example.com", CustomPhoneNumber: "+15550000000",
		ClientAttributes: full, ExpiresIn: 5, GenerateRequestID: true, DeviceID: "dev"})
	require.NoError(t, err)
	_, err = c.AuthenticateOTP(ctx, transmit.AuthenticateOTPRequest{Passcode: "482913", IdentifierType: transmit.IdentifierEmail, Identifier: "jane@example.com"})
	require.NoError(t, err)
	_, err = c.AuthenticateOTP(ctx, transmit.AuthenticateOTPRequest{Passcode: "482913", IdentifierType: transmit.IdentifierEmail, Identifier: "jane@example.com",
		Resource: "https://api.example.com", Claims: &transmit.Claims{IDToken: map[string]any{"roles": nil}}, OrgID: "org",
		ClientAttributes: full, DeviceID: "dev", SessionID: "sess", RequestID: "req"})
	require.NoError(t, err)
	_, err = c.CreateUser(ctx, transmit.CreateUserRequest{Email: "jane@example.com", PhoneNumber: "+15551234567", Username: "jane"})
	require.NoError(t, err)
	_, err = c.RefreshToken(ctx, "rt-1")
	require.NoError(t, err)
	require.NoError(t, c.Logout(ctx, "sess-1"))

	st := checker.Stats()
	t.Logf("contract: %+v", st)
	assert.Zero(t, st.Violations)
	assert.GreaterOrEqual(t, st.Requests, 12, "token request and every business call validated")
	if path := os.Getenv(contract.EnvReport); path != "" {
		require.NoError(t, checker.AppendReport(path, t.Name()))
	}
}
