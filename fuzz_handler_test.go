package otlogin

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/otlogin/otlogin/transmit"
)

// stubMosaic accepts every send and refuses every code, without a network.
type stubMosaic struct{}

func (stubMosaic) SendMagicLink(context.Context, transmit.SendMagicLinkRequest) (*transmit.SendMagicLinkResponse, error) {
	return &transmit.SendMagicLinkResponse{}, nil
}

func (stubMosaic) AuthenticateMagicLink(context.Context, transmit.AuthenticateMagicLinkRequest) (*transmit.TokenResponse, error) {
	return nil, transmit.ErrInvalidCode
}

func (stubMosaic) SendOTP(context.Context, transmit.SendOTPRequest) (*transmit.SendOTPResponse, error) {
	return &transmit.SendOTPResponse{}, nil
}

func (stubMosaic) AuthenticateOTP(context.Context, transmit.AuthenticateOTPRequest) (*transmit.TokenResponse, error) {
	return nil, transmit.ErrInvalidCode
}

func (stubMosaic) CreateUser(context.Context, transmit.CreateUserRequest) (*transmit.User, error) {
	return &transmit.User{}, nil
}
func (stubMosaic) Logout(context.Context, string) error { return nil }
func (stubMosaic) RefreshToken(context.Context, string) (*transmit.TokenResponse, error) {
	return nil, transmit.ErrUnavailable
}
func (stubMosaic) Discover(context.Context) (*transmit.Discovery, error) {
	return nil, transmit.ErrUnavailable
}
func (stubMosaic) ClientID() string { return "stub" }

// FuzzHandler sends arbitrary requests to the auth routes: never a panic, never a 5xx.
func FuzzHandler(f *testing.F) {
	a, err := New(Config{Client: stubMosaic{}, PublicURL: "https://app.example.com",
		Limits: Limits{SendsPerIdentifier: Rate{N: -1}, SendsPerIP: Rate{N: -1}, AttemptsPerIdentifier: Rate{N: -1}}})
	if err != nil {
		f.Fatal(err)
	}
	h := a.Handler()
	f.Add("POST", "/auth/otp/send", "application/x-www-form-urlencoded", "channel=sms&identifier=%2B14155550123", "")
	f.Add("POST", "/auth/link/email/send", "application/json", `{"email":"a@b.co","next":"//x"}`, "")
	f.Add("GET", "/auth/link/email/callback?code=abc&state=def", "", "", "otlogin=abc")
	f.Add("POST", "/auth/otp/authenticate", "application/json", `{"passcode":"123456"}`, "")
	f.Add("GET", "/auth/login?next=%2F%2Fevil", "", "", "")
	f.Add("POST", "/auth/logout", "", "", "__Host-otlogin=x")
	f.Fuzz(func(t *testing.T, method, target, ctype, body, cookie string) {
		if !strings.HasPrefix(target, "/") {
			target = "/auth/" + target
		}
		req, err := http.NewRequest(method, "https://app.example.com"+target, strings.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", ctype)
		req.Header.Set("Cookie", cookie)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s: status %d: %s", method, target, rec.Code, rec.Body.String())
		}
	})
}
