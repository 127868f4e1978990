package transmit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/otlogin/otlogin/internal/apptest/safe"
	"github.com/stretchr/testify/require"
)

const (
	testClientID     = "client-123"
	testClientSecret = "s3cret-VALUE-never-printed"
)

// fakeMosaic is a minimal Mosaic for unit tests: a client-credentials token endpoint under
// /oidc/token at the host root, the business endpoints, and discovery. Handlers can be replaced per path.
type fakeMosaic struct {
	t   *testing.T
	srv *httptest.Server

	tokenCalls atomic.Int64
	// tokenGate, when set, is waited on by the token handler (to let callers pile up).
	tokenGate chan struct{}
	// tokenHandler replaces the default token answer.
	tokenHandler http.HandlerFunc
	expiresIn    int

	mu       sync.Mutex
	issued   map[string]bool
	calls    map[string]int
	requests map[string][]recorded
	tokenReq []recorded
	handlers map[string]func(w http.ResponseWriter, r *http.Request, n int)

	// observe, when set, sees every exchange (request, its body, and the recorded answer).
	observe func(r *http.Request, body []byte, rec *httptest.ResponseRecorder)
}

// recorded is one request as the fake saw it.
type recorded struct {
	method string
	header http.Header
	body   []byte
}

func newFake(t *testing.T) *fakeMosaic {
	t.Helper()
	f := &fakeMosaic{
		t:         t,
		expiresIn: 3600,
		issued:    map[string]bool{},
		calls:     map[string]int{},
		requests:  map[string][]recorded{},
		handlers:  map[string]func(http.ResponseWriter, *http.Request, int){},
	}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.observe == nil {
			f.serve(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		f.serve(rec, r)
		f.observe(r, body, rec)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// base is the BaseURL of the fake, including /cis like Mosaic's.
func (f *fakeMosaic) base() string { return f.srv.URL + "/cis" }

// handle replaces the handler of a business path (relative to /cis).
func (f *fakeMosaic) handle(path string, h func(w http.ResponseWriter, r *http.Request, n int)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.handlers["/cis"+path] = h
}

// count returns how many requests reached path (relative to /cis).
func (f *fakeMosaic) count(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls["/cis"+path]
}

// total counts every request, token requests included.
func (f *fakeMosaic) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		n += c
	}
	return n
}

// last returns the last request recorded for path (relative to /cis).
func (f *fakeMosaic) last(path string) recorded {
	f.t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	rs := f.requests["/cis"+path]
	require.NotEmpty(f.t, rs, "no request reached %s", path)
	return rs[len(rs)-1]
}

func (f *fakeMosaic) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.calls[r.URL.Path]++
	n := f.calls[r.URL.Path]
	f.requests[r.URL.Path] = append(f.requests[r.URL.Path], recorded{r.Method, r.Header.Clone(), body})
	h := f.handlers[r.URL.Path]
	f.mu.Unlock()

	if r.URL.Path == "/oidc/token" { // the host root, where Mosaic serves it; not under /cis
		f.serveToken(w, r, body)
		return
	}
	if r.URL.Path != "/cis"+pathDiscovery && !f.authorized(r) {
		writeJSON(w, http.StatusUnauthorized, `{"message":"Unauthorized","error_code":401}`)
		return
	}
	if h != nil {
		h(w, r, n)
		return
	}
	switch r.URL.Path {
	case "/cis" + pathMagicLinkSend:
		writeJSON(w, http.StatusOK, `{"message":"Email sent successfully"}`)
	case "/cis" + pathOTPSend:
		writeJSON(w, http.StatusOK, `{"message":"OTP sent","code":"482913"}`)
	case "/cis" + pathMagicLinkAuth, "/cis" + pathOTPAuth:
		writeJSON(w, http.StatusOK, `{"access_token":"at","id_token":"it","refresh_token":"rt","token_type":"Bearer","expires_in":3600,"session_id":"sess-1"}`)
	case "/cis" + pathRefresh:
		writeJSON(w, http.StatusOK, `{"access_token":"at2","refresh_token":"rt2","token_type":"Bearer","expires_in":3600}`)
	case "/cis" + pathLogout:
		w.WriteHeader(http.StatusNoContent)
	case "/cis" + pathUsers:
		writeJSON(w, http.StatusCreated, `{"result":{"user_id":"u-1","status":"Active","created_at":1,"updated_at":2,"email":{"value":"jane@example.com","email_verified":false}}}`)
	case "/cis" + pathDiscovery:
		writeJSON(w, http.StatusOK, `{"issuer":"https://userid.security","jwks_uri":"`+f.base()+`/oidc/jwks","token_endpoint":"x"}`)
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeMosaic) authorized(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.mu.Lock()
	defer f.mu.Unlock()
	return ok && f.issued[tok]
}

// revokeAll makes every issued token invalid, as if Mosaic rotated keys.
func (f *fakeMosaic) revokeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.issued = map[string]bool{}
}

func (f *fakeMosaic) serveToken(w http.ResponseWriter, r *http.Request, body []byte) {
	n := f.tokenCalls.Add(1)
	f.mu.Lock()
	f.tokenReq = append(f.tokenReq, recorded{r.Method, r.Header.Clone(), body})
	f.mu.Unlock()
	if f.tokenGate != nil {
		<-f.tokenGate
	}
	if f.tokenHandler != nil {
		f.tokenHandler(w, r)
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil || r.Method != http.MethodPost || form.Get("grant_type") != "client_credentials" ||
		form.Get("client_id") != testClientID || form.Get("client_secret") != testClientSecret ||
		r.Header.Get("Authorization") != "" {
		writeJSON(w, http.StatusBadRequest, `{"message":"Bad request","error_code":400}`)
		return
	}
	tok := fmt.Sprintf("client-token-%d", n)
	f.mu.Lock()
	f.issued[tok] = true
	f.mu.Unlock()
	writeJSON(w, http.StatusOK, fmt.Sprintf(`{"access_token":%q,"token_type":"Bearer","expires_in":%d,"scope":"openid offline_access"}`, tok, f.expiresIn))
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// newClock is the tests' settable Now seam, on a fixed date.
func newClock() *safe.Clock { return safe.NewClockAt(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)) }

// newTestClient builds a Client for f; mod may adjust the Config.
func newTestClient(t *testing.T, f *fakeMosaic, mod func(*Config)) *Client {
	t.Helper()
	// Keep connections for bursts of concurrent calls; close them when the test ends.
	tr := f.srv.Client().Transport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 128
	t.Cleanup(tr.CloseIdleConnections)
	cfg := Config{
		BaseURL:      f.base(),
		ClientID:     testClientID,
		ClientSecret: testClientSecret,
		HTTPClient:   &http.Client{Transport: tr},
		Timeout:      30 * time.Second, // generous: tests that exercise deadlines set their own
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	require.NoError(t, err)
	return c
}

// decodeMap decodes a recorded JSON body.
func decodeMap(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(body, &m), "body is not a JSON object: %s", body)
	return m
}

// keys lists a map's keys, sorted.
func keys(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }
