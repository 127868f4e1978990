package transmittest_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/otlogin/otlogin/transmit/transmittest"
)

// A test starts an emulator, creates a user, lets the code under test send a magic link, and
// reads the link from the outbox instead of an inbox.
func ExampleNewTestServer() {
	var t testing.TB = &testing.T{} // in a real test: the test function's t
	s := transmittest.NewTestServer(t, transmittest.Options{})
	s.CreateUser("jane@example.com", "")

	// The code under test would do this through the transmit client.
	res, _ := http.PostForm(s.TokenURL(), url.Values{
		"grant_type": {"client_credentials"}, "client_id": {s.ClientID}, "client_secret": {s.ClientSecret},
	})
	res.Body.Close()
	fmt.Println("token:", res.StatusCode)
	fmt.Println("base URL ends in /cis:", strings.HasSuffix(s.BaseURL(), "/cis"))
}

// LastLink returns the newest magic link sent to an address.
func ExampleEmulator_LastLink() {
	s := transmittest.NewServer(transmittest.Options{})
	defer s.Close()
	s.CreateUser("jane@example.com", "")
	_, ok := s.LastLink("jane@example.com")
	fmt.Println("link before sending:", ok)
	// Output: link before sending: false
}

// Force scripts a failure; here every OTP send answers 429 with Retry-After, and the test can
// assert the code under test called Mosaic only once.
func ExampleEmulator_Force() {
	s := transmittest.NewServer(transmittest.Options{})
	defer s.Close()
	s.Force(transmittest.EndpointSendOTP, transmittest.FaultRateLimited(30e9))
	req, _ := http.NewRequest(http.MethodPost, s.BaseURL()+"/v1/auth/otp/send", strings.NewReader(`{}`))
	res, _ := http.DefaultClient.Do(req)
	res.Body.Close()
	fmt.Println(res.StatusCode, res.Header.Get("Retry-After"), s.Calls(transmittest.EndpointSendOTP))
	// Output: 429 30 1
}
