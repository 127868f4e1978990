package contract

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/otlogin/otlogin/internal/testservice"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sharedOrSkip(t *testing.T) *Spec {
	t.Helper()
	s, err := Shared()
	if errors.Is(err, ErrSpecNotFound) {
		testservice.Unavailable(t, "spec not available: set OTLOGIN_SPEC_DIR")
	}
	require.NoError(t, err)
	return s
}

func exchange(method, path, reqBody, ctype string, status int, respBody string) Exchange {
	r := httptest.NewRequest(method, "http://127.0.0.1:1"+path, strings.NewReader(reqBody))
	r.Header.Set("Content-Type", ctype)
	if !strings.HasSuffix(path, "/oidc/token") {
		r.Header.Set("Authorization", "Bearer client-token")
	}
	h := http.Header{}
	if respBody != "" {
		h.Set("Content-Type", "application/json")
	}
	return Exchange{Request: r, RequestBody: []byte(reqBody), Status: status, Header: h, Body: []byte(respBody)}
}

func TestChecker(t *testing.T) {
	t.Parallel()
	spec := sharedOrSkip(t)
	const authOTP = `{"passcode":"123456","identifier_type":"email","identifier":"a@example.com"}`
	const tokenForm = "grant_type=client_credentials&client_id=c&client_secret=s"
	cases := []struct {
		name      string
		ex        Exchange
		byDesign  bool
		violation string // substring; "" = conforms
	}{
		{"authenticate ok", exchange("POST", "/cis/v1/auth/otp/authenticate", authOTP, "application/json", 200,
			`{"access_token":"a","token_type":"Bearer","expires_in":3600,"session_id":"s"}`), false, ""},
		{"authenticate 200 missing session_id", exchange("POST", "/cis/v1/auth/otp/authenticate", authOTP, "application/json", 200,
			`{"access_token":"a","token_type":"Bearer","expires_in":3600}`), false, "session_id"},
		{"expires_in as string", exchange("POST", "/cis/v1/auth/link/email/authenticate", `{"code":"c"}`, "application/json", 200,
			`{"access_token":"a","token_type":"Bearer","expires_in":"3600","session_id":"s"}`), false, "expires_in"},
		{"otp error code not in enum", exchange("POST", "/cis/v1/auth/otp/authenticate", authOTP, "application/json", 400,
			`{"error_code":"nope","message":"x"}`), false, "response"},
		{"request missing passcode", exchange("POST", "/cis/v1/auth/otp/authenticate", `{"identifier_type":"email","identifier":"a"}`, "application/json", 400,
			`{"error_code":"system_invalid_input","message":"x"}`), false, "request"},
		{"undocumented 401", exchange("POST", "/cis/v1/auth/otp/send", `{"channel":"email","identifier_type":"email","identifier":"a"}`, "application/json", 401,
			`{"message":"Invalid token","error_code":401}`), false, "401"},
		{"undocumented 401 by design", exchange("POST", "/cis/v1/auth/otp/send", `{"channel":"email","identifier_type":"email","identifier":"a"}`, "application/json", 401,
			`{"message":"Invalid token","error_code":401}`), true, ""},
		{"token ok", exchange("POST", "/oidc/token", tokenForm, "application/x-www-form-urlencoded", 200,
			`{"access_token":"a","token_type":"Bearer","expires_in":3600,"scope":"openid"}`), false, ""},
		{"token missing scope", exchange("POST", "/cis/oidc/token", tokenForm, "application/x-www-form-urlencoded", 200,
			`{"access_token":"a","token_type":"Bearer","expires_in":3600}`), false, "scope"},
		{"token request missing secret", exchange("POST", "/oidc/token", "grant_type=client_credentials&client_id=c", "application/x-www-form-urlencoded", 400,
			`{"message":"client_secret should not be empty","error_code":400}`), false, "request"},
		{"create user needs email or phone", exchange("POST", "/cis/v1/users", `{"username":"u"}`, "application/json", 400,
			`{"message":["email or phone_number is required"],"error_code":400}`), false, "email or phone_number"},
		{"logout 204", exchange("POST", "/cis/v1/auth/session/logout", `{"session_id":"s"}`, "application/json", 204, ``), false, ""},
		// Strict mode: a misspelled optional field is not silently ignored.
		{"misspelled request field", exchange("POST", "/cis/v1/auth/otp/authenticate",
			`{"passcode":"123456","identifier_type":"email","identifier":"a@example.com","sesion_id":"s"}`, "application/json", 200,
			`{"access_token":"a","token_type":"Bearer","expires_in":3600,"session_id":"s"}`), false, "/sesion_id: property not in the schema"},
		{"misspelled nested request field", exchange("POST", "/cis/v1/auth/otp/send",
			`{"channel":"sms","identifier_type":"phone_number","identifier":"+15550001111","custom_sms_input":{"custom_mesage":"{app} {otp}"}}`, "application/json", 200,
			`{"message":"OTP sent"}`), false, "/custom_sms_input/custom_mesage"},
		{"misspelled response field", exchange("POST", "/cis/v1/auth/otp/authenticate", authOTP, "application/json", 200,
			`{"access_token":"a","token_type":"Bearer","expires_in":3600,"session_id":"s","refresh_tokn":"r"}`), false, "/refresh_tokn"},
		{"free-form approval_data passes", exchange("POST", "/cis/v1/auth/otp/send",
			`{"channel":"email","identifier_type":"email","identifier":"a@example.com","approval_data":{"anything":"1"}}`, "application/json", 200,
			`{"message":"OTP sent","approval_data":{"anything":"1"}}`), false, ""},
		{"misspelled token form field", exchange("POST", "/oidc/token", tokenForm+"&scop=x", "application/x-www-form-urlencoded", 200,
			`{"access_token":"a","token_type":"Bearer","expires_in":3600,"scope":"openid"}`), false, "/scop"},
		{"409 ts_error_code is a known extra", exchange("POST", "/cis/v1/users", `{"email":"a@example.com"}`, "application/json", 409,
			`{"message":"taken","error_code":409,"ts_error_code":"identifier_taken"}`), false, ""},
		{"undocumented query parameter", exchange("POST", "/cis/v1/auth/otp/send?debug=1",
			`{"channel":"email","identifier_type":"email","identifier":"a@example.com"}`, "application/json", 200, `{"message":"OTP sent"}`), false, "undocumented query parameter(s): debug"},
		// Security: the operation requires a bearer token.
		{"missing bearer", func() Exchange {
			ex := exchange("POST", "/cis/v1/auth/session/logout", `{"session_id":"s"}`, "application/json", 204, ``)
			ex.Request.Header.Del("Authorization")
			return ex
		}(), false, "Authorization: Bearer <token> required"},
		{"basic instead of bearer", func() Exchange {
			ex := exchange("POST", "/cis/v1/auth/session/logout", `{"session_id":"s"}`, "application/json", 204, ``)
			ex.Request.Header.Set("Authorization", "Basic Y2xpZW50OnNlY3JldA==")
			return ex
		}(), false, "Authorization: Bearer <token> required"},
		{"missing bearer, even with a 401 by design", func() Exchange {
			ex := exchange("POST", "/cis/v1/auth/otp/send", `{"channel":"email","identifier_type":"email","identifier":"a"}`, "application/json", 401,
				`{"message":"Invalid token","error_code":401}`)
			ex.Request.Header.Del("Authorization")
			return ex
		}(), true, "Authorization"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := NewChecker(spec)
			tc.ex.ByDesign = tc.byDesign
			got := c.Check(context.Background(), tc.ex)
			st := c.Stats()
			assert.Equal(t, 1, st.Requests)
			assert.Equal(t, 1, st.Responses)
			assert.Zero(t, st.Unvalidated)
			if tc.violation == "" {
				assert.Empty(t, got)
				assert.Zero(t, st.Violations)
			} else {
				require.NotEmpty(t, got, "expected a violation")
				assert.Contains(t, strings.Join(got, "\n"), tc.violation)
				assert.Equal(t, len(got), st.Violations)
			}
			if tc.byDesign {
				assert.Equal(t, 1, st.OutOfSpecByDesign)
			}
		})
	}
}

// TestLenient: without strict mode a misspelled optional field passes, as in kin-openapi
// alone; the bearer check stays.
func TestLenient(t *testing.T) {
	t.Parallel()
	c := NewChecker(sharedOrSkip(t), Lenient())
	ex := exchange("POST", "/cis/v1/auth/otp/authenticate",
		`{"passcode":"123456","identifier_type":"email","identifier":"a@example.com","sesion_id":"s"}`, "application/json", 200,
		`{"access_token":"a","token_type":"Bearer","expires_in":3600,"session_id":"s"}`)
	assert.Empty(t, c.Check(context.Background(), ex))
	ex.Request.Header.Del("Authorization")
	assert.NotEmpty(t, c.Check(context.Background(), ex))
}

// TestUnvalidatedCounted: a body the documents give no schema for (the discovery document,
// the magic-link error examples) is counted as unvalidated, not as validated.
func TestUnvalidatedCounted(t *testing.T) {
	t.Parallel()
	c := NewChecker(sharedOrSkip(t))
	assert.Empty(t, c.Check(context.Background(), exchange("GET", "/cis/oidc/.well-known/openid-configuration", "", "", 200,
		`{"issuer":"https://userid.security","jwks_uri":"https://x/cis/oidc/jwks"}`)))
	assert.Empty(t, c.Check(context.Background(), exchange("POST", "/cis/v1/auth/link/email/send",
		`{"identifier":"a@example.com","identifier_type":"email","redirect_uri":"https://app.example/v"}`, "application/json", 403,
		`{"error_code":"403","message":"User is not active"}`)))
	assert.Equal(t, Stats{Requests: 2, Unvalidated: 2}, c.Stats(), "requests validated, responses not")
}

func TestUnmatchedAndReport(t *testing.T) {
	t.Parallel()
	c := NewChecker(sharedOrSkip(t))
	assert.Nil(t, c.Check(context.Background(), exchange("GET", "/outbox", "", "", 200, "")))
	assert.Nil(t, c.Check(context.Background(), exchange("POST", "/cis/v1/auth/otp/sendd", "{}", "application/json", 404, `{"message":"Not found"}`)))
	assert.Nil(t, c.Check(context.Background(), exchange("DELETE", "/cis/v1/auth/otp/send", "", "", 405, "")))
	assert.Equal(t, Stats{Unmatched: 3}, c.Stats())

	path := filepath.Join(t.TempDir(), "report")
	require.NoError(t, c.AppendReport(path, "TestX/sub case"))
	require.NoError(t, c.AppendReport(path, "TestY"))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "contract TestX/sub_case requests=0 responses=0 unvalidated=0 violations=0 by_design=0 unmatched=3\n"+
		"contract TestY requests=0 responses=0 unvalidated=0 violations=0 by_design=0 unmatched=3\n", string(b))
}

func TestSpecDir(t *testing.T) {
	t.Setenv(EnvSpecDir, t.TempDir())
	_, err := SpecDir()
	assert.ErrorIs(t, err, ErrSpecNotFound)
}
