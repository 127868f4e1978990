package transmit

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRequestBodiesUseSpecFieldNames(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		path string
		call func(context.Context, *Client) error
		keys []string
		want map[string]any // exact decoded body when set
	}{
		{"magic link send minimal", pathMagicLinkSend, func(ctx context.Context, c *Client) error {
			_, err := c.SendMagicLink(ctx, SendMagicLinkRequest{Identifier: "jane@example.com", IdentifierType: IdentifierEmail, RedirectURI: "https://app.example.com/verify"})
			return err
		}, nil, map[string]any{"identifier": "jane@example.com", "identifier_type": "email", "redirect_uri": "https://app.example.com/verify"}},
		{"magic link send full", pathMagicLinkSend, func(ctx context.Context, c *Client) error {
			_, err := c.SendMagicLink(ctx, SendMagicLinkRequest{
				Identifier: "jane@example.com", IdentifierType: IdentifierEmail, RedirectURI: "https://app.example.com/verify",
				State: "st", EmailExpiration: 10, Channel: ChannelEmail, DeviceID: "dev", GenerateRequestID: true,
				EmailContent:     &EmailContent{Subject: "Sign in", LinkText: "Go", SenderName: "Example"},
				ClientAttributes: &ClientAttributes{UserAgent: "UA", IPAddress: "203.0.113.9"},
			})
			return err
		}, []string{"channel", "client_attributes", "device_id", "email_content", "email_expiration", "generate_request_id",
			"identifier", "identifier_type", "redirect_uri", "state"}, nil},
		{"magic link authenticate minimal", pathMagicLinkAuth, func(ctx context.Context, c *Client) error {
			_, err := c.AuthenticateMagicLink(ctx, AuthenticateMagicLinkRequest{Code: "abc"})
			return err
		}, nil, map[string]any{"code": "abc"}},
		{"magic link authenticate full", pathMagicLinkAuth, func(ctx context.Context, c *Client) error {
			_, err := c.AuthenticateMagicLink(ctx, AuthenticateMagicLinkRequest{Code: "abc", Resource: "https://api.example.com",
				Claims: &Claims{IDToken: map[string]any{"roles": nil}}, OrgID: "org", ClientAttributes: &ClientAttributes{UserAgent: "UA"},
				DeviceID: "dev", SessionID: "sess", RequestID: "req"})
			return err
		}, []string{"claims", "client_attributes", "code", "device_id", "org_id", "request_id", "resource", "session_id"}, nil},
		{"otp send minimal", pathOTPSend, func(ctx context.Context, c *Client) error {
			_, err := c.SendOTP(ctx, SendOTPRequest{Channel: ChannelSMS, IdentifierType: IdentifierPhoneNumber, Identifier: "+15551234567"})
			return err
		}, nil, map[string]any{"channel": "sms", "identifier_type": "phone_number", "identifier": "+15551234567"}},
		{"otp send full", pathOTPSend, func(ctx context.Context, c *Client) error {
			_, err := c.SendOTP(ctx, SendOTPRequest{Channel: ChannelEmail, IdentifierType: IdentifierEmail, Identifier: "jane@example.com",
				EmailContent: &EmailContent{Subject: "Code"}, CustomSMSInput: &SMSInput{CustomMessage: "{app}: {otp}", SenderID: "Ex"},
				ApprovalData: map[string]string{"sum": "200"}, CustomEmail: "other@example.com", CustomPhoneNumber: "+15550000000",
				ClientAttributes: &ClientAttributes{IPAddress: "203.0.113.9"}, ExpiresIn: 5, GenerateRequestID: true, DeviceID: "dev"})
			return err
		}, []string{"approval_data", "channel", "client_attributes", "custom_email", "custom_phone_number", "custom_sms_input",
			"device_id", "email_content", "expires_in", "generate_request_id", "identifier", "identifier_type"}, nil},
		{"otp authenticate minimal", pathOTPAuth, func(ctx context.Context, c *Client) error {
			_, err := c.AuthenticateOTP(ctx, AuthenticateOTPRequest{Passcode: "482913", IdentifierType: IdentifierEmail, Identifier: "jane@example.com"})
			return err
		}, nil, map[string]any{"passcode": "482913", "identifier_type": "email", "identifier": "jane@example.com"}},
		{"otp authenticate with session", pathOTPAuth, func(ctx context.Context, c *Client) error {
			_, err := c.AuthenticateOTP(ctx, AuthenticateOTPRequest{Passcode: "482913", IdentifierType: IdentifierEmail, Identifier: "jane@example.com", SessionID: "sess"})
			return err
		}, []string{"identifier", "identifier_type", "passcode", "session_id"}, nil},
		{"create user", pathUsers, func(ctx context.Context, c *Client) error {
			_, err := c.CreateUser(ctx, CreateUserRequest{PhoneNumber: "+15551234567"})
			return err
		}, nil, map[string]any{"phone_number": "+15551234567"}},
		{"logout", pathLogout, func(ctx context.Context, c *Client) error {
			return c.Logout(ctx, "sess-1")
		}, nil, map[string]any{"session_id": "sess-1"}},
		{"refresh", pathRefresh, func(ctx context.Context, c *Client) error {
			_, err := c.RefreshToken(ctx, "rt-1")
			return err
		}, nil, map[string]any{"refresh_token": "rt-1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t)
			c := newTestClient(t, f, nil)
			require.NoError(t, tc.call(context.Background(), c))
			got := f.last(tc.path)
			assert.Equal(t, http.MethodPost, got.method)
			assert.Equal(t, "application/json", got.header.Get("Content-Type"))
			assert.True(t, strings.HasPrefix(got.header.Get("Authorization"), "Bearer client-token-"), "Bearer client token")
			m := decodeMap(t, got.body)
			if tc.want != nil {
				assert.Equal(t, tc.want, m)
			} else {
				assert.Equal(t, tc.keys, keys(m))
			}
			assert.NotContains(t, m, "email", "the legacy email form is never sent for magic links")
		})
	}
}

func TestNestedObjectsUseSpecFieldNames(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	c := newTestClient(t, f, nil)
	_, err := c.SendOTP(context.Background(), SendOTPRequest{Channel: ChannelSMS, IdentifierType: IdentifierPhoneNumber, Identifier: "+15551234567",
		EmailContent:     &EmailContent{Subject: "s", PrimaryColor: "#6981FF", Base64Logo: "aGk=", HeaderText: "h", BodyText: "b", LinkText: "l", InfoText: "i", FooterText: "f", SenderName: "n"},
		CustomSMSInput:   &SMSInput{CustomMessage: "{app} {otp}", SenderID: "Ex"},
		ClientAttributes: &ClientAttributes{UserAgent: "UA", IPAddress: "203.0.113.9"}})
	require.NoError(t, err)
	m := decodeMap(t, f.last(pathOTPSend).body)
	ec, ok := m["email_content"].(map[string]any)
	require.True(t, ok)
	assert.Equal(t, []string{"base64logo", "bodyText", "footerText", "headerText", "infoText", "linkText", "primaryColor", "senderName", "subject"}, keys(ec))
	sms, ok := m["custom_sms_input"].(map[string]any)
	require.True(t, ok)
	assert.Equal(t, []string{"custom_message", "sender_id"}, keys(sms))
	ca, ok := m["client_attributes"].(map[string]any)
	require.True(t, ok)
	assert.Equal(t, []string{"ip_address", "user_agent"}, keys(ca))
}

func TestClientSideValidation(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("d", 81)
	okML := SendMagicLinkRequest{Identifier: "jane@example.com", IdentifierType: IdentifierEmail, RedirectURI: "https://app.example.com/verify"}
	okOTP := SendOTPRequest{Channel: ChannelEmail, IdentifierType: IdentifierEmail, Identifier: "jane@example.com"}
	okAuth := AuthenticateOTPRequest{Passcode: "123456", IdentifierType: IdentifierEmail, Identifier: "jane@example.com"}
	// Each builder copies a valid request, applies one change and sends it.
	ml := func(change func(*SendMagicLinkRequest)) func(context.Context, *Client) error {
		return func(ctx context.Context, c *Client) error {
			r := okML
			change(&r)
			_, err := c.SendMagicLink(ctx, r)
			return err
		}
	}
	otp := func(change func(*SendOTPRequest)) func(context.Context, *Client) error {
		return func(ctx context.Context, c *Client) error {
			r := okOTP
			change(&r)
			_, err := c.SendOTP(ctx, r)
			return err
		}
	}
	auth := func(change func(*AuthenticateOTPRequest)) func(context.Context, *Client) error {
		return func(ctx context.Context, c *Client) error {
			r := okAuth
			change(&r)
			_, err := c.AuthenticateOTP(ctx, r)
			return err
		}
	}
	cases := []struct {
		name  string
		field string
		call  func(context.Context, *Client) error
	}{
		{"magic link empty identifier", "identifier", ml(func(r *SendMagicLinkRequest) { r.Identifier = " " })},
		{"magic link empty identifier_type", "identifier_type", ml(func(r *SendMagicLinkRequest) { r.IdentifierType = "" })},
		{"magic link empty redirect_uri", "redirect_uri", ml(func(r *SendMagicLinkRequest) { r.RedirectURI = "" })},
		{"magic link relative redirect_uri", "redirect_uri", ml(func(r *SendMagicLinkRequest) { r.RedirectURI = "/verify" })},
		{"magic link sms channel", "channel", ml(func(r *SendMagicLinkRequest) { r.Channel = ChannelSMS })},
		{"magic link long device_id", "device_id", ml(func(r *SendMagicLinkRequest) { r.DeviceID = long })},
		{"magic link email_content without subject", "email_content.subject", ml(func(r *SendMagicLinkRequest) { r.EmailContent = &EmailContent{LinkText: "go"} })},
		{"magic link negative expiration", "email_expiration", ml(func(r *SendMagicLinkRequest) { r.EmailExpiration = -1 })},
		{"magic link authenticate empty code", "code", func(ctx context.Context, c *Client) error {
			_, err := c.AuthenticateMagicLink(ctx, AuthenticateMagicLinkRequest{})
			return err
		}},
		{"magic link authenticate long device_id", "device_id", func(ctx context.Context, c *Client) error {
			_, err := c.AuthenticateMagicLink(ctx, AuthenticateMagicLinkRequest{Code: "c", DeviceID: long})
			return err
		}},
		{"otp empty channel", "channel", otp(func(r *SendOTPRequest) { r.Channel = "" })},
		{"otp unknown channel", "channel", otp(func(r *SendOTPRequest) { r.Channel = "carrier-pigeon" })},
		{"otp empty identifier", "identifier", otp(func(r *SendOTPRequest) { r.Identifier = "" })},
		{"otp long device_id", "device_id", otp(func(r *SendOTPRequest) { r.DeviceID = long })},
		{"otp sms message without placeholders", "custom_message", otp(func(r *SendOTPRequest) { r.CustomSMSInput = &SMSInput{CustomMessage: "your code"} })},
		{"otp sms sender too long", "sender_id", otp(func(r *SendOTPRequest) { r.CustomSMSInput = &SMSInput{SenderID: "ABCDEFGHIJKL"} })},
		{"otp too much approval data", "approval_data", otp(func(r *SendOTPRequest) {
			r.ApprovalData = map[string]string{}
			for i := range 11 {
				r.ApprovalData[string(rune('a'+i))] = "v"
			}
		})},
		{"otp approval data key with a space", "approval_data keys", otp(func(r *SendOTPRequest) { r.ApprovalData = map[string]string{"a b": "v"} })},
		{"otp authenticate empty passcode", "passcode", auth(func(r *AuthenticateOTPRequest) { r.Passcode = "" })},
		{"otp authenticate empty identifier_type", "identifier_type", auth(func(r *AuthenticateOTPRequest) { r.IdentifierType = "" })},
		{"otp authenticate long device_id", "device_id", auth(func(r *AuthenticateOTPRequest) { r.DeviceID = long })},
		{"create user without email or phone", "email or phone_number", func(ctx context.Context, c *Client) error {
			_, err := c.CreateUser(ctx, CreateUserRequest{Username: "jane"})
			return err
		}},
		{"logout empty session", "session_id", func(ctx context.Context, c *Client) error {
			return c.Logout(ctx, "")
		}},
		{"refresh empty token", "refresh_token", func(ctx context.Context, c *Client) error {
			_, err := c.RefreshToken(ctx, "")
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t)
			c := newTestClient(t, f, nil)
			err := tc.call(context.Background(), c)
			require.ErrorIs(t, err, ErrInvalidRequest)
			assert.Contains(t, err.Error(), tc.field)
			assert.NotContains(t, err.Error(), "123456", "values never appear in errors")
			assert.Equal(t, 0, f.total(), "no HTTP call")
		})
	}
}
