package conformance

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin"
	"github.com/otlogin/otlogin/internal/apptest/safe"
)

// Inside is what the adapter tests of an app's own sm.LoadAndSave mounted inside otlogin's
// session middleware (the mistake README's "Apps that already use scs" warns about) share:
// the Auth's log, and the hold of GET /slow.
type Inside struct {
	*AdapterFixture
	// Logs is the Auth's log (JSON).
	Logs    *safe.Buffer
	started chan struct{}
	release chan struct{}
}

// NewInside builds the fixture, its Auth logging to Logs.
func NewInside(t *testing.T) *Inside {
	t.Helper()
	in := &Inside{Logs: &safe.Buffer{}, started: make(chan struct{}, 1), release: make(chan struct{})}
	in.AdapterFixture = NewAdapterFixture(t, func(c *otlogin.Config) { c.Logger = slog.New(slog.NewJSONHandler(in.Logs, nil)) })
	return in
}

// Visit is GET /visit's handler part: it puts a note in the session.
func (in *Inside) Visit(ctx context.Context) { in.Sessions.Put(ctx, "note", "visited") }

// Hold is GET /slow's handler part: it puts a note in the session, then waits until
// CheckLogoutRace lets it answer.
func (in *Inside) Hold(ctx context.Context) {
	in.Sessions.Put(ctx, "note", "written late")
	in.started <- struct{}{}
	<-in.release
}

// send sends method path with only the session cookie token and returns the status and
// the body.
func (in *Inside) send(t *testing.T, method, path, token string) (int, string) {
	t.Helper()
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader("{}")
	}
	req, err := http.NewRequest(method, in.URL+path, body)
	require.NoError(t, err)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", in.URL)
	}
	req.AddCookie(&http.Cookie{Name: in.Sessions.Cookie.Name, Value: token})
	resp, err := http.DefaultTransport.RoundTrip(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// errors returns the Error lines of the Auth's log.
func (in *Inside) errors() []string {
	var lines []string
	for _, l := range strings.Split(in.Logs.String(), "\n") {
		if strings.Contains(l, `"level":"ERROR"`) {
			lines = append(lines, l)
		}
	}
	return lines
}

// CheckLogoutRace checks the race of docs/SECURITY.md S5 through an app whose GET /slow
// (calling Hold, then answering "slow done") and GET /me (behind RequireAuth, answering the
// user's email) run inside both otlogin's middleware and the app's sm.LoadAndSave, and whose
// /auth routes run inside otlogin's middleware: a browser signs in; GET /slow with its cookie
// changes the session and waits; the browser signs out (204); GET /slow answers slowStatus.
// The cookie must then stay signed out (401): the app's LoadAndSave, which saves
// unconditionally, must not have written the deleted session back. One Error names the fix.
func (in *Inside) CheckLogoutRace(t *testing.T, slowStatus int) {
	t.Helper()
	c := NewClient(t)
	in.SignIn(t, c, "ada@example.com")
	u, err := url.Parse(in.URL)
	require.NoError(t, err)
	var token string
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == in.Sessions.Cookie.Name {
			token = ck.Value
		}
	}
	require.NotEmpty(t, token, "signed in")
	status, body := in.send(t, http.MethodGet, "/me", token)
	require.Equal(t, http.StatusOK, status, body)

	type answer struct {
		status int
		body   string
	}
	slow := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, in.URL+"/slow", nil)
		req.AddCookie(&http.Cookie{Name: in.Sessions.Cookie.Name, Value: token})
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			slow <- answer{}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		slow <- answer{resp.StatusCode, string(b)}
	}()
	<-in.started
	status, body = in.send(t, http.MethodPost, "/auth/logout", token)
	require.Equal(t, http.StatusNoContent, status, body)
	close(in.release)
	got := <-slow
	assert.Equal(t, slowStatus, got.status, got.body)
	if slowStatus == http.StatusOK {
		assert.Equal(t, "slow done", got.body, "the answer alone, without scs's error page")
	}

	status, body = in.send(t, http.MethodGet, "/me", token)
	assert.Equal(t, http.StatusUnauthorized, status, "signed out stays signed out: %s", body)
	errs := in.errors()
	require.Len(t, errs, 1, "one Error line")
	assert.Contains(t, errs[0], `"outcome":"stacked_load_and_save"`)
	assert.Contains(t, errs[0], "Remove sm.LoadAndSave")
}

// CheckFirstSaveRefused checks an app whose GET /visit (calling Visit, then answering
// "visited") and GET /read (answering the session's note) run inside both otlogin's
// middleware and the app's sm.LoadAndSave: a read is served and logs nothing; the first
// visit, which changes the session, answers visitStatus (503 when LoadAndSave saves before
// the answer, 200 when it saves after otlogin did) and logs one Error naming the fix.
func (in *Inside) CheckFirstSaveRefused(t *testing.T, visitStatus int) {
	t.Helper()
	status, body := in.send(t, http.MethodGet, "/read", "")
	assert.Equal(t, http.StatusOK, status, body)
	assert.Empty(t, in.errors(), "a read is not a mistake to report")
	status, body = in.send(t, http.MethodGet, "/visit", "")
	assert.Equal(t, visitStatus, status, body)
	if visitStatus == http.StatusServiceUnavailable {
		assert.Contains(t, body, `"error":"unavailable"`)
	}
	errs := in.errors()
	require.Len(t, errs, 1, "one Error line")
	assert.Contains(t, errs[0], `"outcome":"stacked_load_and_save"`)
	assert.Contains(t, errs[0], "Remove sm.LoadAndSave")
}
