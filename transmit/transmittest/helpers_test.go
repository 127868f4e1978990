package transmittest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin/transmit/transmittest"
)

// observed is what an Options.Observer saw.
type observed struct {
	mu sync.Mutex
	ex []transmittest.Exchange
}

// observe returns opts with an Observer that records every exchange into the result.
func observe(opts transmittest.Options) (transmittest.Options, *observed) {
	o := &observed{}
	opts.Observer = func(ex transmittest.Exchange) {
		o.mu.Lock()
		defer o.mu.Unlock()
		o.ex = append(o.ex, ex)
	}
	return opts, o
}

// all returns the recorded exchanges, oldest first.
func (o *observed) all() []transmittest.Exchange {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]transmittest.Exchange(nil), o.ex...)
}

// byDesign counts the exchanges marked ByDesign.
func (o *observed) byDesign() int {
	n := 0
	for _, ex := range o.all() {
		if ex.ByDesign {
			n++
		}
	}
	return n
}

// resp is a decoded answer.
type resp struct {
	Status int
	Header http.Header
	Raw    string
	JSON   map[string]any
}

func clientToken(t *testing.T, s *transmittest.Server) string {
	t.Helper()
	r := postForm(t, s.URL+"/oidc/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {s.ClientID}, "client_secret": {s.ClientSecret},
	})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	tok, _ := r.JSON["access_token"].(string)
	require.NotEmpty(t, tok)
	return tok
}

func postForm(t *testing.T, u string, form url.Values) resp {
	t.Helper()
	res, err := http.PostForm(u, form)
	require.NoError(t, err)
	return read(t, res)
}

func read(t *testing.T, res *http.Response) resp {
	t.Helper()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	out := resp{Status: res.StatusCode, Header: res.Header, Raw: string(b)}
	if len(b) > 0 && strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		_ = json.Unmarshal(b, &out.JSON)
	}
	return out
}

// call POSTs body (a string is sent raw, anything else JSON-encoded) to s.BaseURL()+path.
func call(t *testing.T, s *transmittest.Server, token, path string, body any) resp {
	t.Helper()
	var raw []byte
	if str, ok := body.(string); ok {
		raw = []byte(str)
	} else {
		var err error
		raw, err = json.Marshal(body)
		require.NoError(t, err)
	}
	req, err := http.NewRequest(http.MethodPost, s.BaseURL()+path, bytes.NewReader(raw))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	return read(t, res)
}

func get(t *testing.T, u string) resp {
	t.Helper()
	res, err := http.Get(u)
	require.NoError(t, err)
	return read(t, res)
}

// sendLink sends a magic link to email and returns the code from the outbox.
func sendLink(t *testing.T, s *transmittest.Server, tok, email string) string {
	t.Helper()
	r := call(t, s, tok, "/v1/auth/link/email/send", map[string]any{
		"identifier": email, "identifier_type": "email", "redirect_uri": "http://localhost:8080/verify", "state": "st1",
	})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	link, ok := s.LastLink(email)
	require.True(t, ok)
	u, err := url.Parse(link)
	require.NoError(t, err)
	require.Equal(t, "st1", u.Query().Get("state"))
	return u.Query().Get("code")
}

func sendOTP(t *testing.T, s *transmittest.Server, tok, channel, idType, id string) resp {
	t.Helper()
	return call(t, s, tok, "/v1/auth/otp/send", map[string]any{"channel": channel, "identifier_type": idType, "identifier": id})
}

func authOTP(t *testing.T, s *transmittest.Server, tok, idType, id, code string) resp {
	t.Helper()
	return call(t, s, tok, "/v1/auth/otp/authenticate", map[string]any{"passcode": code, "identifier_type": idType, "identifier": id})
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

func newRec(t *testing.T, h http.Handler, path string) string {
	t.Helper()
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, httptest.NewRequest(http.MethodGet, path, nil))
	require.Equal(t, http.StatusOK, rr.Code)
	return rr.Body.String()
}
