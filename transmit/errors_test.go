package transmit

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// endpoint is one Client method, called with a valid request.
type endpoint struct {
	name string
	path string
	call func(ctx context.Context, c *Client) error
}

func endpoints() []endpoint {
	return []endpoint{
		{"SendMagicLink", pathMagicLinkSend, func(ctx context.Context, c *Client) error {
			_, err := c.SendMagicLink(ctx, SendMagicLinkRequest{Identifier: "jane@example.com", IdentifierType: IdentifierEmail, RedirectURI: "https://app.example.com/verify"})
			return err
		}},
		{"AuthenticateMagicLink", pathMagicLinkAuth, func(ctx context.Context, c *Client) error {
			_, err := c.AuthenticateMagicLink(ctx, AuthenticateMagicLinkRequest{Code: "GZxLFKTD"})
			return err
		}},
		{"SendOTP", pathOTPSend, func(ctx context.Context, c *Client) error {
			_, err := c.SendOTP(ctx, SendOTPRequest{Channel: ChannelSMS, IdentifierType: IdentifierPhoneNumber, Identifier: "+15551234567"})
			return err
		}},
		{"AuthenticateOTP", pathOTPAuth, func(ctx context.Context, c *Client) error {
			_, err := c.AuthenticateOTP(ctx, AuthenticateOTPRequest{Passcode: "482913", IdentifierType: IdentifierPhoneNumber, Identifier: "+15551234567"})
			return err
		}},
		{"CreateUser", pathUsers, func(ctx context.Context, c *Client) error {
			_, err := c.CreateUser(ctx, CreateUserRequest{Email: "jane@example.com"})
			return err
		}},
		{"Logout", pathLogout, func(ctx context.Context, c *Client) error {
			return c.Logout(ctx, "sess-1")
		}},
		{"RefreshToken", pathRefresh, func(ctx context.Context, c *Client) error {
			_, err := c.RefreshToken(ctx, "rt-1")
			return err
		}},
	}
}

// allSentinels is every sentinel a caller may test for.
var allSentinels = []error{ErrInvalidCode, ErrExpired, ErrLocked, ErrUserNotFound, ErrUserNotActive, ErrUserExists,
	ErrRateLimited, ErrUnauthorized, ErrUnavailable, ErrInvalidRequest, ErrInvalidResponse, ErrRedirectURINotAllowed}

// assertOnlySentinel checks err matches want (nil = none) and no other sentinel, except that
// ErrUnavailable may accompany ErrInvalidResponse.
func assertOnlySentinel(t *testing.T, err error, want error) {
	t.Helper()
	for _, s := range allSentinels {
		match := s == want || (want == ErrInvalidResponse && s == ErrUnavailable)
		assert.Equal(t, match, errors.Is(err, s), "errors.Is(%v, %v)", err, s)
	}
}

func TestAPIErrorShapes(t *testing.T) {
	t.Parallel()
	now := newClock()
	longMsg := strings.Repeat("x", 5000)
	cases := []struct {
		name     string
		status   int
		header   map[string]string
		body     string
		want     APIError
		sentinel error
	}{
		{"number code, string message", 400, nil, `{"message":"Bad request","error_code":400}`,
			APIError{Status: 400, Code: "400", Message: "Bad request"}, ErrInvalidRequest},
		{"numeric string code, invalid magic link", 400, nil, `{"error_code":"400","message":"Invalid magic link code"}`,
			APIError{Status: 400, Code: "400", Message: "Invalid magic link code"}, ErrInvalidCode},
		{"symbolic invalid credentials", 400, nil, `{"error_code":"auth_invalid_credentials","message":"Invalid credentials"}`,
			APIError{Status: 400, Code: "auth_invalid_credentials", Message: "Invalid credentials"}, ErrInvalidCode},
		{"symbolic expired", 400, nil, `{"error_code":"auth_otp_passcode_expired","message":"Passcode expired"}`,
			APIError{Status: 400, Code: "auth_otp_passcode_expired", Message: "Passcode expired"}, ErrExpired},
		{"locked", 403, nil, `{"error_code":"auth_locked","message":"Locked"}`,
			APIError{Status: 403, Code: "auth_locked", Message: "Locked"}, ErrLocked},
		{"symbolic user not found", 404, nil, `{"error_code":"user_not_found","message":"User not found"}`,
			APIError{Status: 404, Code: "user_not_found", Message: "User not found"}, ErrUserNotFound},
		{"numeric string 404 user not found", 404, nil, `{"error_code":"404","message":"User not found"}`,
			APIError{Status: 404, Code: "404", Message: "User not found"}, ErrUserNotFound},
		{"400 user not found (magic link authenticate)", 400, nil, `{"error_code":"400","message":"User not found"}`,
			APIError{Status: 400, Code: "400", Message: "User not found"}, ErrUserNotFound},
		{"email address missing", 404, nil, `{"error_code":"user_email_address_missing","message":"no email"}`,
			APIError{Status: 404, Code: "user_email_address_missing", Message: "no email"}, ErrUserNotFound},
		{"phone number missing", 404, nil, `{"error_code":"user_phone_number_missing","message":"no phone"}`,
			APIError{Status: 404, Code: "user_phone_number_missing", Message: "no phone"}, ErrUserNotFound},
		{"message array, number code", 400, nil, `{"message":["email must be an email","redirect_uri should not be empty"],"error_code":400}`,
			APIError{Status: 400, Code: "400", Message: "email must be an email; redirect_uri should not be empty"}, ErrInvalidRequest},
		{"message array with symbolic code", 400, nil, `{"message":["Invalid credentials"],"error_code":"auth_invalid_credentials"}`,
			APIError{Status: 400, Code: "auth_invalid_credentials", Message: "Invalid credentials"}, ErrInvalidCode},
		{"409 with ts_error_code", 409, nil, `{"message":"Identifier is taken","error_code":409,"ts_error_code":"identifier_taken"}`,
			APIError{Status: 409, Code: "409", Message: "Identifier is taken", TSErrorCode: "identifier_taken"}, ErrUserExists},
		{"session not found", 400, nil, `{"error_code":"400","message":"Session not found"}`,
			APIError{Status: 400, Code: "400", Message: "Session not found"}, ErrInvalidRequest},
		{"system invalid input", 400, nil, `{"error_code":"system_invalid_input","message":"bad"}`,
			APIError{Status: 400, Code: "system_invalid_input", Message: "bad"}, ErrInvalidRequest},
		{"empty body 400", 400, nil, ``, APIError{Status: 400}, ErrInvalidRequest},
		{"HTML body 502", 502, map[string]string{"Content-Type": "text/html"}, `<html><body>Bad Gateway RAWBODY</body></html>`,
			APIError{Status: 502}, ErrUnavailable},
		{"JSON that is not an object", 400, nil, `["nope"]`, APIError{Status: 400}, ErrInvalidRequest},
		{"user not active (OTP send)", 403, nil, `{"error_code":"user_not_active","message":"User is not active"}`,
			APIError{Status: 403, Code: "user_not_active", Message: "User is not active"}, ErrUserNotActive},
		{"user not active (magic-link send)", 403, nil, `{"error_code":"403","message":"User is not active"}`,
			APIError{Status: 403, Code: "403", Message: "User is not active"}, ErrUserNotActive},
		{"public signup not allowed is an unknown user", 403, nil, `{"error_code":"403","message":"Public signup is not allowed for this application"}`,
			APIError{Status: 403, Code: "403", Message: "Public signup is not allowed for this application"}, ErrUserNotFound},
		{"login preferences missing has no sentinel", 403, nil, `{"error_code":"auth_login_preferences_missing","message":"OTP login preferences not configured"}`,
			APIError{Status: 403, Code: "auth_login_preferences_missing", Message: "OTP login preferences not configured"}, nil},
		{"429 Retry-After seconds", 429, map[string]string{"Retry-After": "7"}, `{"message":"Too many requests","error_code":429}`,
			APIError{Status: 429, Code: "429", Message: "Too many requests", RetryAfter: 7 * time.Second}, ErrRateLimited},
		{"429 Retry-After date", 429, map[string]string{"Retry-After": now.Now().Add(30 * time.Second).Format(http.TimeFormat)}, ``,
			APIError{Status: 429, RetryAfter: 30 * time.Second}, ErrRateLimited},
		{"429 without Retry-After", 429, nil, `{}`, APIError{Status: 429}, ErrRateLimited},
		{"429 Retry-After garbage", 429, map[string]string{"Retry-After": "soon"}, ``, APIError{Status: 429}, ErrRateLimited},
		{"500", 500, nil, `{"message":"Something went wrong - Internal server error","error_code":500}`,
			APIError{Status: 500, Code: "500", Message: "Something went wrong - Internal server error"}, ErrUnavailable},
		{"503 Retry-After", 503, map[string]string{"Retry-After": "5"}, ``,
			APIError{Status: 503, RetryAfter: 5 * time.Second}, ErrUnavailable},
		{"long message capped", 400, nil, `{"error_code":"400","message":"` + longMsg + `"}`,
			APIError{Status: 400, Code: "400", Message: longMsg[:maxMessageLen] + "…"}, ErrInvalidRequest},
	}
	for _, ep := range endpoints() {
		for _, tc := range cases {
			t.Run(ep.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				f := newFake(t)
				f.handle(ep.path, func(w http.ResponseWriter, _ *http.Request, _ int) {
					for k, v := range tc.header {
						w.Header().Set(k, v)
					}
					w.WriteHeader(tc.status)
					_, _ = w.Write([]byte(tc.body))
				})
				c := newTestClient(t, f, func(cfg *Config) { cfg.Now = now.Now })
				err := ep.call(context.Background(), c)
				require.Error(t, err)
				var ae *APIError
				require.ErrorAs(t, err, &ae)
				assert.Equal(t, tc.want.Status, ae.Status)
				assert.Equal(t, tc.want.Code, ae.Code)
				assert.Equal(t, tc.want.Message, ae.Message)
				assert.Equal(t, tc.want.TSErrorCode, ae.TSErrorCode)
				assert.Equal(t, tc.want.RetryAfter, ae.RetryAfter)
				want := tc.sentinel
				if ep.name == "AuthenticateMagicLink" && tc.status == http.StatusBadRequest && numericCode(tc.want.Code) &&
					!mentions(strings.ToLower(tc.want.Message), "session", "user") {
					// A 400 of the magic-link authenticate in its numeric-code shape means a
					// wrong, used or expired code whatever its text (TestMagicLinkErrorsReworded).
					want = ErrInvalidCode
				}
				assertOnlySentinel(t, err, want)
				assert.NotContains(t, err.Error(), "RAWBODY")
				assert.True(t, strings.HasPrefix(err.Error(), "transmit: "), err.Error())
				assert.Equal(t, 1, f.count(ep.path), "no retry")
			})
		}
	}
}

// TestMagicLinkErrorsReworded: the magic-link endpoints answer errors as {"error_code":
// "<status>", "message": English text}. The status decides; the text only separates answers
// that share a status, by its words, so a reworded message keeps its meaning.
func TestMagicLinkErrorsReworded(t *testing.T) {
	t.Parallel()
	cases := []struct {
		ep       string
		status   int
		code     string // error_code as sent; "" = absent
		msg      string
		sentinel error
	}{
		{"SendMagicLink", 403, `"403"`, "Public signup is not allowed for this application", ErrUserNotFound},
		{"SendMagicLink", 403, `"403"`, "Sign-up of new users is disabled for this app", ErrUserNotFound},
		{"SendMagicLink", 403, `"403"`, "Forbidden", ErrUserNotFound},
		{"SendMagicLink", 403, `403`, "User is not active", ErrUserNotActive},
		{"SendMagicLink", 403, `"403"`, "This user is inactive", ErrUserNotActive},
		{"SendMagicLink", 403, ``, "User account disabled", ErrUserNotActive},
		{"SendMagicLink", 404, `"404"`, "User not found", ErrUserNotFound},
		{"SendMagicLink", 404, `"404"`, "No user matches this identifier", ErrUserNotFound},
		// A 404 that names no user is a path Mosaic does not have (a wrong BaseURL still ending
		// in /cis), a configuration error: never "user not found", which is answered as sent.
		{"SendMagicLink", 404, `"404"`, "Not found", nil},
		{"SendMagicLink", 404, `404`, "Cannot POST /foo/cis/v1/auth/links/email", nil},
		{"SendMagicLink", 404, ``, "", nil},
		{"SendMagicLink", 404, `"404"`, "App not found", nil},
		{"SendMagicLink", 404, `"404"`, "Application does not exist", nil},
		{"SendMagicLink", 400, `"400"`, "redirect_uri is not one of the allowed redirect URIs configured for this app", ErrRedirectURINotAllowed},
		{"SendMagicLink", 400, `"400"`, "Redirect URI not allowed", ErrRedirectURINotAllowed},
		{"SendMagicLink", 400, `"400"`, "redirectUri must be a registered redirect uri", ErrRedirectURINotAllowed},
		// The same refusal as a 403 is not "public signup is not allowed" (an unknown user).
		{"SendMagicLink", 403, `"403"`, "redirect_uri is not one of the allowed redirect URIs configured for this app", ErrRedirectURINotAllowed},
		{"SendMagicLink", 403, `"403"`, "Redirect URI is not allowed", ErrRedirectURINotAllowed},
		// A symbolic error_code naming the redirect URI decides before the text.
		{"SendMagicLink", 400, `"invalid_redirect_uri"`, "Bad Request", ErrRedirectURINotAllowed},
		{"AuthenticateMagicLink", 400, `"400"`, "Invalid magic link code", ErrInvalidCode},
		{"AuthenticateMagicLink", 400, `"400"`, "The magic link has expired", ErrInvalidCode},
		{"AuthenticateMagicLink", 400, `"400"`, "Code already used", ErrInvalidCode},
		{"AuthenticateMagicLink", 400, `400`, "Bad Request", ErrInvalidCode},
		{"AuthenticateMagicLink", 400, `"400"`, "User not found", ErrUserNotFound},
		{"AuthenticateMagicLink", 400, `"400"`, "The user no longer exists", ErrUserNotFound},
		{"AuthenticateMagicLink", 400, `"400"`, "Session not found", ErrInvalidRequest},
		{"AuthenticateMagicLink", 400, `"400"`, "Unknown session_id", ErrInvalidRequest},
		// A symbolic error_code decides before any text.
		{"AuthenticateMagicLink", 400, `"system_invalid_input"`, "Invalid magic link code", ErrInvalidRequest},
		{"SendMagicLink", 403, `"auth_login_preferences_missing"`, "Forbidden", nil},
	}
	eps := map[string]endpoint{}
	for _, ep := range endpoints() {
		eps[ep.name] = ep
	}
	for _, tc := range cases {
		t.Run(tc.ep+"/"+tc.msg, func(t *testing.T) {
			t.Parallel()
			ep := eps[tc.ep]
			body := `{"message":` + fmt.Sprintf("%q", tc.msg)
			if tc.code != "" {
				body += `,"error_code":` + tc.code
			}
			body += "}"
			f := newFake(t)
			f.handle(ep.path, func(w http.ResponseWriter, _ *http.Request, _ int) { writeJSON(w, tc.status, body) })
			err := ep.call(context.Background(), newTestClient(t, f, nil))
			var ae *APIError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, tc.status, ae.Status)
			assert.Equal(t, tc.msg, ae.Message)
			assertOnlySentinel(t, err, tc.sentinel)
		})
	}
}

// TestOAuthTokenErrorDecoded: the token endpoint's OAuth error answer ({"error",
// "error_description"}) is decoded into the APIError, so a wrong secret is named.
func TestOAuthTokenErrorDecoded(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	f.tokenHandler = func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusUnauthorized, `{"error":"invalid_client","error_description":"client authentication failed"}`)
	}
	err := endpoints()[0].call(context.Background(), newTestClient(t, f, nil))
	var ae *APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, 401, ae.Status)
	assert.Equal(t, "invalid_client", ae.Code)
	assert.Equal(t, "client authentication failed", ae.Message)
	assert.Equal(t, "transmit: client token: 401 invalid_client: client authentication failed", err.Error())
	assertOnlySentinel(t, err, ErrUnauthorized)

	// Mosaic's own fields win when both are present.
	ae = decodeAPIError(400, http.Header{}, []byte(`{"error":"invalid_request","error_description":"d","error_code":400,"message":"m"}`), time.Now())
	assert.Equal(t, "400", ae.Code)
	assert.Equal(t, "m", ae.Message)
}

func TestUnauthorizedEveryEndpoint(t *testing.T) {
	t.Parallel()
	for _, ep := range endpoints() {
		t.Run(ep.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t)
			f.handle(ep.path, func(w http.ResponseWriter, _ *http.Request, _ int) {
				writeJSON(w, http.StatusUnauthorized, `{"message":"Invalid token","error_code":401}`)
			})
			c := newTestClient(t, f, nil)
			err := ep.call(context.Background(), c)
			var ae *APIError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, APIError{Status: 401, Code: "401", Message: "Invalid token", call: ae.call}, *ae)
			assertOnlySentinel(t, err, ErrUnauthorized)
			assert.Equal(t, 2, f.count(ep.path), "one retry after a fresh token")
			assert.EqualValues(t, 2, f.tokenCalls.Load())
		})
	}
}

func TestTransportErrorsEveryEndpoint(t *testing.T) {
	t.Parallel()
	for _, ep := range endpoints() {
		t.Run(ep.name+"/connection refused", func(t *testing.T) {
			t.Parallel()
			f := newFake(t)
			// Closing a server and reusing its port races with other parallel tests that may
			// get the same port; refuse dials to the business host in the transport instead.
			var dialer net.Dialer
			c := newTestClient(t, f, func(cfg *Config) {
				cfg.BaseURL = "http://localhost:9/cis"
				cfg.TokenURL = f.srv.URL + "/oidc/token"
				cfg.HTTPClient = &http.Client{Transport: &http.Transport{
					DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
						if addr == "localhost:9" {
							return nil, &net.OpError{Op: "dial", Net: network, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
						}
						return dialer.DialContext(ctx, network, addr)
					},
				}}
			})
			err := ep.call(context.Background(), c)
			require.Error(t, err)
			var ae *APIError
			assert.False(t, errors.As(err, &ae), "no APIError without an answer")
			assertOnlySentinel(t, err, ErrUnavailable)
			assert.NotContains(t, err.Error(), testClientSecret)
			assert.ErrorIs(t, err, syscall.ECONNREFUSED, "the net error is wrapped")
		})
		t.Run(ep.name+"/timeout", func(t *testing.T) {
			t.Parallel()
			f := newFake(t)
			f.handle(ep.path, func(w http.ResponseWriter, r *http.Request, _ int) {
				select {
				case <-r.Context().Done():
				case <-time.After(10 * time.Second):
				}
				writeJSON(w, http.StatusOK, `{}`)
			})
			c := newTestClient(t, f, func(cfg *Config) { cfg.Timeout = 250 * time.Millisecond })
			// Warm the token cache with a generous deadline so a loaded machine cannot spend
			// the whole call deadline on the token fetch.
			c.tokens.timeout = 5 * time.Second
			_, err := c.tokens.get(context.Background())
			require.NoError(t, err)
			err = ep.call(context.Background(), c)
			require.Error(t, err)
			assertOnlySentinel(t, err, ErrUnavailable)
			assert.ErrorIs(t, err, context.DeadlineExceeded)
			assert.Equal(t, 1, f.count(ep.path), "never retried")
		})
	}
}

func TestNoRetryOnFailure(t *testing.T) {
	t.Parallel()
	for _, status := range []int{500, 502, 503, 504, 429, 400, 403, 404} {
		for _, ep := range endpoints() {
			t.Run(ep.name+"/"+http.StatusText(status), func(t *testing.T) {
				t.Parallel()
				f := newFake(t)
				f.handle(ep.path, func(w http.ResponseWriter, _ *http.Request, _ int) {
					writeJSON(w, status, fmt.Sprintf(`{"message":"x","error_code":%d}`, status))
				})
				c := newTestClient(t, f, nil)
				require.Error(t, ep.call(context.Background(), c))
				assert.Equal(t, 1, f.count(ep.path))
				assert.EqualValues(t, 1, f.tokenCalls.Load())
			})
		}
	}
}

func TestAPIErrorString(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		err  *APIError
		want string
	}{
		{"full", &APIError{Status: 400, Code: "auth_invalid_credentials", Message: "Invalid credentials"}, "transmit: 400 auth_invalid_credentials: Invalid credentials"},
		{"no code", &APIError{Status: 400, Message: "Bad"}, "transmit: 400: Bad"},
		{"no message", &APIError{Status: 400, Code: "400"}, "transmit: 400 400"},
		{"empty", &APIError{Status: 502}, "transmit: 502 Bad Gateway"},
		{"token endpoint", &APIError{Status: 401, Code: "401", Message: "Unauthorized", op: opToken}, "transmit: client token: 401 401: Unauthorized"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, tc.err.Error())
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"-5", 0},
		{" 120 ", 2 * time.Minute},
		{"99999999999", maxRetryAfter},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{now.Add(72 * time.Hour).Format(http.TimeFormat), maxRetryAfter},
		{"Mon, 32 Foo", 0},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, parseRetryAfter(tc.in, now))
		})
	}
}
