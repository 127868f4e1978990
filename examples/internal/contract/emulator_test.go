package contract_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin/examples/internal/contract"
	"github.com/otlogin/otlogin/transmit/transmittest"
)

// The emulator's own contract: its success paths break nothing, the requests it refuses are the
// ones the documents refuse, and its answers outside the documents are all marked by design.
// (transmit/transmittest tests the behaviour; these tests hold it to the OpenAPI documents.)

// TestEmulatorHappyPathNoViolations drives every endpoint through its success path; the
// attached checker fails the test at cleanup if any exchange broke the contract.
func TestEmulatorHappyPathNoViolations(t *testing.T) {
	t.Parallel()
	s, c := contract.NewTestServer(t, transmittest.Options{AllowedRedirectURIs: []string{"http://localhost:8080/verify"}})
	contract.Need(t, c)
	require.Equal(t, http.StatusOK, get(t, s.BaseURL()+"/oidc/.well-known/openid-configuration").Status)
	require.Equal(t, http.StatusOK, get(t, s.BaseURL()+"/oidc/jwks").Status)
	r := postForm(t, s.URL+"/cis/oidc/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {s.ClientID}, "client_secret": {s.ClientSecret}})
	require.Equal(t, http.StatusOK, r.Status)
	tok := clientToken(t, s)

	r = call(t, s, tok, "/v1/users", map[string]any{"email": "h@example.com", "phone_number": "+15557770000"})
	require.Equal(t, http.StatusCreated, r.Status, r.Raw)
	r = call(t, s, tok, "/v1/auth/link/email/send", map[string]any{
		"identifier": "h@example.com", "identifier_type": "email", "redirect_uri": "http://localhost:8080/verify", "state": "st1"})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	link, ok := s.LastLink("h@example.com")
	require.True(t, ok)
	u, err := url.Parse(link)
	require.NoError(t, err)
	r = call(t, s, tok, "/v1/auth/link/email/authenticate", map[string]any{"code": u.Query().Get("code"), "device_id": "dev1", "claims": map[string]any{"id_token": map[string]any{"roles": nil}}})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	sid, _ := r.JSON["session_id"].(string)

	r = call(t, s, tok, "/v1/auth/otp/send", map[string]any{"channel": "sms", "identifier_type": "phone_number", "identifier": "+15557770000",
		"approval_data": map[string]any{"sum": "200"}, "custom_sms_input": map[string]any{"custom_message": "{app}: {otp}"}})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	otp, _ := s.LastCode("+15557770000")
	r = call(t, s, tok, "/v1/auth/otp/authenticate", map[string]any{"passcode": otp, "identifier_type": "phone_number", "identifier": "+15557770000", "session_id": sid})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	rt, _ := r.JSON["refresh_token"].(string)

	r = call(t, s, tok, "/v1/auth/token/refresh", map[string]any{"refresh_token": rt})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	r = call(t, s, tok, "/v1/auth/session/logout", map[string]any{"session_id": sid})
	require.Equal(t, http.StatusNoContent, r.Status)

	st := c.Stats()
	assert.Equal(t, 11, st.Requests)
	assert.Equal(t, 10, st.Responses, "the discovery document has no schema")
	assert.Equal(t, 1, st.Unvalidated)
	assert.Zero(t, st.Violations, c.Violations())
	assert.Zero(t, st.OutOfSpecByDesign)
	assert.Zero(t, st.Unmatched)
}

// TestEmulatorRefusesWhatTheContractRefuses: every request the emulator answers with its
// documented 400 is one the checker finds in breach of the documents.
func TestEmulatorRefusesWhatTheContractRefuses(t *testing.T) {
	t.Parallel()
	opts := transmittest.Options{}
	c := attachUnreported(t, &opts) // these requests are violations on purpose
	s := transmittest.NewTestServer(t, opts)
	tok := clientToken(t, s)
	s.CreateUser("c@example.com", "+15550001111")
	long := strings.Repeat("d", 81)
	cases := []struct {
		name, path string
		body       any
	}{
		{"otp send invalid json", "/v1/auth/otp/send", `{"channel":`},
		{"otp send wrong type", "/v1/auth/otp/send", map[string]any{"channel": "email", "identifier_type": "email", "identifier": 42}},
		{"otp send missing identifier", "/v1/auth/otp/send", map[string]any{"channel": "email", "identifier_type": "email"}},
		{"otp send unknown channel", "/v1/auth/otp/send", map[string]any{"channel": "fax", "identifier_type": "email", "identifier": "c@example.com"}},
		{"otp send long device_id", "/v1/auth/otp/send", map[string]any{"channel": "email", "identifier_type": "email", "identifier": "c@example.com", "device_id": long}},
		{"otp send email_content without subject", "/v1/auth/otp/send", map[string]any{"channel": "email", "identifier_type": "email", "identifier": "c@example.com", "email_content": map[string]any{}}},
		{"otp auth missing passcode", "/v1/auth/otp/authenticate", map[string]any{"identifier_type": "email", "identifier": "c@example.com"}},
		{"otp auth numeric passcode", "/v1/auth/otp/authenticate", map[string]any{"passcode": 123456, "identifier_type": "email", "identifier": "c@example.com"}},
		{"link send missing redirect", "/v1/auth/link/email/send", map[string]any{"identifier": "c@example.com", "identifier_type": "email"}},
		{"link send both forms", "/v1/auth/link/email/send", map[string]any{"identifier": "c@example.com", "identifier_type": "email", "email": "c@example.com", "redirect_uri": "https://a.example/v"}},
		{"link send long device_id", "/v1/auth/link/email/send", map[string]any{"email": "c@example.com", "redirect_uri": "https://a.example/v", "device_id": long}},
		{"link auth missing code", "/v1/auth/link/email/authenticate", map[string]any{}},
		{"link auth not an object", "/v1/auth/link/email/authenticate", `["code"]`},
		{"create user without email or phone", "/v1/users", map[string]any{"username": "x"}},
	}
	for _, tc := range cases {
		before := c.Stats().Violations
		r := call(t, s, tok, tc.path, tc.body)
		assert.Equal(t, http.StatusBadRequest, r.Status, tc.name)
		assert.Greater(t, c.Stats().Violations, before, "%s: the checker sees the request break the contract", tc.name)
	}
}

// TestEmulatorMissingBearer: the three 401 answers of the token rule are out of spec by
// design; only the request with no Authorization header breaks the operation's security (for
// an unknown or expired token the checker cannot know).
func TestEmulatorMissingBearer(t *testing.T) {
	t.Parallel()
	opts := transmittest.Options{}
	c := attachUnreported(t, &opts)
	s := transmittest.NewTestServer(t, opts)
	for _, tok := range []string{"", "not-a-token"} {
		assert.Equal(t, http.StatusUnauthorized, sendOTP(t, s, tok).Status)
	}
	tok := clientToken(t, s)
	s.Advance(time.Hour)
	assert.Equal(t, http.StatusUnauthorized, sendOTP(t, s, tok).Status)
	assert.Equal(t, 3, c.Stats().OutOfSpecByDesign)
	v := c.Violations()
	require.Len(t, v, 1, v)
	assert.Contains(t, v[0], "Authorization: Bearer <token> required")
}

// TestEmulatorUnmatchedCounted: a request to a path or method no document describes reaches
// the checker and is counted as unmatched.
func TestEmulatorUnmatchedCounted(t *testing.T) {
	t.Parallel()
	s, c := contract.NewTestServer(t, transmittest.Options{})
	contract.Need(t, c)
	tok := clientToken(t, s)
	assert.Equal(t, http.StatusNotFound, call(t, s, tok, "/v1/auth/otp/sendd", map[string]any{}).Status)
	assert.Equal(t, http.StatusMethodNotAllowed, get(t, s.BaseURL()+"/v1/auth/otp/send").Status)
	st := c.Stats()
	assert.Equal(t, 2, st.Unmatched)
	assert.Equal(t, 1, st.Requests, "the token request only")
}

// attachUnreported attaches a checker whose violations are the point of the test: it is not
// reported at cleanup. It skips (or fails under OTLOGIN_REQUIRE_SERVICES=1) without the documents.
func attachUnreported(t *testing.T, opts *transmittest.Options) *contract.Checker {
	t.Helper()
	spec, err := contract.Shared()
	if err != nil {
		contract.Need(t, nil)
	}
	c := contract.NewChecker(spec)
	opts.Observer = func(ex transmittest.Exchange) {
		c.Check(ex.Request.Context(), contract.Exchange{Request: ex.Request, RequestBody: ex.RequestBody,
			Status: ex.Status, Header: ex.Header, Body: ex.Body, ByDesign: ex.ByDesign})
	}
	return c
}

// resp is a decoded answer.
type resp struct {
	Status int
	Raw    string
	JSON   map[string]any
}

func read(t *testing.T, res *http.Response) resp {
	t.Helper()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	out := resp{Status: res.StatusCode, Raw: string(b)}
	if len(b) > 0 && strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		_ = json.Unmarshal(b, &out.JSON)
	}
	return out
}

func get(t *testing.T, u string) resp {
	t.Helper()
	res, err := http.Get(u)
	require.NoError(t, err)
	return read(t, res)
}

func postForm(t *testing.T, u string, form url.Values) resp {
	t.Helper()
	res, err := http.PostForm(u, form)
	require.NoError(t, err)
	return read(t, res)
}

func clientToken(t *testing.T, s *transmittest.Server) string {
	t.Helper()
	r := postForm(t, s.URL+"/oidc/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {s.ClientID}, "client_secret": {s.ClientSecret}})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	tok, _ := r.JSON["access_token"].(string)
	require.NotEmpty(t, tok)
	return tok
}

// call POSTs body (a string is sent raw, anything else JSON-encoded) to s.BaseURL()+path.
func call(t *testing.T, s *transmittest.Server, token, path string, body any) resp {
	t.Helper()
	raw, ok := body.(string)
	if !ok {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		raw = string(b)
	}
	req, err := http.NewRequest(http.MethodPost, s.BaseURL()+path, bytes.NewReader([]byte(raw)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	return read(t, res)
}

func sendOTP(t *testing.T, s *transmittest.Server, tok string) resp {
	t.Helper()
	return call(t, s, tok, "/v1/auth/otp/send", map[string]any{"channel": "email", "identifier_type": "email", "identifier": "a@example.com"})
}
