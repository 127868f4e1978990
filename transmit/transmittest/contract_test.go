package transmittest_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin/internal/emutest"
	"github.com/otlogin/otlogin/transmit/transmittest"
)

func TestContractBreakingRequests(t *testing.T) {
	t.Parallel()
	s := transmittest.NewTestServer(t, transmittest.Options{})
	tok := emutest.ClientToken(t, s)
	s.CreateUser(emutest.BadRequestEmail, emutest.BadRequestPhone)

	for _, tc := range emutest.BadRequests() {
		r := emutest.Call(t, s, tok, tc.Path, tc.Body)
		assert.Equal(t, http.StatusBadRequest, r.Status, tc.Name)
		assert.Equal(t, tc.ErrorCode, r.JSON["error_code"], tc.Name)
		assert.NotEmpty(t, r.JSON["message"], tc.Name)
	}
	r := emutest.PostForm(t, s.URL+"/oidc/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {s.ClientID}})
	assert.Equal(t, http.StatusBadRequest, r.Status)
	assert.Equal(t, map[string]any{"message": "client_secret should not be empty", "error_code": float64(400)}, r.JSON)
	r = emutest.PostForm(t, s.URL+"/cis/oidc/token", url.Values{"grant_type": {"password"}, "client_id": {s.ClientID}, "client_secret": {s.ClientSecret}})
	assert.Equal(t, http.StatusBadRequest, r.Status)
	assert.IsType(t, []any{}, r.JSON["message"])
}

func TestForceHelpers(t *testing.T) {
	t.Parallel()
	s := transmittest.NewTestServer(t, transmittest.Options{})
	tok := emutest.ClientToken(t, s)
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
			r := emutest.SendOTP(t, s, tok, "email", "email", "f@example.com")
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
			r = emutest.SendOTP(t, s, tok, "email", "email", "f@example.com")
			assert.Equal(t, http.StatusOK, r.Status, "Times: 1 applies once")
		})
	}
	s.Force(transmittest.EndpointToken, transmittest.FaultInternal())
	assert.Equal(t, 500, emutest.PostForm(t, s.URL+"/oidc/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {s.ClientID}, "client_secret": {s.ClientSecret}}).Status)
	assert.Equal(t, 500, emutest.PostForm(t, s.URL+"/oidc/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {s.ClientID}, "client_secret": {s.ClientSecret}}).Status, "Times: 0 is forever")
	s.ClearForced()
	emutest.ClientToken(t, s)
}

// TestHappyPathObserved drives every endpoint through its success path; the Observer sees
// every exchange, none of them out of spec by design. (The examples module runs the same path,
// emutest.RunHappyPath, with the OpenAPI contract checker attached.)
func TestHappyPathObserved(t *testing.T) {
	t.Parallel()
	opts, seen := observe(transmittest.Options{AllowedRedirectURIs: []string{emutest.LinkRedirect}})
	s := transmittest.NewTestServer(t, opts)
	hp := emutest.RunHappyPath(t, s)
	require.Equal(t, emutest.LinkState, hp.Link.Query().Get("state"))
	assert.Equal(t, hp.SessionID, hp.OTP.JSON["session_id"], "second factor joins the session")
	sid := hp.SessionID

	t.Run("observed", func(t *testing.T) {
		ex := seen.all()
		assert.Len(t, ex, 11, "discovery, JWKS, two token requests and seven business calls")
		assert.Zero(t, seen.byDesign())
		last := ex[len(ex)-1]
		assert.Equal(t, "/cis/v1/auth/session/logout", last.Request.URL.Path)
		assert.Equal(t, http.StatusNoContent, last.Status)
		assert.JSONEq(t, `{"session_id":"`+sid+`"}`, string(last.RequestBody))
	})
}

func TestOutboxHandler(t *testing.T) {
	t.Parallel()
	s := transmittest.NewTestServer(t, transmittest.Options{})
	tok := emutest.ClientToken(t, s)
	s.CreateUser("o@example.com", "")
	sendLink(t, s, tok, "o@example.com")
	require.Equal(t, http.StatusOK, emutest.SendOTP(t, s, tok, "email", "email", "o@example.com").Status)
	code, _ := s.LastCode("o@example.com")
	link, _ := s.LastLink("o@example.com")

	h := s.OutboxHandler()
	rec := newRec(t, h, "/outbox")
	assert.Contains(t, rec, code)
	assert.Contains(t, rec, `href="`+strings.ReplaceAll(link, "&", "&amp;")+`"`)
	rec = newRec(t, h, "/outbox.json")
	assert.Contains(t, rec, `"kind":"otp"`)
}

// TestUnmatchedObserved: a request to a path or method the emulator does not serve reaches the
// Observer, marked out of spec by design (a contract checker counts it as unmatched).
func TestUnmatchedObserved(t *testing.T) {
	t.Parallel()
	opts, seen := observe(transmittest.Options{})
	s := transmittest.NewTestServer(t, opts)
	tok := emutest.ClientToken(t, s)
	r := emutest.Call(t, s, tok, "/v1/auth/otp/sendd", map[string]any{})
	assert.Equal(t, http.StatusNotFound, r.Status)
	assert.Equal(t, http.StatusMethodNotAllowed, emutest.Get(t, s.BaseURL()+"/v1/auth/otp/send").Status)
	ex := seen.all()
	require.Len(t, ex, 3, "the token request and the two refused ones")
	assert.False(t, ex[0].ByDesign)
	assert.Equal(t, []int{http.StatusNotFound, http.StatusMethodNotAllowed}, []int{ex[1].Status, ex[2].Status})
	assert.True(t, ex[1].ByDesign && ex[2].ByDesign)
}

// TestRedirectAllowList: the documented 400 for a redirect_uri outside the app's allow-list is
// reachable by default: the allow-list is the configured public URLs (loopback origins when
// none are configured).
func TestRedirectAllowList(t *testing.T) {
	t.Parallel()
	const refused = "redirect_uri is not one of the allowed redirect URIs configured for this app"
	send := func(t *testing.T, s *transmittest.Server, redirect string) emutest.Resp {
		return emutest.Call(t, s, emutest.ClientToken(t, s), "/v1/auth/link/email/send", map[string]any{
			"identifier": "rd@example.com", "identifier_type": "email", "redirect_uri": redirect})
	}
	t.Run("default: loopback origins", func(t *testing.T) {
		t.Parallel()
		s := transmittest.NewTestServer(t, transmittest.Options{})
		s.CreateUser("rd@example.com", "")
		for _, ok := range []string{"http://127.0.0.1:9/auth/link/email/callback", "http://localhost:8080/x", "https://[::1]/x"} {
			assert.Equal(t, http.StatusOK, send(t, s, ok).Status, ok)
		}
		for _, bad := range []string{"https://evil.example/steal", "http://127.0.0.1.evil.example/x", "javascript://127.0.0.1/x"} {
			r := send(t, s, bad)
			assert.Equal(t, http.StatusBadRequest, r.Status, bad)
			assert.Equal(t, map[string]any{"error_code": "400", "message": refused}, r.JSON, bad)
		}
	})
	t.Run("configured public URLs", func(t *testing.T) {
		t.Parallel()
		s := transmittest.NewTestServer(t, transmittest.Options{PublicURLs: []string{"https://app.example.com"}})
		s.CreateUser("rd@example.com", "")
		assert.Equal(t, http.StatusOK, send(t, s, "https://app.example.com/auth/link/email/callback").Status)
		for _, bad := range []string{"http://app.example.com/auth/link/email/callback", "https://app.example.com:8443/x",
			"https://evil.example/x", "http://127.0.0.1:9/x"} {
			r := send(t, s, bad)
			assert.Equal(t, http.StatusBadRequest, r.Status, bad)
			assert.Equal(t, refused, r.JSON["message"], bad)
		}
	})
}

// TestSendOTPLimits: the limits Mosaic's One-Time Login API states in prose are enforced, and nested
// objects are type-checked like top-level fields.
func TestSendOTPLimits(t *testing.T) {
	t.Parallel()
	// NewServer: these requests break the contract on purpose.
	s := transmittest.NewServer(transmittest.Options{})
	t.Cleanup(s.Close)
	tok := emutest.ClientToken(t, s)
	s.CreateUser("lim@example.com", "+15550002222")
	base := func(extra map[string]any) map[string]any {
		m := map[string]any{"channel": "sms", "identifier_type": "phone_number", "identifier": "+15550002222"}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	keys := func(n int) map[string]any {
		m := map[string]any{}
		for i := range n {
			m[string(rune('a'+i))] = "v"
		}
		return m
	}
	ok140 := "{app} {otp} " + strings.Repeat("x", 140-12)
	cases := []struct {
		name string
		body map[string]any
		want string // substring of the 400 message; "" = 200
	}{
		{"140-character text", base(map[string]any{"custom_sms_input": map[string]any{"custom_message": ok140}}), ""},
		{"141-character text", base(map[string]any{"custom_sms_input": map[string]any{"custom_message": ok140 + "x"}}), "custom_sms_input.custom_message must be shorter than or equal to 140"},
		{"text without {app}", base(map[string]any{"custom_sms_input": map[string]any{"custom_message": "code {otp}"}}), "{otp} and {app}"},
		{"text without {otp}", base(map[string]any{"custom_sms_input": map[string]any{"custom_message": "{app} says hi"}}), "{otp} and {app}"},
		{"11-character sender id", base(map[string]any{"custom_sms_input": map[string]any{"sender_id": "ElevenChars"}}), ""},
		{"12-character sender id", base(map[string]any{"custom_sms_input": map[string]any{"sender_id": "TwelveCharsX"}}), "custom_sms_input.sender_id must be shorter than or equal to 11"},
		{"sender id not a string", base(map[string]any{"custom_sms_input": map[string]any{"sender_id": 7}}), "custom_sms_input.sender_id must be a string"},
		{"10 approval keys", base(map[string]any{"approval_data": keys(10)}), ""},
		{"11 approval keys", base(map[string]any{"approval_data": keys(11)}), "at most 10 keys"},
		{"nested approval data", base(map[string]any{"approval_data": map[string]any{"a": map[string]any{"b": "c"}}}), "flat object"},
		{"approval key with a space", base(map[string]any{"approval_data": map[string]any{"a b": "c"}}), "keys may contain only"},
		{"client_attributes.user_agent not a string", base(map[string]any{"client_attributes": map[string]any{"user_agent": 5}}), "client_attributes.user_agent must be a string"},
		{"email_content.bodyText not a string", map[string]any{"channel": "email", "identifier_type": "email", "identifier": "lim@example.com",
			"email_content": map[string]any{"subject": "s", "bodyText": true}}, "email_content.bodyText must be a string"},
	}
	for _, tc := range cases {
		r := emutest.Call(t, s, tok, "/v1/auth/otp/send", tc.body)
		if tc.want == "" {
			assert.Equal(t, http.StatusOK, r.Status, "%s: %s", tc.name, r.Raw)
			continue
		}
		assert.Equal(t, http.StatusBadRequest, r.Status, tc.name)
		assert.Equal(t, "system_invalid_input", r.JSON["error_code"], tc.name)
		assert.Contains(t, r.JSON["message"], tc.want, tc.name)
	}
}
