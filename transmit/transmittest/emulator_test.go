package transmittest_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin/internal/emutest"
	"github.com/otlogin/otlogin/transmit/transmittest"
)

func TestMagicLinkSingleUseAndExpiry(t *testing.T) {
	t.Parallel()
	s := transmittest.NewTestServer(t, transmittest.Options{})
	tok := emutest.ClientToken(t, s)
	s.CreateUser("jane@example.com", "")

	code := sendLink(t, s, tok, "jane@example.com")
	assert.Len(t, code, 43)
	r := emutest.Call(t, s, tok, "/v1/auth/link/email/authenticate", map[string]any{"code": code})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	assert.NotEmpty(t, r.JSON["session_id"])

	t.Run("reuse", func(t *testing.T) {
		r := emutest.Call(t, s, tok, "/v1/auth/link/email/authenticate", map[string]any{"code": code})
		assert.Equal(t, http.StatusBadRequest, r.Status)
		assert.Equal(t, map[string]any{"error_code": "400", "message": "Invalid magic link code"}, r.JSON)
	})
	t.Run("expired", func(t *testing.T) {
		code := sendLink(t, s, tok, "jane@example.com")
		s.Advance(15*time.Minute + time.Second)
		r := emutest.Call(t, s, tok, "/v1/auth/link/email/authenticate", map[string]any{"code": code})
		assert.Equal(t, http.StatusBadRequest, r.Status)
		assert.Equal(t, "Invalid magic link code", r.JSON["message"])
	})
	t.Run("email_expiration overrides", func(t *testing.T) {
		r := emutest.Call(t, s, tok, "/v1/auth/link/email/send", map[string]any{
			"identifier": "jane@example.com", "identifier_type": "email", "redirect_uri": "http://127.0.0.1:8080/v", "email_expiration": 1,
		})
		require.Equal(t, http.StatusOK, r.Status)
		link, _ := s.LastLink("jane@example.com")
		u, _ := url.Parse(link)
		s.Advance(61 * time.Second)
		r = emutest.Call(t, s, tok, "/v1/auth/link/email/authenticate", map[string]any{"code": u.Query().Get("code")})
		assert.Equal(t, http.StatusBadRequest, r.Status)
	})
}

func TestOTPExpiryLockoutResend(t *testing.T) {
	t.Parallel()
	s := transmittest.NewTestServer(t, transmittest.Options{})
	tok := emutest.ClientToken(t, s)
	s.CreateUser("otp@example.com", "+15551230000")

	t.Run("expired", func(t *testing.T) {
		require.Equal(t, http.StatusOK, emutest.SendOTP(t, s, tok, "email", "email", "otp@example.com").Status)
		code, ok := s.LastCode("otp@example.com")
		require.True(t, ok)
		assert.Len(t, code, 6)
		s.Advance(5*time.Minute + time.Second)
		r := authOTP(t, s, tok, "email", "otp@example.com", code)
		assert.Equal(t, http.StatusBadRequest, r.Status)
		assert.Equal(t, "auth_otp_passcode_expired", r.JSON["error_code"])
	})
	t.Run("resend replaces", func(t *testing.T) {
		require.Equal(t, http.StatusOK, emutest.SendOTP(t, s, tok, "sms", "phone_number", "+15551230000").Status)
		old, _ := s.LastCode("+15551230000")
		require.Equal(t, http.StatusOK, emutest.SendOTP(t, s, tok, "sms", "phone_number", "+15551230000").Status)
		newCode, _ := s.LastCode("+15551230000")
		if old != newCode {
			r := authOTP(t, s, tok, "phone_number", "+15551230000", old)
			assert.Equal(t, "auth_invalid_credentials", r.JSON["error_code"])
		}
		r := authOTP(t, s, tok, "phone_number", "+15551230000", newCode)
		require.Equal(t, http.StatusOK, r.Status, r.Raw)
	})
	t.Run("lockout", func(t *testing.T) {
		require.Equal(t, http.StatusOK, emutest.SendOTP(t, s, tok, "email", "email", "otp@example.com").Status)
		code, _ := s.LastCode("otp@example.com")
		wrong := "000000"
		if code == wrong {
			wrong = "111111"
		}
		for i := 0; i < 2; i++ {
			r := authOTP(t, s, tok, "email", "otp@example.com", wrong)
			assert.Equal(t, http.StatusBadRequest, r.Status)
			assert.Equal(t, "auth_invalid_credentials", r.JSON["error_code"])
		}
		r := authOTP(t, s, tok, "email", "otp@example.com", wrong)
		assert.Equal(t, http.StatusForbidden, r.Status)
		assert.Equal(t, "auth_locked", r.JSON["error_code"])
		r = authOTP(t, s, tok, "email", "otp@example.com", code)
		assert.Equal(t, http.StatusForbidden, r.Status, "the right code is refused after lockout")
		assert.Equal(t, "auth_locked", r.JSON["error_code"])
	})
}

func TestDirectChannelReturnsCode(t *testing.T) {
	t.Parallel()
	s := transmittest.NewTestServer(t, transmittest.Options{})
	tok := emutest.ClientToken(t, s)
	s.CreateUser("direct@example.com", "")
	r := emutest.SendOTP(t, s, tok, "direct", "email", "direct@example.com")
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	code, _ := r.JSON["code"].(string)
	assert.Len(t, code, 6)
	r = authOTP(t, s, tok, "email", "direct@example.com", code)
	assert.Equal(t, http.StatusOK, r.Status, r.Raw)

	r = emutest.SendOTP(t, s, tok, "email", "email", "direct@example.com")
	assert.NotContains(t, r.JSON, "code", "email channel must not leak the code")
}

func TestUnknownUserUntilCreated(t *testing.T) {
	t.Parallel()
	s := transmittest.NewTestServer(t, transmittest.Options{})
	tok := emutest.ClientToken(t, s)

	r := emutest.Call(t, s, tok, "/v1/auth/link/email/send", map[string]any{"identifier": "new@example.com", "identifier_type": "email", "redirect_uri": "http://[::1]:8080/v"})
	assert.Equal(t, http.StatusNotFound, r.Status)
	assert.Equal(t, map[string]any{"error_code": "404", "message": "User not found"}, r.JSON)
	r = emutest.SendOTP(t, s, tok, "sms", "phone_number", "+15559990000")
	assert.Equal(t, http.StatusNotFound, r.Status)
	assert.Equal(t, "user_not_found", r.JSON["error_code"])

	r = emutest.Call(t, s, tok, "/v1/users", map[string]any{"email": "new@example.com"})
	require.Equal(t, http.StatusCreated, r.Status, r.Raw)
	res, _ := r.JSON["result"].(map[string]any)
	assert.NotEmpty(t, res["user_id"])
	r = emutest.Call(t, s, tok, "/v1/users", map[string]any{"email": "new@example.com"})
	assert.Equal(t, http.StatusConflict, r.Status)
	assert.EqualValues(t, 409, r.JSON["error_code"])

	r = emutest.Call(t, s, tok, "/v1/auth/link/email/send", map[string]any{"identifier": "new@example.com", "identifier_type": "email", "redirect_uri": "http://[::1]:8080/v"})
	assert.Equal(t, http.StatusOK, r.Status)
	r = emutest.SendOTP(t, s, tok, "sms", "email", "new@example.com")
	assert.Equal(t, http.StatusNotFound, r.Status)
	assert.Equal(t, "user_phone_number_missing", r.JSON["error_code"])
}

func TestMissingBearer(t *testing.T) {
	t.Parallel()
	opts, seen := observe(transmittest.Options{})
	s := transmittest.NewServer(opts)
	t.Cleanup(s.Close)
	for _, tok := range []string{"", "not-a-token"} {
		r := emutest.SendOTP(t, s, tok, "email", "email", "a@example.com")
		assert.Equal(t, http.StatusUnauthorized, r.Status)
		assert.Equal(t, map[string]any{"message": "Invalid token", "error_code": float64(401)}, r.JSON)
	}
	t.Run("expired client token", func(t *testing.T) {
		tok := emutest.ClientToken(t, s)
		s.Advance(time.Hour)
		r := emutest.SendOTP(t, s, tok, "email", "email", "a@example.com")
		assert.Equal(t, http.StatusUnauthorized, r.Status)
	})
	assert.Equal(t, 0, s.Calls(transmittest.EndpointAuthenticateOTP))
	assert.Equal(t, 3, s.Calls(transmittest.EndpointSendOTP))
	t.Run("marked out of spec by design", func(t *testing.T) {
		assert.Equal(t, 3, seen.byDesign(), "the three 401 answers of the token rule")
	})
}

func TestBadClientCredentials(t *testing.T) {
	t.Parallel()
	s := transmittest.NewTestServer(t, transmittest.Options{})
	r := emutest.PostForm(t, s.URL+"/oidc/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {s.ClientID}, "client_secret": {"wrong"}})
	assert.Equal(t, http.StatusUnauthorized, r.Status)
	assert.Equal(t, "invalid_client", r.JSON["error"])
}

func TestRefreshRotationAndLogout(t *testing.T) {
	t.Parallel()
	s := transmittest.NewTestServer(t, transmittest.Options{})
	tok := emutest.ClientToken(t, s)
	s.CreateUser("r@example.com", "")
	r := emutest.Call(t, s, tok, "/v1/auth/link/email/authenticate", map[string]any{"code": sendLink(t, s, tok, "r@example.com")})
	require.Equal(t, http.StatusOK, r.Status)
	rt1, _ := r.JSON["refresh_token"].(string)
	sid, _ := r.JSON["session_id"].(string)

	r = emutest.Call(t, s, tok, "/v1/auth/token/refresh", map[string]any{"refresh_token": rt1})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	assert.NotContains(t, r.JSON, "session_id")
	rt2, _ := r.JSON["refresh_token"].(string)
	assert.NotEqual(t, rt1, rt2)

	r = emutest.Call(t, s, tok, "/v1/auth/token/refresh", map[string]any{"refresh_token": rt1})
	assert.Equal(t, http.StatusBadRequest, r.Status, "old refresh token refused")
	assert.Equal(t, []any{"Invalid refresh token"}, r.JSON["message"])

	t.Run("oidc refresh grant", func(t *testing.T) {
		r := emutest.PostForm(t, s.URL+"/cis/oidc/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {s.ClientID}, "client_secret": {s.ClientSecret}, "refresh_token": {rt2}})
		require.Equal(t, http.StatusOK, r.Status, r.Raw)
		rt2, _ = r.JSON["refresh_token"].(string)
	})

	r = emutest.Call(t, s, tok, "/v1/auth/session/logout", map[string]any{"session_id": sid})
	assert.Equal(t, http.StatusNoContent, r.Status)
	assert.Empty(t, r.Raw)
	r = emutest.Call(t, s, tok, "/v1/auth/token/refresh", map[string]any{"refresh_token": rt2})
	assert.Equal(t, http.StatusBadRequest, r.Status, "logout revokes refresh tokens")
	r = emutest.Call(t, s, tok, "/v1/auth/link/email/authenticate", map[string]any{"code": sendLink(t, s, tok, "r@example.com"), "session_id": sid})
	assert.Equal(t, map[string]any{"error_code": "400", "message": "Session not found"}, r.JSON)
}

func TestKeyRotationThroughJWKS(t *testing.T) {
	t.Parallel()
	s := transmittest.NewTestServer(t, transmittest.Options{})
	tok := emutest.ClientToken(t, s)
	s.CreateUser("k@example.com", "")

	idToken := func() string {
		r := emutest.Call(t, s, tok, "/v1/auth/link/email/authenticate", map[string]any{"code": sendLink(t, s, tok, "k@example.com")})
		require.Equal(t, http.StatusOK, r.Status)
		id, _ := r.JSON["id_token"].(string)
		return id
	}
	jwks := func() jose.JSONWebKeySet {
		var set jose.JSONWebKeySet
		r := emutest.Get(t, s.BaseURL()+"/oidc/jwks")
		require.Equal(t, http.StatusOK, r.Status)
		require.NoError(t, jsonUnmarshal(r.Raw, &set))
		return set
	}
	verify := func(raw string, set jose.JSONWebKeySet) map[string]any {
		parsed, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
		require.NoError(t, err)
		kid := parsed.Headers[0].KeyID
		keys := set.Key(kid)
		require.Len(t, keys, 1, "kid %s must be in the JWKS", kid)
		var claims map[string]any
		require.NoError(t, parsed.Claims(keys[0].Key, &claims))
		return claims
	}

	old := idToken()
	oldKid, err := s.KeyID()
	require.NoError(t, err)
	claims := verify(old, jwks())
	assert.Equal(t, transmittest.DefaultIssuer, claims["iss"])
	assert.Equal(t, s.ClientID, claims["aud"])
	assert.Equal(t, []any{"eml"}, claims["amr"])
	assert.Equal(t, true, claims["email_verified"])

	newKid, err := s.RotateKey()
	require.NoError(t, err)
	require.NotEqual(t, oldKid, newKid)
	set := jwks()
	assert.Len(t, set.Key(newKid), 1)
	assert.Len(t, set.Key(oldKid), 1, "old key kept during grace")
	fresh := idToken()
	verify(fresh, set)
	verify(old, set)

	s.RemoveOldKeys()
	after := jwks()
	assert.Empty(t, after.Key(oldKid))

	disc := emutest.Get(t, s.BaseURL()+"/oidc/.well-known/openid-configuration")
	assert.Equal(t, transmittest.DefaultIssuer, disc.JSON["issuer"])
	assert.Equal(t, s.BaseURL()+"/oidc/jwks", disc.JSON["jwks_uri"])
	assert.Equal(t, []any{"RS256"}, disc.JSON["id_token_signing_alg_values_supported"])
}
