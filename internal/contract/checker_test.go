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

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sharedOrSkip(t *testing.T) *Spec {
	t.Helper()
	s, err := Shared()
	if errors.Is(err, ErrSpecNotFound) && os.Getenv("OTLOGIN_REQUIRE_SERVICES") != "1" {
		t.Skip("spec not available: set OTLOGIN_SPEC_DIR")
	}
	require.NoError(t, err)
	return s
}

func exchange(method, path, reqBody, ctype string, status int, respBody string) Exchange {
	r := httptest.NewRequest(method, "http://127.0.0.1:1"+path, strings.NewReader(reqBody))
	r.Header.Set("Content-Type", ctype)
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

func TestUnmatchedAndReport(t *testing.T) {
	t.Parallel()
	c := NewChecker(sharedOrSkip(t))
	assert.Nil(t, c.Check(context.Background(), exchange("GET", "/outbox", "", "", 200, "")))
	assert.Equal(t, Stats{Unmatched: 1}, c.Stats())

	path := filepath.Join(t.TempDir(), "report")
	require.NoError(t, c.AppendReport(path, "TestX/sub case"))
	require.NoError(t, c.AppendReport(path, "TestY"))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "contract TestX/sub_case requests=0 responses=0 violations=0 by_design=0 unmatched=1\n"+
		"contract TestY requests=0 responses=0 violations=0 by_design=0 unmatched=1\n", string(b))
}

func TestSpecDir(t *testing.T) {
	t.Setenv(EnvSpecDir, t.TempDir())
	_, err := SpecDir()
	assert.ErrorIs(t, err, ErrSpecNotFound)
}
