package transmit

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/otlogin/otlogin/internal/contract"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRequestsMatchOpenAPI validates what the client sends (and what the fake answers) against
// Transmit's OpenAPI documents with kin-openapi, for minimal and fully populated requests of
// every method. Without the documents it skips, unless OTLOGIN_REQUIRE_SERVICES=1.
func TestRequestsMatchOpenAPI(t *testing.T) {
	t.Parallel()
	spec, err := contract.Shared()
	if err != nil {
		if os.Getenv("OTLOGIN_REQUIRE_SERVICES") == "1" {
			t.Fatalf("OpenAPI documents required: %v", err)
		}
		t.Skipf("OpenAPI documents not available (set %s): %v", contract.EnvSpecDir, err)
	}
	checker := contract.NewChecker(spec)
	f := newFake(t)
	f.observe = func(r *http.Request, body []byte, rec *httptest.ResponseRecorder) {
		for _, v := range checker.Check(r.Context(), contract.Exchange{Request: r, RequestBody: body,
			Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}) {
			t.Errorf("contract violation: %s", v)
		}
	}
	c := newTestClient(t, f, nil)
	ctx := context.Background()
	full := &ClientAttributes{UserAgent: "UA", IPAddress: "203.0.113.9"}

	_, err = c.SendMagicLink(ctx, SendMagicLinkRequest{Identifier: "jane@example.com", IdentifierType: IdentifierEmail, RedirectURI: "https://app.example.com/verify"})
	require.NoError(t, err)
	_, err = c.SendMagicLink(ctx, SendMagicLinkRequest{Identifier: "jane@example.com", IdentifierType: IdentifierEmail,
		RedirectURI: "https://app.example.com/verify", State: "st", EmailExpiration: 10, Channel: ChannelEmail,
		EmailContent:     &EmailContent{Subject: "s", PrimaryColor: "#6981FF", Base64Logo: "aGk=", HeaderText: "h", BodyText: "b", LinkText: "l", InfoText: "i", FooterText: "f", SenderName: "n"},
		ClientAttributes: full, DeviceID: "dev", GenerateRequestID: true})
	require.NoError(t, err)
	_, err = c.AuthenticateMagicLink(ctx, AuthenticateMagicLinkRequest{Code: "abc"})
	require.NoError(t, err)
	_, err = c.AuthenticateMagicLink(ctx, AuthenticateMagicLinkRequest{Code: "abc", Resource: "https://api.example.com",
		Claims: &Claims{IDToken: map[string]any{"roles": nil}, AccessToken: map[string]any{"roles": nil}}, OrgID: "org",
		ClientAttributes: full, DeviceID: "dev", SessionID: "sess", RequestID: "req"})
	require.NoError(t, err)
	_, err = c.SendOTP(ctx, SendOTPRequest{Channel: ChannelSMS, IdentifierType: IdentifierPhoneNumber, Identifier: "+15551234567"})
	require.NoError(t, err)
	_, err = c.SendOTP(ctx, SendOTPRequest{Channel: ChannelEmail, IdentifierType: IdentifierEmail, Identifier: "jane@example.com",
		EmailContent: &EmailContent{Subject: "Code"}, CustomSMSInput: &SMSInput{CustomMessage: "{app}: {otp}", SenderID: "Ex"},
		ApprovalData: map[string]string{"sum": "200"}, CustomEmail: "other@example.com", CustomPhoneNumber: "+15550000000",
		ClientAttributes: full, ExpiresIn: 5, GenerateRequestID: true, DeviceID: "dev"})
	require.NoError(t, err)
	_, err = c.AuthenticateOTP(ctx, AuthenticateOTPRequest{Passcode: "482913", IdentifierType: IdentifierEmail, Identifier: "jane@example.com"})
	require.NoError(t, err)
	_, err = c.AuthenticateOTP(ctx, AuthenticateOTPRequest{Passcode: "482913", IdentifierType: IdentifierEmail, Identifier: "jane@example.com",
		Resource: "https://api.example.com", Claims: &Claims{IDToken: map[string]any{"roles": nil}}, OrgID: "org",
		ClientAttributes: full, DeviceID: "dev", SessionID: "sess", RequestID: "req"})
	require.NoError(t, err)
	_, err = c.CreateUser(ctx, CreateUserRequest{Email: "jane@example.com", PhoneNumber: "+15551234567", Username: "jane"})
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
