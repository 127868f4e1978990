// Package emutest drives a transmittest emulator over raw HTTP, the way Mosaic's clients
// call Mosaic, for the two suites that test the emulator itself: transmit/transmittest (its
// behaviour) and examples/internal/contract (its answers held to Transmit's OpenAPI
// documents). Both drive the same requests; they are written here once.
//
// It imports only the standard library, testify and transmittest, so the root module
// requires nothing for it. Every helper fails the test (require) when a request cannot be
// made or an answer cannot be read; call them from the test's goroutine.
package emutest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin/transmit/transmittest"
)

// Resp is a decoded answer.
type Resp struct {
	Status int
	Header http.Header
	Raw    string
	// JSON is the body decoded as a JSON object when the answer is application/json; nil
	// otherwise (or when it is not an object).
	JSON map[string]any
}

// Read reads and closes res.
func Read(t testing.TB, res *http.Response) Resp {
	t.Helper()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	out := Resp{Status: res.StatusCode, Header: res.Header, Raw: string(b)}
	if len(b) > 0 && strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		_ = json.Unmarshal(b, &out.JSON)
	}
	return out
}

// Get sends GET u.
func Get(t testing.TB, u string) Resp {
	t.Helper()
	res, err := http.Get(u)
	require.NoError(t, err)
	return Read(t, res)
}

// PostForm posts form to u.
func PostForm(t testing.TB, u string, form url.Values) Resp {
	t.Helper()
	res, err := http.PostForm(u, form)
	require.NoError(t, err)
	return Read(t, res)
}

// ClientToken gets a client-credentials access token from s's /oidc/token.
func ClientToken(t testing.TB, s *transmittest.Server) string {
	t.Helper()
	r := PostForm(t, s.URL+"/oidc/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {s.ClientID}, "client_secret": {s.ClientSecret},
	})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	tok, _ := r.JSON["access_token"].(string)
	require.NotEmpty(t, tok)
	return tok
}

// Call POSTs body (a string is sent raw, anything else JSON-encoded) to s.BaseURL()+path,
// with the bearer token when token is not "".
func Call(t testing.TB, s *transmittest.Server, token, path string, body any) Resp {
	t.Helper()
	var raw []byte
	if str, ok := body.(string); ok {
		raw = []byte(str)
	} else {
		var err error
		raw, err = json.Marshal(body)
		require.NoError(t, err)
	}
	req, err := http.NewRequest(http.MethodPost, s.BaseURL()+path, bytes.NewReader(raw))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	return Read(t, res)
}

// SendOTP asks s to send a passcode over channel to id (of type idType).
func SendOTP(t testing.TB, s *transmittest.Server, tok, channel, idType, id string) Resp {
	t.Helper()
	return Call(t, s, tok, "/v1/auth/otp/send", map[string]any{"channel": channel, "identifier_type": idType, "identifier": id})
}

// LinkRedirect and LinkState are what [SendLink] asks the emulator to put in the link.
const (
	LinkRedirect = "http://localhost:8080/verify"
	LinkState    = "st1"
)

// SendLink asks s to email a magic link to email (redirect_uri [LinkRedirect], state
// [LinkState]), requires a 200, and returns the link from the outbox, parsed: its code query
// parameter is the one to authenticate.
func SendLink(t testing.TB, s *transmittest.Server, tok, email string) *url.URL {
	t.Helper()
	r := Call(t, s, tok, "/v1/auth/link/email/send", map[string]any{
		"identifier": email, "identifier_type": "email", "redirect_uri": LinkRedirect, "state": LinkState,
	})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	link, ok := s.LastLink(email)
	require.True(t, ok)
	u, err := url.Parse(link)
	require.NoError(t, err)
	return u
}

// HappyPath is what [RunHappyPath] leaves for the caller to check.
type HappyPath struct {
	// Link is the magic link the emulator sent.
	Link *url.URL
	// SessionID is the session the magic link's authentication opened.
	SessionID string
	// OTP is the answer to the passcode's authentication (the second factor, sent with
	// SessionID).
	OTP Resp
}

// RunHappyPath drives every endpoint of s through its success path and requires each step
// to succeed: discovery, JWKS, a token from /cis/oidc/token and one from /oidc/token, create
// user (h@example.com, +15557770000), magic link send and authenticate (with a device_id and
// an id_token claims request), SMS passcode send (with approval_data and custom_sms_input) and
// authenticate into the link's session, token refresh, and logout: 11 exchanges. s must
// allow the redirect URI [LinkRedirect].
func RunHappyPath(t testing.TB, s *transmittest.Server) HappyPath {
	t.Helper()
	require.Equal(t, http.StatusOK, Get(t, s.BaseURL()+"/oidc/.well-known/openid-configuration").Status)
	require.Equal(t, http.StatusOK, Get(t, s.BaseURL()+"/oidc/jwks").Status)
	r := PostForm(t, s.URL+"/cis/oidc/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {s.ClientID}, "client_secret": {s.ClientSecret}})
	require.Equal(t, http.StatusOK, r.Status)
	tok := ClientToken(t, s)

	r = Call(t, s, tok, "/v1/users", map[string]any{"email": "h@example.com", "phone_number": "+15557770000"})
	require.Equal(t, http.StatusCreated, r.Status, r.Raw)
	var hp HappyPath
	hp.Link = SendLink(t, s, tok, "h@example.com")
	r = Call(t, s, tok, "/v1/auth/link/email/authenticate", map[string]any{"code": hp.Link.Query().Get("code"), "device_id": "dev1", "claims": map[string]any{"id_token": map[string]any{"roles": nil}}})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	hp.SessionID, _ = r.JSON["session_id"].(string)

	r = Call(t, s, tok, "/v1/auth/otp/send", map[string]any{"channel": "sms", "identifier_type": "phone_number", "identifier": "+15557770000",
		"approval_data": map[string]any{"sum": "200"}, "custom_sms_input": map[string]any{"custom_message": "{app}: {otp}"}})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	otp, _ := s.LastCode("+15557770000")
	hp.OTP = Call(t, s, tok, "/v1/auth/otp/authenticate", map[string]any{"passcode": otp, "identifier_type": "phone_number", "identifier": "+15557770000", "session_id": hp.SessionID})
	require.Equal(t, http.StatusOK, hp.OTP.Status, hp.OTP.Raw)
	rt, _ := hp.OTP.JSON["refresh_token"].(string)

	r = Call(t, s, tok, "/v1/auth/token/refresh", map[string]any{"refresh_token": rt})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	r = Call(t, s, tok, "/v1/auth/session/logout", map[string]any{"session_id": hp.SessionID})
	require.Equal(t, http.StatusNoContent, r.Status)
	return hp
}

// BadRequest is a request that breaks Transmit's OpenAPI documents and that the emulator
// answers with its documented 400.
type BadRequest struct {
	Name, Path string
	// Body is sent by [Call]: a string as it is, anything else JSON-encoded.
	Body any
	// ErrorCode is the answer's error_code as decoded from JSON: a string, or float64(400)
	// where Mosaic answers a number.
	ErrorCode any
}

// BadRequestEmail and BadRequestPhone are the user the [BadRequests] are made for: create it
// (Server.CreateUser) first.
const (
	BadRequestEmail = "c@example.com"
	BadRequestPhone = "+15550001111"
)

// BadRequests returns the requests the documents refuse (bad JSON, wrong types, missing or
// unknown values, a device_id over 80 characters, both forms of a link request), one per
// rule, for the user [BadRequestEmail].
func BadRequests() []BadRequest {
	long := strings.Repeat("d", 81)
	return []BadRequest{
		{"otp send invalid json", "/v1/auth/otp/send", `{"channel":`, "system_invalid_input"},
		{"otp send wrong type", "/v1/auth/otp/send", map[string]any{"channel": "email", "identifier_type": "email", "identifier": 42}, "system_invalid_input"},
		{"otp send missing identifier", "/v1/auth/otp/send", map[string]any{"channel": "email", "identifier_type": "email"}, "system_invalid_input"},
		{"otp send unknown channel", "/v1/auth/otp/send", map[string]any{"channel": "fax", "identifier_type": "email", "identifier": BadRequestEmail}, "system_invalid_input"},
		{"otp send long device_id", "/v1/auth/otp/send", map[string]any{"channel": "email", "identifier_type": "email", "identifier": BadRequestEmail, "device_id": long}, "system_invalid_input"},
		{"otp send email_content without subject", "/v1/auth/otp/send", map[string]any{"channel": "email", "identifier_type": "email", "identifier": BadRequestEmail, "email_content": map[string]any{}}, "system_invalid_input"},
		{"otp auth missing passcode", "/v1/auth/otp/authenticate", map[string]any{"identifier_type": "email", "identifier": BadRequestEmail}, "system_invalid_input"},
		{"otp auth numeric passcode", "/v1/auth/otp/authenticate", map[string]any{"passcode": 123456, "identifier_type": "email", "identifier": BadRequestEmail}, "system_invalid_input"},
		{"link send missing redirect", "/v1/auth/link/email/send", map[string]any{"identifier": BadRequestEmail, "identifier_type": "email"}, "400"},
		{"link send both forms", "/v1/auth/link/email/send", map[string]any{"identifier": BadRequestEmail, "identifier_type": "email", "email": BadRequestEmail, "redirect_uri": "https://a.example/v"}, "400"},
		{"link send long device_id", "/v1/auth/link/email/send", map[string]any{"email": BadRequestEmail, "redirect_uri": "https://a.example/v", "device_id": long}, "400"},
		{"link auth missing code", "/v1/auth/link/email/authenticate", map[string]any{}, "400"},
		{"link auth not an object", "/v1/auth/link/email/authenticate", `["code"]`, "400"},
		{"create user without email or phone", "/v1/users", map[string]any{"username": "x"}, float64(400)},
	}
}
