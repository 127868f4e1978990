package otlogin_test

import (
	"encoding/json"
	"fmt"
	"go/parser"
	"go/token"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin"
	"github.com/otlogin/otlogin/transmit"
	"github.com/otlogin/otlogin/transmit/transmittest"
)

// TestReadmeEmulatorExample is the README's "Testing your app with the emulator" example, kept
// here so it compiles and passes: an app signs a user in with an email code read from the
// emulator's outbox.
func TestReadmeEmulatorExample(t *testing.T) {
	mosaic := transmittest.NewTestServer(t, transmittest.Options{}) // closed when the test ends
	client, err := transmit.New(transmit.Config{
		BaseURL: mosaic.BaseURL(), ClientID: mosaic.ClientID, ClientSecret: mosaic.ClientSecret,
	})
	require.NoError(t, err)

	// PublicURL must be the origin the test client uses (CSRF checks, the link's redirect_uri).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	publicURL := "http://" + ln.Addr().String()
	auth, err := otlogin.New(otlogin.Config{Client: client, PublicURL: publicURL, CreateUsers: true})
	require.NoError(t, err)
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: auth.Middleware(readmeRoutes(auth))}}
	srv.Start()
	defer srv.Close()

	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	browser := &http.Client{Jar: jar}
	res, err := browser.PostForm(publicURL+"/auth/otp/send",
		url.Values{"channel": {"email"}, "identifier": {"jane@example.com"}, "next": {"/dashboard"}})
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode) // the "enter the code" page

	code, ok := mosaic.LastCode("jane@example.com") // or mosaic.LastLink(email) for magic links
	require.True(t, ok)
	res, err = browser.PostForm(publicURL+"/auth/otp/authenticate", url.Values{"passcode": {code}})
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, "/dashboard", res.Request.URL.Path) // 303 to next, followed by the client

	var me struct {
		Email  string `json:"email"`
		Method string `json:"method"`
	}
	res, err = browser.Get(publicURL + "/api/me")
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.NoError(t, json.NewDecoder(res.Body).Decode(&me))
	require.Equal(t, "jane@example.com", me.Email)
	require.Equal(t, otlogin.MethodEmailOTP, me.Method)
}

// readmeRoutes stands for the app's own routes in the README example.
func readmeRoutes(auth *otlogin.Auth) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/auth/", auth.Handler())
	mux.Handle("GET /dashboard", auth.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := otlogin.UserFromContext(r.Context())
		fmt.Fprintf(w, "Hello %s", u.Email)
	})))
	mux.Handle("GET /api/me", auth.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := otlogin.UserFromContext(r.Context())
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(u)
	})))
	return mux
}

// TestReadmeProgramsCallCheck: every complete program in the README (net/http, gin, echo)
// parses as Go and calls auth.Check at start-up, stopping on its error, so that a copied
// program names a misconfiguration before its first sign-in; the gin and echo Example
// functions, which the compiler checks, do the same.
func TestReadmeProgramsCallCheck(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	var programs []string
	for _, block := range strings.Split(string(readme), "```go\n")[1:] {
		code, _, _ := strings.Cut(block, "```")
		if strings.Contains(code, "func main()") {
			programs = append(programs, code)
		}
	}
	require.Len(t, programs, 3, "the net/http, gin and echo programs")
	const check = "if err := auth.Check(context.Background()); err != nil {\n\t\tlog.Fatal(err)"
	for i, p := range programs {
		_, err := parser.ParseFile(token.NewFileSet(), "main.go", p, parser.AllErrors)
		require.NoError(t, err, "README program %d does not parse", i)
		assert.Contains(t, p, check, "README program %d", i)
		assert.Contains(t, p, `"context"`, "README program %d", i)
	}
	for _, f := range []string{"adapters/gin/example_test.go", "adapters/echo/example_test.go"} {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		assert.Contains(t, string(b), check, f)
	}
}
