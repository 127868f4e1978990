package transmit_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/otlogin/otlogin/transmit"
)

// fakeMosaic stands in for Mosaic in the examples: it issues a client token and answers
// the One-Time Login endpoints with canned bodies.
func fakeMosaic() *httptest.Server {
	mux := http.NewServeMux()
	answer := func(status int, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/oidc/token" && r.Header.Get("Authorization") != "Bearer example-client-token" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = io.WriteString(w, body)
		}
	}
	mux.Handle("POST /oidc/token", answer(200, `{"access_token":"example-client-token","token_type":"Bearer","expires_in":3600}`))
	mux.Handle("POST /cis/v1/auth/link/email/send", answer(200, `{"message":"Email sent successfully"}`))
	mux.Handle("POST /cis/v1/auth/otp/send", answer(200, `{"message":"OTP sent"}`))
	mux.Handle("POST /cis/v1/auth/otp/authenticate", answer(400, `{"error_code":"auth_invalid_credentials","message":"Invalid credentials"}`))
	mux.Handle("POST /cis/v1/auth/link/email/authenticate", answer(200,
		`{"access_token":"at","id_token":"it","refresh_token":"rt","token_type":"Bearer","expires_in":3600,"session_id":"sess-1"}`))
	return httptest.NewServer(mux)
}

// This example sends a magic link and later redeems the code Mosaic appended to the
// redirect URI.
func Example() {
	srv := fakeMosaic() // in production: BaseURL: transmit.USBaseURL
	defer srv.Close()

	client, err := transmit.New(transmit.Config{
		BaseURL:      srv.URL + "/cis",
		ClientID:     "my-client-id",
		ClientSecret: "my-client-secret",
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	sent, err := client.SendMagicLink(ctx, transmit.SendMagicLinkRequest{
		Identifier:     "jane@example.com",
		IdentifierType: transmit.IdentifierEmail,
		RedirectURI:    "https://app.example.com/auth/callback",
		State:          "opaque-state",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(sent.Message)

	tokens, err := client.AuthenticateMagicLink(ctx, transmit.AuthenticateMagicLinkRequest{Code: "code-from-redirect"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tokens.TokenType, tokens.SessionID, tokens.IDToken != "")
	// Output:
	// Email sent successfully
	// Bearer sess-1 true
}

// This example shows how errors map to sentinels: a wrong passcode is ErrInvalidCode, and
// the details travel in an *APIError.
func ExampleClient_AuthenticateOTP() {
	srv := fakeMosaic()
	defer srv.Close()
	client, err := transmit.New(transmit.Config{BaseURL: srv.URL + "/cis", ClientID: "id", ClientSecret: "secret"})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	if _, err := client.SendOTP(ctx, transmit.SendOTPRequest{
		Channel:        transmit.ChannelSMS,
		IdentifierType: transmit.IdentifierPhoneNumber,
		Identifier:     "+15551234567",
	}); err != nil {
		log.Fatal(err)
	}
	_, err = client.AuthenticateOTP(ctx, transmit.AuthenticateOTPRequest{
		Passcode:       "000000",
		IdentifierType: transmit.IdentifierPhoneNumber,
		Identifier:     "+15551234567",
	})
	var apiErr *transmit.APIError
	switch {
	case errors.Is(err, transmit.ErrInvalidCode) && errors.As(err, &apiErr):
		fmt.Println("wrong code:", apiErr.Status, apiErr.Code)
	case errors.Is(err, transmit.ErrExpired), errors.Is(err, transmit.ErrLocked):
		fmt.Println("start again")
	case errors.Is(err, transmit.ErrUnavailable):
		fmt.Println("try later")
	}
	// Output:
	// wrong code: 400 auth_invalid_credentials
}

// Requests that Mosaic's API would refuse are refused before any HTTP call.
func ExampleClient_SendOTP_invalid() {
	client, err := transmit.New(transmit.Config{BaseURL: transmit.SandboxBaseURL, ClientID: "id", ClientSecret: "secret"})
	if err != nil {
		log.Fatal(err)
	}
	_, err = client.SendOTP(context.Background(), transmit.SendOTPRequest{Channel: "fax", IdentifierType: "email", Identifier: "jane@example.com"})
	fmt.Println(errors.Is(err, transmit.ErrInvalidRequest))
	fmt.Println(err)
	// Output:
	// true
	// transmit: invalid request: send otp: channel must be email, sms or direct
}

// The client secret is never printed.
func ExampleConfig_String() {
	cfg := transmit.Config{BaseURL: transmit.EUBaseURL, ClientID: "my-client-id", ClientSecret: "my-client-secret"}
	fmt.Println(cfg)
	// Output:
	// transmit.Config{BaseURL:"https://api.eu.transmitsecurity.io/cis", ClientID:"my-client-id", ClientSecret:REDACTED, TokenURL:"", Timeout:0s}
}
