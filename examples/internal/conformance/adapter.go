package conformance

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin"
	"github.com/otlogin/otlogin/internal/apptest/safe"
)

// AdapterFixture is the scaffolding of the gin and echo adapter tests: a [Fixture] over
// http whose Auth uses Sessions, a session manager the test handlers can use too.
type AdapterFixture struct {
	*Fixture
	// Sessions is the Auth's session manager (memory store, cookie "session").
	Sessions *scs.SessionManager
}

// NewAdapterFixture builds the fixture; mods adjust the Config after Sessions is set.
func NewAdapterFixture(t *testing.T, mods ...func(*otlogin.Config)) *AdapterFixture {
	t.Helper()
	sm := scs.New()
	sm.Store = memstore.NewWithCleanupInterval(0)
	mods = append([]func(*otlogin.Config){func(c *otlogin.Config) { c.Sessions = sm }}, mods...)
	return &AdapterFixture{Fixture: NewFixture(t, false, mods...), Sessions: sm}
}

// NewClient returns a cookie-jar client that does not follow redirects (safe.NewBrowser, no
// time limit).
func NewClient(t *testing.T) *http.Client {
	t.Helper()
	return safe.NewBrowser(0)
}

// Get sends GET path (header is name, value pairs) to the app with c and returns the status,
// the body and the session cookie the answer sets ("" when none).
func (f *AdapterFixture) Get(t *testing.T, c *http.Client, path string, header ...string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.URL+path, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	cookie := ""
	for _, ck := range resp.Cookies() {
		if ck.Name == "session" {
			cookie = ck.Value
		}
	}
	return resp.StatusCode, string(b), cookie
}

// CheckSessionSaved requests "/"+name with a new client from a handler that put name under
// "note" in the session and then answered, and checks that the session cookie was sent and
// that GET /read (which answers the note) then answers name: the change was saved. It
// returns the first answer's status and body.
func (f *AdapterFixture) CheckSessionSaved(t *testing.T, name string) (int, string) {
	t.Helper()
	c := NewClient(t)
	status, body, cookie := f.Get(t, c, "/"+strings.ReplaceAll(name, " ", "%20"))
	assert.NotEmpty(t, cookie, "the session cookie is sent")
	_, note, _ := f.Get(t, c, "/read")
	assert.Equal(t, name, note, "the change was saved")
	return status, body
}

// CheckRequireAuth checks a GET /me route behind the router's RequireAuth without the
// session middleware, whose handler counts itself in reached, puts a note in the session and
// answers the user's email; an outer middleware sends each answer's status, as the router
// sees it, to statuses (capacity 5 or more). Anonymous requests are refused and the chain
// stops (a navigation gets a 303, a fetch() a 401); a signed-in request reaches the handler and its session change is sent.
func (f *AdapterFixture) CheckRequireAuth(t *testing.T, router string, reached *atomic.Int32, statuses <-chan int) {
	t.Helper()
	c := NewClient(t)
	status, _, _ := f.Get(t, c, "/me", "Sec-Fetch-Mode", "navigate", "Sec-Fetch-Dest", "document")
	assert.Equal(t, http.StatusSeeOther, status, "a navigation is sent to the sign-in page")
	status, body, _ := f.Get(t, c, "/me", "Accept", "*/*")
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Contains(t, body, `"error":"unauthenticated"`)
	assert.Zero(t, reached.Load(), "the chain stopped")

	f.SignIn(t, c, "ada@example.com")
	status, body, cookie := f.Get(t, c, "/me")
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "ada@example.com", body)
	assert.NotEmpty(t, cookie, "the handler's session change is sent")
	assert.Equal(t, int32(1), reached.Load())
	for _, want := range []int{303, 401, 200, 303, 200} { // the two sign-in posts included
		assert.Equal(t, want, <-statuses, fmt.Sprintf("%s sees the answer's status", router))
	}
}

// CheckMountedAtAppAuth checks that the auth routes answer under Config.Prefix "/app/auth".
func (f *AdapterFixture) CheckMountedAtAppAuth(t *testing.T) {
	t.Helper()
	status, body, _ := f.Get(t, NewClient(t), "/app/auth/login")
	assert.Equal(t, http.StatusOK, status)
	assert.Contains(t, body, `action="/app/auth/otp/send"`)
	status, _, _ = f.Get(t, NewClient(t), "/app/auth/me")
	assert.Equal(t, http.StatusUnauthorized, status)
}

// SignIn signs the cookie-jar client c in at the app with an email code read from the
// emulator's outbox (the auth routes under /auth, the HTML forms), and fails t otherwise.
func (f *Fixture) SignIn(t *testing.T, c *http.Client, email string) {
	t.Helper()
	nc := *c
	nc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	b := &browser{t: t, e: &env{emu: f.Emu, srv: f.Server}, c: &nc}
	r := b.signInOTP(email, "")
	require.Equal(t, http.StatusSeeOther, r.StatusCode, r.body)
}
