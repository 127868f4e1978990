package transmit

import (
	"context"
	"errors"
	"net/http"
	"strings"
)

// Paths of the backend One-Time Login endpoints, under BaseURL.
const (
	pathMagicLinkSend = "/v1/auth/link/email/send"
	pathMagicLinkAuth = "/v1/auth/link/email/authenticate"
	pathOTPSend       = "/v1/auth/otp/send"
	pathOTPAuth       = "/v1/auth/otp/authenticate"
)

// SendMagicLink emails a magic link (sendMagicLinkEmail). Only the identifier form of the
// request is sent. Identifier, IdentifierType and RedirectURI are required; Channel, if set,
// is "email" or "direct". It is never retried except once after a 401 (see the package doc).
func (c *Client) SendMagicLink(ctx context.Context, req SendMagicLinkRequest) (*SendMagicLinkResponse, error) {
	const op = opSendMagicLink
	v := checks{op: op}
	v.required("identifier", req.Identifier)
	v.required("identifier_type", req.IdentifierType)
	v.required("redirect_uri", req.RedirectURI)
	v.absoluteURL("redirect_uri", req.RedirectURI)
	if req.Channel != "" && req.Channel != ChannelEmail && req.Channel != ChannelDirect {
		v.fail("channel must be email or direct")
	}
	v.maxLen("device_id", req.DeviceID, maxDeviceIDLen)
	v.nonNegative("email_expiration", req.EmailExpiration)
	v.emailContent(req.EmailContent)
	if v.err != nil {
		return nil, v.err
	}
	var out SendMagicLinkResponse
	if err := c.do(ctx, call{op: op, method: http.MethodPost, path: pathMagicLinkSend,
		body: req, want: http.StatusOK, out: &out, auth: true}); err != nil {
		return nil, err
	}
	return &out, nil
}

// AuthenticateMagicLink redeems the code Mosaic appended to the redirect URI
// (authenticateMagicLink) and returns the user's tokens. Code is required.
func (c *Client) AuthenticateMagicLink(ctx context.Context, req AuthenticateMagicLinkRequest) (*TokenResponse, error) {
	const op = opAuthMagicLink
	v := checks{op: op}
	v.required("code", req.Code)
	v.maxLen("device_id", req.DeviceID, maxDeviceIDLen)
	if v.err != nil {
		return nil, v.err
	}
	return c.authenticate(ctx, op, pathMagicLinkAuth, req)
}

// SendOTP sends a one-time passcode by email or SMS, or returns it (channel "direct")
// (sendOTP). Channel, IdentifierType and Identifier are required.
func (c *Client) SendOTP(ctx context.Context, req SendOTPRequest) (*SendOTPResponse, error) {
	const op = "send otp"
	v := checks{op: op}
	switch req.Channel {
	case ChannelEmail, ChannelSMS, ChannelDirect:
	default:
		v.fail("channel must be email, sms or direct")
	}
	v.required("identifier", req.Identifier)
	v.required("identifier_type", req.IdentifierType)
	v.maxLen("device_id", req.DeviceID, maxDeviceIDLen)
	v.nonNegative("expires_in", req.ExpiresIn)
	v.emailContent(req.EmailContent)
	if s := req.CustomSMSInput; s != nil {
		v.maxLen("custom_sms_input.custom_message", s.CustomMessage, maxSMSMessageLen)
		if s.CustomMessage != "" && (!strings.Contains(s.CustomMessage, "{otp}") || !strings.Contains(s.CustomMessage, "{app}")) {
			v.fail("custom_sms_input.custom_message must contain {otp} and {app}")
		}
		v.maxLen("custom_sms_input.sender_id", s.SenderID, maxSMSSenderIDLen)
	}
	if len(req.ApprovalData) > maxApprovalDataLen {
		v.fail("approval_data has more than %d keys", maxApprovalDataLen)
	}
	for k := range req.ApprovalData {
		if !approvalKey(k) {
			v.fail("approval_data keys may contain only letters, digits, underscores, hyphens and periods")
			break
		}
	}
	if v.err != nil {
		return nil, v.err
	}
	var out SendOTPResponse
	if err := c.do(ctx, call{op: op, method: http.MethodPost, path: pathOTPSend,
		body: req, want: http.StatusOK, out: &out, auth: true}); err != nil {
		return nil, err
	}
	return &out, nil
}

// AuthenticateOTP validates a passcode (authenticateOTP) and returns the user's tokens.
// Passcode, IdentifierType and Identifier are required.
func (c *Client) AuthenticateOTP(ctx context.Context, req AuthenticateOTPRequest) (*TokenResponse, error) {
	const op = "authenticate otp"
	v := checks{op: op}
	v.required("passcode", req.Passcode)
	v.required("identifier", req.Identifier)
	v.required("identifier_type", req.IdentifierType)
	v.maxLen("device_id", req.DeviceID, maxDeviceIDLen)
	if v.err != nil {
		return nil, v.err
	}
	return c.authenticate(ctx, op, pathOTPAuth, req)
}

// authenticate posts an authenticate request and checks the ApiTokenResponse.
func (c *Client) authenticate(ctx context.Context, op, path string, req any) (*TokenResponse, error) {
	out := tokenWire{needSession: true}
	if err := c.do(ctx, call{op: op, method: http.MethodPost, path: path,
		body: req, want: http.StatusOK, out: &out, auth: true}); err != nil {
		return nil, err
	}
	return out.response(), nil
}

// tokenWire decodes ApiTokenResponse / ApiRefreshTokenResponseDto strictly enough to fail
// closed: access_token, token_type and a positive expires_in are required, and session_id
// for authenticate answers.
type tokenWire struct {
	AccessToken  string   `json:"access_token"`
	IDToken      string   `json:"id_token"`
	RefreshToken string   `json:"refresh_token"`
	TokenType    string   `json:"token_type"`
	ExpiresIn    *float64 `json:"expires_in"`
	SessionID    string   `json:"session_id"`

	needSession bool
}

func (w *tokenWire) check() error {
	switch {
	case w.AccessToken == "":
		return errors.New("access_token missing")
	case w.TokenType == "":
		return errors.New("token_type missing")
	case w.ExpiresIn == nil:
		return errors.New("expires_in missing")
	case *w.ExpiresIn <= 0:
		return errors.New("expires_in not positive")
	case w.needSession && w.SessionID == "":
		return errors.New("session_id missing")
	}
	return nil
}

func (w *tokenWire) response() *TokenResponse {
	r := &TokenResponse{
		AccessToken:  w.AccessToken,
		IDToken:      w.IDToken,
		RefreshToken: w.RefreshToken,
		TokenType:    w.TokenType,
		SessionID:    w.SessionID,
	}
	if w.ExpiresIn != nil {
		r.ExpiresIn = *w.ExpiresIn
	}
	return r
}

// approvalKey reports whether k is a non-empty approval_data key of ASCII letters, digits,
// underscores, hyphens and periods (Mosaic's rule).
func approvalKey(k string) bool {
	if k == "" {
		return false
	}
	for _, r := range k {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-', r == '.':
		default:
			return false
		}
	}
	return true
}
