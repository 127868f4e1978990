package transmittest_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin/transmit/transmittest"
)

func TestContractBreakingRequests(t *testing.T) {
	t.Parallel()
	// NewServer, not NewTestServer: these requests are violations on purpose.
	s := transmittest.NewServer(transmittest.Options{})
	t.Cleanup(s.Close)
	tok := clientToken(t, s)
	s.CreateUser("c@example.com", "+15550001111")

	long := strings.Repeat("d", 81)
	cases := []struct {
		name, path string
		body       any
		status     int
		code       any
	}{
		{"otp send invalid json", "/v1/auth/otp/send", `{"channel":`, 400, "system_invalid_input"},
		{"otp send wrong type", "/v1/auth/otp/send", map[string]any{"channel": "email", "identifier_type": "email", "identifier": 42}, 400, "system_invalid_input"},
		{"otp send missing identifier", "/v1/auth/otp/send", map[string]any{"channel": "email", "identifier_type": "email"}, 400, "system_invalid_input"},
		{"otp send unknown channel", "/v1/auth/otp/send", map[string]any{"channel": "fax", "identifier_type": "email", "identifier": "c@example.com"}, 400, "system_invalid_input"},
		{"otp send long device_id", "/v1/auth/otp/send", map[string]any{"channel": "email", "identifier_type": "email", "identifier": "c@example.com", "device_id": long}, 400, "system_invalid_input"},
		{"otp send email_content without subject", "/v1/auth/otp/send", map[string]any{"channel": "email", "identifier_type": "email", "identifier": "c@example.com", "email_content": map[string]any{}}, 400, "system_invalid_input"},
		{"otp auth missing passcode", "/v1/auth/otp/authenticate", map[string]any{"identifier_type": "email", "identifier": "c@example.com"}, 400, "system_invalid_input"},
		{"otp auth numeric passcode", "/v1/auth/otp/authenticate", map[string]any{"passcode": 123456, "identifier_type": "email", "identifier": "c@example.com"}, 400, "system_invalid_input"},
		{"link send missing redirect", "/v1/auth/link/email/send", map[string]any{"identifier": "c@example.com", "identifier_type": "email"}, 400, "400"},
		{"link send both forms", "/v1/auth/link/email/send", map[string]any{"identifier": "c@example.com", "identifier_type": "email", "email": "c@example.com", "redirect_uri": "https://a.example/v"}, 400, "400"},
		{"link send long device_id", "/v1/auth/link/email/send", map[string]any{"email": "c@example.com", "redirect_uri": "https://a.example/v", "device_id": long}, 400, "400"},
		{"link auth missing code", "/v1/auth/link/email/authenticate", map[string]any{}, 400, "400"},
		{"link auth not an object", "/v1/auth/link/email/authenticate", `["code"]`, 400, "400"},
		{"create user without email or phone", "/v1/users", map[string]any{"username": "x"}, 400, float64(400)},
	}
	for _, tc := range cases {
		before := s.ContractStats().Violations
		r := call(t, s, tok, tc.path, tc.body)
		assert.Equal(t, tc.status, r.Status, tc.name)
		assert.Equal(t, tc.code, r.JSON["error_code"], tc.name)
		assert.NotEmpty(t, r.JSON["message"], tc.name)
		if s.ContractStats().Enabled {
			assert.Greater(t, s.ContractStats().Violations, before, "%s: the checker sees the request break the contract", tc.name)
		}
	}
	r := postForm(t, s.URL+"/oidc/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {s.ClientID}})
	assert.Equal(t, http.StatusBadRequest, r.Status)
	assert.Equal(t, map[string]any{"message": "client_secret should not be empty", "error_code": float64(400)}, r.JSON)
	r = postForm(t, s.URL+"/cis/oidc/token", url.Values{"grant_type": {"password"}, "client_id": {s.ClientID}, "client_secret": {s.ClientSecret}})
	assert.Equal(t, http.StatusBadRequest, r.Status)
	assert.IsType(t, []any{}, r.JSON["message"])
}

func TestForceHelpers(t *testing.T) {
	t.Parallel()
	s := transmittest.NewTestServer(t, transmittest.Options{})
	tok := clientToken(t, s)
	s.CreateUser("f@example.com", "")
	cases := []struct {
		name   string
		fault  transmittest.Fault
		status int
		body   string
		header map[string]string
	}{
		{"numeric", transmittest.FaultNumericCode(400, "Bad request"), 400, `{"error_code":400,"message":"Bad request"}`, nil},
		{"numeric string", transmittest.FaultStringCode(404, "User not found"), 404, `{"error_code":"404","message":"User not found"}`, nil},
		{"symbolic", transmittest.FaultSymbolic(400, "auth_invalid_credentials", "Invalid credentials"), 400, `{"error_code":"auth_invalid_credentials","message":"Invalid credentials"}`, nil},
		{"message array", transmittest.FaultMessageArray(400, "a", "b"), 400, `{"error_code":400,"message":["a","b"]}`, nil},
		{"empty", transmittest.FaultEmptyBody(502), 502, ``, nil},
		{"html", transmittest.FaultHTML(502), 502, ``, map[string]string{"Content-Type": "text/html; charset=utf-8"}},
		{"429", transmittest.FaultRateLimited(1500 * time.Millisecond), 429, `{"error_code":429,"message":"Too Many Requests"}`, map[string]string{"Retry-After": "2"}},
		{"500", transmittest.FaultInternal(), 500, `{"error_code":500,"message":"Something went wrong - Internal server error"}`, nil},
		{"503", transmittest.FaultUnavailable(), 503, `{"error_code":503,"message":"Service Unavailable"}`, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := s.Outbox()
			s.Force(transmittest.EndpointSendOTP, transmittest.Fault{Status: tc.fault.Status, Body: tc.fault.Body, Header: tc.fault.Header, Times: 1})
			r := sendOTP(t, s, tok, "email", "email", "f@example.com")
			assert.Equal(t, tc.status, r.Status)
			if tc.body != "" {
				assert.JSONEq(t, tc.body, r.Raw)
			} else if tc.name == "empty" {
				assert.Empty(t, r.Raw)
			} else {
				assert.Contains(t, r.Raw, "<html>")
			}
			for k, v := range tc.header {
				assert.Equal(t, v, r.Header.Get(k))
			}
			assert.Equal(t, before, s.Outbox(), "a forced fault sends nothing")
			r = sendOTP(t, s, tok, "email", "email", "f@example.com")
			assert.Equal(t, http.StatusOK, r.Status, "Times: 1 applies once")
		})
	}
	s.Force(transmittest.EndpointToken, transmittest.FaultInternal())
	assert.Equal(t, 500, postForm(t, s.URL+"/oidc/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {s.ClientID}, "client_secret": {s.ClientSecret}}).Status)
	assert.Equal(t, 500, postForm(t, s.URL+"/oidc/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {s.ClientID}, "client_secret": {s.ClientSecret}}).Status, "Times: 0 is forever")
	s.ClearForced()
	clientToken(t, s)
}

// TestHappyPathNoViolations drives every endpoint through its success path; NewTestServer
// fails the test at cleanup if any exchange broke the contract.
func TestHappyPathNoViolations(t *testing.T) {
	t.Parallel()
	s := transmittest.NewTestServer(t, transmittest.Options{AllowedRedirectURIs: []string{"https://app.example/verify"}})
	require.Equal(t, http.StatusOK, get(t, s.BaseURL()+"/oidc/.well-known/openid-configuration").Status)
	require.Equal(t, http.StatusOK, get(t, s.BaseURL()+"/oidc/jwks").Status)
	r := postForm(t, s.URL+"/cis/oidc/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {s.ClientID}, "client_secret": {s.ClientSecret}})
	require.Equal(t, http.StatusOK, r.Status)
	tok := clientToken(t, s)

	r = call(t, s, tok, "/v1/users", map[string]any{"email": "h@example.com", "phone_number": "+15557770000"})
	require.Equal(t, http.StatusCreated, r.Status, r.Raw)
	code := sendLink(t, s, tok, "h@example.com")
	r = call(t, s, tok, "/v1/auth/link/email/authenticate", map[string]any{"code": code, "device_id": "dev1", "claims": map[string]any{"id_token": map[string]any{"roles": nil}}})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	sid, _ := r.JSON["session_id"].(string)

	r = call(t, s, tok, "/v1/auth/otp/send", map[string]any{"channel": "sms", "identifier_type": "phone_number", "identifier": "+15557770000",
		"approval_data": map[string]any{"sum": "200"}, "custom_sms_input": map[string]any{"custom_message": "{app}: {otp}"}})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	otp, _ := s.LastCode("+15557770000")
	r = call(t, s, tok, "/v1/auth/otp/authenticate", map[string]any{"passcode": otp, "identifier_type": "phone_number", "identifier": "+15557770000", "session_id": sid})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	assert.Equal(t, sid, r.JSON["session_id"], "second factor joins the session")
	rt, _ := r.JSON["refresh_token"].(string)

	r = call(t, s, tok, "/v1/auth/token/refresh", map[string]any{"refresh_token": rt})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	r = call(t, s, tok, "/v1/auth/session/logout", map[string]any{"session_id": sid})
	require.Equal(t, http.StatusNoContent, r.Status)

	t.Run("contract counts", func(t *testing.T) {
		needContract(t, s)
		st := s.ContractStats()
		assert.Equal(t, 11, st.Requests)
		assert.Equal(t, 10, st.Responses, "the discovery document has no schema")
		assert.Equal(t, 1, st.Unvalidated)
		assert.Zero(t, st.Violations, s.ContractViolations())
		assert.Zero(t, st.OutOfSpecByDesign)
		assert.Zero(t, st.Unmatched)
	})
}

func TestOutboxHandler(t *testing.T) {
	t.Parallel()
	s := transmittest.NewTestServer(t, transmittest.Options{})
	tok := clientToken(t, s)
	s.CreateUser("o@example.com", "")
	sendLink(t, s, tok, "o@example.com")
	require.Equal(t, http.StatusOK, sendOTP(t, s, tok, "email", "email", "o@example.com").Status)
	code, _ := s.LastCode("o@example.com")
	link, _ := s.LastLink("o@example.com")

	h := s.OutboxHandler()
	rec := newRec(t, h, "/outbox")
	assert.Contains(t, rec, code)
	assert.Contains(t, rec, `href="`+strings.ReplaceAll(link, "&", "&amp;")+`"`)
	rec = newRec(t, h, "/outbox.json")
	assert.Contains(t, rec, `"kind":"otp"`)
}

// TestUnmatchedCounted: a request to a path or method no document describes reaches the
// checker and is counted as unmatched (it used to be answered before any check).
func TestUnmatchedCounted(t *testing.T) {
	t.Parallel()
	s := transmittest.NewTestServer(t, transmittest.Options{})
	tok := clientToken(t, s)
	r := call(t, s, tok, "/v1/auth/otp/sendd", map[string]any{})
	assert.Equal(t, http.StatusNotFound, r.Status)
	assert.Equal(t, http.StatusMethodNotAllowed, get(t, s.BaseURL()+"/v1/auth/otp/send").Status)
	needContract(t, s)
	st := s.ContractStats()
	assert.Equal(t, 2, st.Unmatched)
	assert.Equal(t, 1, st.Requests, "the token request only")
}
