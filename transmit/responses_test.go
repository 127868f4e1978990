package transmit

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSuccessAnswersDecoded(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	c := newTestClient(t, f, nil)
	ctx := context.Background()

	ml, err := c.SendMagicLink(ctx, SendMagicLinkRequest{Identifier: "jane@example.com", IdentifierType: IdentifierEmail, RedirectURI: "https://app.example.com/v"})
	require.NoError(t, err)
	assert.Equal(t, &SendMagicLinkResponse{Message: "Email sent successfully"}, ml)

	otp, err := c.SendOTP(ctx, SendOTPRequest{Channel: ChannelDirect, IdentifierType: IdentifierEmail, Identifier: "jane@example.com"})
	require.NoError(t, err)
	assert.Equal(t, &SendOTPResponse{Message: "OTP sent", Code: "482913"}, otp)

	want := &TokenResponse{AccessToken: "at", IDToken: "it", RefreshToken: "rt", TokenType: "Bearer", ExpiresIn: 3600, SessionID: "sess-1"}
	tr, err := c.AuthenticateMagicLink(ctx, AuthenticateMagicLinkRequest{Code: "c"})
	require.NoError(t, err)
	assert.Equal(t, want, tr)
	tr, err = c.AuthenticateOTP(ctx, AuthenticateOTPRequest{Passcode: "1", IdentifierType: IdentifierEmail, Identifier: "jane@example.com"})
	require.NoError(t, err)
	assert.Equal(t, want, tr)

	rt, err := c.RefreshToken(ctx, "rt")
	require.NoError(t, err)
	assert.Equal(t, &TokenResponse{AccessToken: "at2", RefreshToken: "rt2", TokenType: "Bearer", ExpiresIn: 3600}, rt)

	u, err := c.CreateUser(ctx, CreateUserRequest{Email: "jane@example.com"})
	require.NoError(t, err)
	assert.Equal(t, &User{UserID: "u-1", Status: "Active", CreatedAt: 1, UpdatedAt: 2, Email: &UserEmail{Value: "jane@example.com"}}, u)

	require.NoError(t, c.Logout(ctx, "sess-1"))
}

func TestAuthenticateFailsClosed(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		status int
		body   string
	}{
		{"no access_token", 200, `{"token_type":"Bearer","expires_in":3600,"session_id":"s"}`},
		{"empty access_token", 200, `{"access_token":"","token_type":"Bearer","expires_in":3600,"session_id":"s"}`},
		{"no token_type", 200, `{"access_token":"a","expires_in":3600,"session_id":"s"}`},
		{"no session_id", 200, `{"access_token":"a","token_type":"Bearer","expires_in":3600}`},
		{"no expires_in", 200, `{"access_token":"a","token_type":"Bearer","session_id":"s"}`},
		{"negative expires_in", 200, `{"access_token":"a","token_type":"Bearer","expires_in":-5,"session_id":"s"}`},
		{"string expires_in", 200, `{"access_token":"a","token_type":"Bearer","expires_in":"3600","session_id":"s"}`},
		{"access_token not a string", 200, `{"access_token":7,"token_type":"Bearer","expires_in":3600,"session_id":"s"}`},
		{"error body with 200", 200, `{"error_code":"auth_invalid_credentials","message":"Invalid credentials"}`},
		{"truncated", 200, `{"access_token":"a","token_type":"Bea`},
		{"HTML", 200, `<html>RAWBODY</html>`},
		{"empty", 200, ``},
		{"null", 200, `null`},
		{"array", 200, `[]`},
		{"unexpected 201", 201, `{"access_token":"a","token_type":"Bearer","expires_in":3600,"session_id":"s"}`},
		{"redirect not followed", 302, ``},
	}
	for _, path := range []string{pathMagicLinkAuth, pathOTPAuth} {
		for _, tc := range cases {
			t.Run(path+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				f := newFake(t)
				f.handle(path, func(w http.ResponseWriter, _ *http.Request, _ int) {
					if tc.status == 302 {
						w.Header().Set("Location", "/elsewhere")
					}
					writeJSON(w, tc.status, tc.body)
				})
				c := newTestClient(t, f, nil)
				var (
					tr  *TokenResponse
					err error
				)
				if path == pathMagicLinkAuth {
					tr, err = c.AuthenticateMagicLink(context.Background(), AuthenticateMagicLinkRequest{Code: "c"})
				} else {
					tr, err = c.AuthenticateOTP(context.Background(), AuthenticateOTPRequest{Passcode: "1", IdentifierType: "email", Identifier: "j@example.com"})
				}
				require.Error(t, err)
				assert.Nil(t, tr)
				assert.ErrorIs(t, err, ErrInvalidResponse)
				assert.ErrorIs(t, err, ErrUnavailable)
				assert.NotContains(t, err.Error(), "RAWBODY")
				assert.Equal(t, 1, f.count(path))
				assert.Equal(t, 0, f.count("/elsewhere"))
			})
		}
	}
}

func TestRefreshAndUserFailClosed(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		path string
		body string
		call func(context.Context, *Client) error
	}{
		{"refresh without access_token", pathRefresh, `{"token_type":"Bearer","expires_in":3600}`, func(ctx context.Context, c *Client) error {
			_, err := c.RefreshToken(ctx, "rt")
			return err
		}},
		{"create user without user_id", pathUsers, `{"result":{"status":"Active"}}`, func(ctx context.Context, c *Client) error {
			_, err := c.CreateUser(ctx, CreateUserRequest{Email: "j@example.com"})
			return err
		}},
		{"send otp not JSON", pathOTPSend, `OK`, func(ctx context.Context, c *Client) error {
			_, err := c.SendOTP(ctx, SendOTPRequest{Channel: ChannelSMS, IdentifierType: "phone_number", Identifier: "+1555"})
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t)
			status := http.StatusOK
			if tc.path == pathUsers {
				status = http.StatusCreated
			}
			f.handle(tc.path, func(w http.ResponseWriter, _ *http.Request, _ int) { writeJSON(w, status, tc.body) })
			c := newTestClient(t, f, nil)
			err := tc.call(context.Background(), c)
			assert.ErrorIs(t, err, ErrInvalidResponse)
			assert.ErrorIs(t, err, ErrUnavailable)
		})
	}
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	huge := `{"access_token":"a","token_type":"Bearer","expires_in":3600,"session_id":"s","pad":"` + strings.Repeat("x", maxBodyBytes) + `"}`
	f.handle(pathOTPAuth, func(w http.ResponseWriter, _ *http.Request, _ int) { writeJSON(w, 200, huge) })
	c := newTestClient(t, f, nil)
	_, err := c.AuthenticateOTP(context.Background(), AuthenticateOTPRequest{Passcode: "1", IdentifierType: "email", Identifier: "j@example.com"})
	assert.ErrorIs(t, err, ErrInvalidResponse, "an answer over 1 MiB is cut and fails to decode")
}

func TestDiscover(t *testing.T) {
	t.Parallel()
	t.Run("published issuer and cached", func(t *testing.T) {
		t.Parallel()
		f := newFake(t)
		c := newTestClient(t, f, nil)
		d, err := c.Discover(context.Background())
		require.NoError(t, err)
		assert.Equal(t, &Discovery{Issuer: "https://userid.security", JWKSURL: f.base() + "/oidc/jwks"}, d)
		d.Issuer = "mutated"
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() {
				d2, err := c.Discover(context.Background())
				assert.NoError(t, err)
				assert.Equal(t, "https://userid.security", d2.Issuer)
			})
		}
		wg.Wait()
		assert.Equal(t, 1, f.count(pathDiscovery))
		assert.EqualValues(t, 0, f.tokenCalls.Load(), "discovery needs no client token")
		assert.Empty(t, f.last(pathDiscovery).header.Get("Authorization"))
	})
	bad := []struct{ name, body string }{
		{"no issuer", `{"jwks_uri":"https://x.example/jwks"}`},
		{"no jwks_uri", `{"issuer":"https://userid.security"}`},
		{"relative jwks_uri", `{"issuer":"https://userid.security","jwks_uri":"/oidc/jwks"}`},
		{"http jwks_uri on a public host", `{"issuer":"https://userid.security","jwks_uri":"http://api.transmitsecurity.io/cis/oidc/jwks"}`},
		// A name under .localhost is loopback for a browser, not for Go's resolver (DNS may answer it).
		{"http jwks_uri under .localhost", `{"issuer":"https://userid.security","jwks_uri":"http://keys.localhost/oidc/jwks"}`},
		{"not JSON", `<html></html>`},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t)
			f.handle(pathDiscovery, func(w http.ResponseWriter, _ *http.Request, n int) {
				if n == 1 {
					writeJSON(w, 200, tc.body)
					return
				}
				writeJSON(w, 200, `{"issuer":"https://userid.security","jwks_uri":"https://x.example/jwks"}`)
			})
			c := newTestClient(t, f, nil)
			_, err := c.Discover(context.Background())
			require.ErrorIs(t, err, ErrInvalidResponse)
			d, err := c.Discover(context.Background())
			require.NoError(t, err, "failures are not cached")
			assert.Equal(t, "https://x.example/jwks", d.JWKSURL)
		})
	}
	t.Run("500", func(t *testing.T) {
		t.Parallel()
		f := newFake(t)
		f.handle(pathDiscovery, func(w http.ResponseWriter, _ *http.Request, _ int) { writeJSON(w, 500, `{}`) })
		c := newTestClient(t, f, nil)
		_, err := c.Discover(context.Background())
		assert.ErrorIs(t, err, ErrUnavailable)
	})
}

func TestDiscoverWaiterHonoursOwnContext(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	gate := make(chan struct{})
	f.handle(pathDiscovery, func(w http.ResponseWriter, _ *http.Request, _ int) {
		<-gate
		writeJSON(w, 200, `{"issuer":"https://userid.security","jwks_uri":"https://x.example/jwks"}`)
	})
	c := newTestClient(t, f, nil)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := c.Discover(ctx)
		errc <- err
	}()
	require.Eventually(t, func() bool { return f.count(pathDiscovery) == 1 }, 5*time.Second, time.Millisecond)
	cancel()
	err := <-errc
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, err, ErrUnavailable)

	okc := make(chan error, 1)
	go func() {
		_, err := c.Discover(context.Background())
		okc <- err
	}()
	close(gate)
	require.NoError(t, <-okc)
	assert.Equal(t, 1, f.count(pathDiscovery), "the abandoned fetch still filled the cache")
}

// TestCreateUserAny2xx: createUser documents 201, but an existing tenant user is "added to your
// app", and any 2xx is success.
func TestCreateUserAny2xx(t *testing.T) {
	t.Parallel()
	user := `{"result":{"user_id":"u-9","status":"Active","created_at":1,"updated_at":2}}`
	cases := []struct {
		name   string
		status int
		body   string
		want   *User
	}{
		{"201 created", 201, user, &User{UserID: "u-9", Status: "Active", CreatedAt: 1, UpdatedAt: 2}},
		{"200 existing user added", 200, user, &User{UserID: "u-9", Status: "Active", CreatedAt: 1, UpdatedAt: 2}},
		{"202 accepted, no body", 202, ``, &User{}},
		{"204 no content", 204, ``, &User{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t)
			f.handle(pathUsers, func(w http.ResponseWriter, _ *http.Request, _ int) {
				if tc.body == "" {
					w.WriteHeader(tc.status)
					return
				}
				writeJSON(w, tc.status, tc.body)
			})
			u, err := newTestClient(t, f, nil).CreateUser(context.Background(), CreateUserRequest{Email: "jane@example.com"})
			require.NoError(t, err)
			assert.Equal(t, tc.want, u)
		})
	}
	t.Run("2xx body without user_id fails closed", func(t *testing.T) {
		t.Parallel()
		f := newFake(t)
		f.handle(pathUsers, func(w http.ResponseWriter, _ *http.Request, _ int) { writeJSON(w, 200, `{"result":{}}`) })
		_, err := newTestClient(t, f, nil).CreateUser(context.Background(), CreateUserRequest{Email: "jane@example.com"})
		assert.ErrorIs(t, err, ErrInvalidResponse)
	})
}

// TestApprovalDataAnyJSONType: approval_data is a plain object in Mosaic's API; an echo with
// numbers, booleans or null decodes instead of failing the send.
func TestApprovalDataAnyJSONType(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	f.handle(pathOTPSend, func(w http.ResponseWriter, _ *http.Request, _ int) {
		writeJSON(w, 200, `{"message":"OTP sent","approval_data":{"sum":200,"currency":"EUR","approved":true,"note":null}}`)
	})
	out, err := newTestClient(t, f, nil).SendOTP(context.Background(), SendOTPRequest{Channel: ChannelEmail,
		IdentifierType: IdentifierEmail, Identifier: "jane@example.com", ApprovalData: map[string]string{"sum": "200"}})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"sum": float64(200), "currency": "EUR", "approved": true, "note": nil}, out.ApprovalData)
}
