package transmittest_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin/internal/emutest"
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

// sendLink sends a magic link to email (emutest.SendLink), checks the state it carries and
// returns its code.
func sendLink(t *testing.T, s *transmittest.Server, tok, email string) string {
	t.Helper()
	u := emutest.SendLink(t, s, tok, email)
	require.Equal(t, emutest.LinkState, u.Query().Get("state"))
	return u.Query().Get("code")
}

func authOTP(t *testing.T, s *transmittest.Server, tok, idType, id, code string) emutest.Resp {
	t.Helper()
	return emutest.Call(t, s, tok, "/v1/auth/otp/authenticate", map[string]any{"passcode": code, "identifier_type": idType, "identifier": id})
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

func newRec(t *testing.T, h http.Handler, path string) string {
	t.Helper()
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, httptest.NewRequest(http.MethodGet, path, nil))
	require.Equal(t, http.StatusOK, rr.Code)
	return rr.Body.String()
}
