package otlogin

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Sign-in methods reported in [User].Method.
const (
	MethodMagicLink = "magic_link"
	MethodEmailOTP  = "email_otp"
	MethodSMSOTP    = "sms_otp"
)

// User is the signed-in user as the application sees it. Mosaic's tokens are not part of it:
// they stay server-side (see [Auth.AccessToken]).
type User struct {
	// Subject is Mosaic's user ID (the ID token's sub).
	Subject string `json:"subject"`
	// Email is the user's verified email address: the ID token's email when email_verified
	// is true, else the address this sign-in proved (a magic link or email code); "" when
	// there is none.
	Email string `json:"email"`
	// PhoneNumber is the user's verified phone number in E.164 form: the ID token's
	// phone_number when phone_number_verified is true, else the number this sign-in proved
	// (an SMS code); "" when there is none.
	PhoneNumber string `json:"phone_number"`
	// Method is how the user signed in: "magic_link", "email_otp" or "sms_otp".
	Method string `json:"method"`
	// AMR lists the authentication methods from the ID token (e.g. "eml", "eotp", "sms").
	AMR []string `json:"amr"`
	// AuthTime is when Mosaic authenticated the user.
	AuthTime time.Time `json:"auth_time"`
	// ExpiresAt is when the local session ends at the latest (SessionLifetime after sign-in).
	ExpiresAt time.Time `json:"expires_at"`

	claims json.RawMessage
}

// Claims decodes the raw verified ID-token claims into v.
func (u *User) Claims(v any) error {
	if u == nil || len(u.claims) == 0 {
		return errors.New("otlogin: no claims")
	}
	if err := json.Unmarshal(u.claims, v); err != nil {
		return errors.New("otlogin: decode claims: " + err.Error())
	}
	return nil
}

// ctxKey is the context key of the per-request state.
type ctxKey struct{}

// UserFromContext returns the signed-in user of a request that went through
// [Auth.Middleware], [Auth.RequireAuth] or [Auth.Handler], or one set by [WithUser].
func UserFromContext(ctx context.Context) (*User, bool) {
	st, _ := ctx.Value(ctxKey{}).(*reqState)
	if st == nil || st.user == nil {
		return nil, false
	}
	return st.user, true
}

// WithUser returns a context carrying u as the signed-in user, for tests of handlers that
// call [UserFromContext]. [Auth.RequireAuth] lets such a request through.
func WithUser(ctx context.Context, u *User) context.Context {
	return context.WithValue(ctx, ctxKey{}, &reqState{user: u})
}
