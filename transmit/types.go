package transmit

// This file holds the wire types of the Mosaic API. Every JSON name is Mosaic's own (its
// One-Time Login, sessions and users APIs; the contract checker in examples/internal/contract
// holds the client's requests to them); optional fields use omitempty so the client never
// sends a field the caller did not set.

// Identifier types accepted by the One-Time Login endpoints.
const (
	IdentifierEmail       = "email"
	IdentifierPhoneNumber = "phone_number"
	IdentifierUserID      = "user_id"
	IdentifierUsername    = "username"
)

// OTP delivery channels for [Client.SendOTP].
const (
	ChannelEmail  = "email"
	ChannelSMS    = "sms"
	ChannelDirect = "direct"
)

// EmailContent customises the email Mosaic sends (schema EmailContentAttributes).
// When it is set, Mosaic's default template is not used at all; Subject is required.
type EmailContent struct {
	Subject      string `json:"subject"`
	PrimaryColor string `json:"primaryColor,omitempty"`
	Base64Logo   string `json:"base64logo,omitempty"`
	HeaderText   string `json:"headerText,omitempty"`
	BodyText     string `json:"bodyText,omitempty"`
	LinkText     string `json:"linkText,omitempty"`
	InfoText     string `json:"infoText,omitempty"`
	FooterText   string `json:"footerText,omitempty"`
	SenderName   string `json:"senderName,omitempty"`
}

// ClientAttributes describes the end user's browser (schema ClientAttributes).
type ClientAttributes struct {
	UserAgent string `json:"user_agent,omitempty"`
	IPAddress string `json:"ip_address,omitempty"`
}

// SMSInput customises the SMS text (schema BaseSmsOtpInput). CustomMessage must contain the
// placeholders {otp} and {app} and be at most 140 characters; SenderID at most 11.
type SMSInput struct {
	CustomMessage string `json:"custom_message,omitempty"`
	SenderID      string `json:"sender_id,omitempty"`
}

// Claims requests extra claims in the returned tokens (schema ApiTokenRequestClaims).
type Claims struct {
	IDToken     map[string]any `json:"id_token,omitempty"`
	AccessToken map[string]any `json:"access_token,omitempty"`
}

// SendMagicLinkRequest is the identifier form of sendMagicLinkEmail
// (schema ApiMagicLinkInitWithIdentifierRequestDto). The legacy email form is not sent:
// Mosaic rejects a body carrying both forms.
type SendMagicLinkRequest struct {
	Identifier        string            `json:"identifier"`
	IdentifierType    string            `json:"identifier_type"`
	RedirectURI       string            `json:"redirect_uri"`
	State             string            `json:"state,omitempty"`
	EmailExpiration   float64           `json:"email_expiration,omitempty"` // minutes
	EmailContent      *EmailContent     `json:"email_content,omitempty"`
	Channel           string            `json:"channel,omitempty"` // "email" or "direct"
	ClientAttributes  *ClientAttributes `json:"client_attributes,omitempty"`
	DeviceID          string            `json:"device_id,omitempty"` // at most 80 characters
	GenerateRequestID bool              `json:"generate_request_id,omitempty"`
}

// SendMagicLinkResponse is the 200 answer of sendMagicLinkEmail (schema ApiSendEmailResponse).
type SendMagicLinkResponse struct {
	Message string `json:"message"`
}

// AuthenticateMagicLinkRequest redeems a magic-link code (schema ApiMagicLinkTokenRequestDto).
type AuthenticateMagicLinkRequest struct {
	Code             string            `json:"code"`
	Resource         string            `json:"resource,omitempty"`
	Claims           *Claims           `json:"claims,omitempty"`
	OrgID            string            `json:"org_id,omitempty"`
	ClientAttributes *ClientAttributes `json:"client_attributes,omitempty"`
	DeviceID         string            `json:"device_id,omitempty"`
	SessionID        string            `json:"session_id,omitempty"`
	RequestID        string            `json:"request_id,omitempty"`
}

// SendOTPRequest sends a one-time passcode (schema ApiOtpInitRequestDto).
type SendOTPRequest struct {
	Channel           string            `json:"channel"` // "email", "sms" or "direct"
	IdentifierType    string            `json:"identifier_type"`
	Identifier        string            `json:"identifier"`
	EmailContent      *EmailContent     `json:"email_content,omitempty"`
	CustomSMSInput    *SMSInput         `json:"custom_sms_input,omitempty"`
	ApprovalData      map[string]string `json:"approval_data,omitempty"`
	CustomEmail       string            `json:"custom_email,omitempty"`
	CustomPhoneNumber string            `json:"custom_phone_number,omitempty"`
	ClientAttributes  *ClientAttributes `json:"client_attributes,omitempty"`
	ExpiresIn         float64           `json:"expires_in,omitempty"` // minutes
	GenerateRequestID bool              `json:"generate_request_id,omitempty"`
	DeviceID          string            `json:"device_id,omitempty"`
}

// SendOTPResponse is the 200 answer of sendOTP (schema ApiSendOtpResponse). Code is set only
// for the direct channel. ApprovalData echoes the request's approval_data; Mosaic types it as
// a plain object, so its values are kept as decoded JSON (string, float64, bool, nil, ...).
type SendOTPResponse struct {
	Message      string         `json:"message"`
	ApprovalData map[string]any `json:"approval_data,omitempty"`
	Code         string         `json:"code,omitempty"`
}

// AuthenticateOTPRequest validates a passcode (schema ApiOtpTokenRequestDto).
type AuthenticateOTPRequest struct {
	Passcode         string            `json:"passcode"`
	IdentifierType   string            `json:"identifier_type"`
	Identifier       string            `json:"identifier"`
	Resource         string            `json:"resource,omitempty"`
	Claims           *Claims           `json:"claims,omitempty"`
	OrgID            string            `json:"org_id,omitempty"`
	ClientAttributes *ClientAttributes `json:"client_attributes,omitempty"`
	DeviceID         string            `json:"device_id,omitempty"`
	SessionID        string            `json:"session_id,omitempty"`
	RequestID        string            `json:"request_id,omitempty"`
}

// TokenResponse is the 200 answer of both authenticate endpoints (schema ApiTokenResponse) and
// of token refresh (which carries no session_id). IDToken and RefreshToken may be absent.
type TokenResponse struct {
	AccessToken  string  `json:"access_token"`
	IDToken      string  `json:"id_token,omitempty"`
	RefreshToken string  `json:"refresh_token,omitempty"`
	TokenType    string  `json:"token_type"`
	ExpiresIn    float64 `json:"expires_in"` // seconds
	SessionID    string  `json:"session_id,omitempty"`
}

// RefreshTokenRequest is the body of POST /v1/auth/token/refresh (refreshBackendAuthToken).
type RefreshTokenRequest struct {
	RefreshToken string `json:"refresh_token"`
}

// LogoutRequest is the body of POST /v1/auth/session/logout; Mosaic answers 204.
type LogoutRequest struct {
	SessionID string `json:"session_id"`
}

// CreateUserRequest is the body of POST /v1/users (createUser). Email or PhoneNumber is required.
type CreateUserRequest struct {
	Email       string `json:"email,omitempty"`
	PhoneNumber string `json:"phone_number,omitempty"` // E.164
	Username    string `json:"username,omitempty"`
}

// User is the part of Mosaic's ApiUser that otlogin reads.
type User struct {
	UserID      string     `json:"user_id"`
	Status      string     `json:"status"` // Active, Disabled or Pending
	Email       *UserEmail `json:"email,omitempty"`
	PhoneNumber *UserPhone `json:"phone_number,omitempty"`
	CreatedAt   float64    `json:"created_at"`
	UpdatedAt   float64    `json:"updated_at"`
}

// UserEmail is ApiUser's email object.
type UserEmail struct {
	Value         string `json:"value"`
	EmailVerified bool   `json:"email_verified"`
}

// UserPhone is ApiUser's phone_number object.
type UserPhone struct {
	Value               string `json:"value"`
	PhoneNumberVerified bool   `json:"phone_number_verified"`
}

// CreateUserResponse is the 2xx answer of createUser: {"result": ApiUser}.
type CreateUserResponse struct {
	Result User `json:"result"`
}

// Discovery is what token verification needs from Mosaic's OpenID configuration
// ({BaseURL}/oidc/.well-known/openid-configuration). Mosaic's issuer (for example
// https://userid.security) is not the discovery URL, so it is read from here, not derived.
type Discovery struct {
	Issuer  string `json:"issuer"`
	JWKSURL string `json:"jwks_uri"`
	// IDTokenSigningAlgs is id_token_signing_alg_values_supported, as published.
	IDTokenSigningAlgs []string `json:"id_token_signing_alg_values_supported,omitempty"`
}
