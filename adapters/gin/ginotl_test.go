package ginotl_test

import (
	"bytes"
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin"
	ginotl "github.com/otlogin/otlogin/adapters/gin"
	"github.com/otlogin/otlogin/internal/conformance"
	"github.com/otlogin/otlogin/transmit"
	"github.com/otlogin/otlogin/transmit/transmittest"
)

// fixture is an Auth over the emulator whose session manager the test handlers can use.
type fixture struct {
	emu  *transmittest.Server
	auth *otlogin.Auth
	sm   *scs.SessionManager
	ln   net.Listener
	url  string
}

func newFixture(t *testing.T, mods ...func(*otlogin.Config)) *fixture {
	t.Helper()
	gin.SetMode(gin.TestMode)
	f := &fixture{emu: transmittest.NewTestServer(t, transmittest.Options{}), sm: scs.New()}
	f.sm.Store = memstore.NewWithCleanupInterval(0)
	client, err := transmit.New(transmit.Config{BaseURL: f.emu.BaseURL(), ClientID: f.emu.ClientID, ClientSecret: f.emu.ClientSecret})
	require.NoError(t, err)
	f.ln, err = net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	f.url = "http://" + f.ln.Addr().String()
	cfg := otlogin.Config{Client: client, PublicURL: f.url, Sessions: f.sm, CreateUsers: true}
	for _, m := range mods {
		m(&cfg)
	}
	f.auth, err = otlogin.New(cfg)
	require.NoError(t, err)
	return f
}

// start serves h on the fixture's address.
func (f *fixture) start(t *testing.T, h http.Handler) {
	t.Helper()
	var serverLog syncBuffer
	t.Cleanup(func() { // runs after the server closed
		assert.NotContains(t, serverLog.String(), "superfluous", "every answer is written once")
	})
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(&serverLog, "", 0)
	require.NoError(t, srv.Listener.Close())
	srv.Listener = f.ln
	srv.Start()
	t.Cleanup(srv.Close)
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newClient(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// get returns the status, body and session cookie ("" when none was set).
func get(t *testing.T, c *http.Client, url string, header ...string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
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

// TestSessionSavedBeforeTheBody changes the session in a handler that then answers in each of
// gin's ways: the cookie is always sent and the change is always saved.
func TestSessionSavedBeforeTheBody(t *testing.T) {
	cases := []struct {
		name   string
		write  func(c *gin.Context)
		status int
	}{
		{"String", func(c *gin.Context) { c.String(http.StatusOK, "hello") }, http.StatusOK},
		{"JSON", func(c *gin.Context) { c.JSON(http.StatusCreated, gin.H{"a": 1}) }, http.StatusCreated},
		{"Data", func(c *gin.Context) { c.Data(http.StatusOK, "text/plain", []byte("x")) }, http.StatusOK},
		{"Writer.Write", func(c *gin.Context) { _, _ = c.Writer.Write([]byte("x")) }, http.StatusOK},
		{"Writer.WriteString", func(c *gin.Context) { _, _ = c.Writer.WriteString("x") }, http.StatusOK},
		{"Redirect", func(c *gin.Context) { c.Redirect(http.StatusSeeOther, "/elsewhere") }, http.StatusSeeOther},
		{"AbortWithStatus", func(c *gin.Context) { c.AbortWithStatus(http.StatusNoContent) }, http.StatusNoContent},
		{"Status only", func(c *gin.Context) { c.Status(http.StatusAccepted) }, http.StatusAccepted},
		{"Flush first", func(c *gin.Context) { c.Writer.Flush(); _, _ = c.Writer.WriteString("x") }, http.StatusOK},
		{"Stream", func(c *gin.Context) {
			c.Stream(func(w io.Writer) bool { _, _ = io.WriteString(w, "chunk"); return false })
		}, http.StatusOK},
	}
	f := newFixture(t)
	r := gin.New()
	r.Use(ginotl.Middleware(f.auth))
	for _, tc := range cases {
		r.GET("/"+tc.name, func(c *gin.Context) {
			f.sm.Put(c.Request.Context(), "note", tc.name)
			tc.write(c)
		})
	}
	r.GET("/read", func(c *gin.Context) { c.String(http.StatusOK, f.sm.GetString(c.Request.Context(), "note")) })
	f.start(t, r)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t)
			status, _, cookie := get(t, c, f.url+"/"+strings.ReplaceAll(tc.name, " ", "%20"))
			assert.Equal(t, tc.status, status)
			assert.NotEmpty(t, cookie, "the session cookie is sent")
			_, note, _ := get(t, c, f.url+"/read")
			assert.Equal(t, tc.name, note, "the change was saved")
		})
	}
}

type outerKey struct{}
type innerKey struct{}

// TestRequestValues: values that other middleware put on the request, before or after the
// session middleware, reach the handler together with the session.
func TestRequestValues(t *testing.T) {
	f := newFixture(t)
	r := gin.New()
	r.Use(func(c *gin.Context) {
		c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), outerKey{}, "outer"))
		c.Next()
	})
	r.Use(ginotl.Middleware(f.auth))
	r.Use(func(c *gin.Context) {
		c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), innerKey{}, "inner"))
		c.Next()
	})
	r.GET("/", func(c *gin.Context) {
		ctx := c.Request.Context()
		f.sm.Put(ctx, "k", "v") // panics without a loaded session
		_, signedIn := ginotl.User(c)
		c.String(http.StatusOK, "%v %v %v", ctx.Value(outerKey{}), ctx.Value(innerKey{}), signedIn)
	})
	f.start(t, r)
	status, body, cookie := get(t, newClient(t), f.url+"/")
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "outer inner false", body)
	assert.NotEmpty(t, cookie)
}

// TestRequireAuth without the session middleware: anonymous requests are refused and the
// chain stops; signed-in requests reach the handler, which sees the user and whose session
// change is saved although it writes first. Outer middleware sees the real status.
func TestRequireAuth(t *testing.T) {
	f := newFixture(t)
	r := gin.New()
	statuses := make(chan int, 10)
	r.Use(func(c *gin.Context) { c.Next(); statuses <- c.Writer.Status() })
	ginotl.Mount(r, f.auth)
	var reached atomic.Int32
	r.GET("/me", ginotl.RequireAuth(f.auth), func(c *gin.Context) {
		reached.Add(1)
		u, ok := ginotl.User(c)
		require.True(t, ok)
		f.sm.Put(c.Request.Context(), "note", "seen")
		c.String(http.StatusOK, u.Email)
	})
	f.start(t, r)
	c := newClient(t)

	status, _, _ := get(t, c, f.url+"/me")
	assert.Equal(t, http.StatusSeeOther, status)
	status, body, _ := get(t, c, f.url+"/me", "Accept", "application/json")
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Contains(t, body, `"error":"unauthenticated"`)
	assert.Zero(t, reached.Load(), "the chain was aborted")

	conformance.SignIn(t, c, f.url, f.emu, "ada@example.com")
	status, body, cookie := get(t, c, f.url+"/me")
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "ada@example.com", body)
	assert.NotEmpty(t, cookie, "the handler's session change is sent")
	assert.Equal(t, int32(1), reached.Load())
	for _, want := range []int{303, 401, 200, 303, 200} { // the two sign-in posts included
		assert.Equal(t, want, <-statuses, "gin sees the answer's status")
	}
}

// TestMount mounts the auth routes on a group whose base path is part of Config.Prefix, and
// refuses a group that would move them.
func TestMount(t *testing.T) {
	f := newFixture(t, func(c *otlogin.Config) { c.Prefix = "/app/auth" })
	r := gin.New()
	ginotl.Mount(r.Group("/app"), f.auth)
	assert.Panics(t, func() { ginotl.Mount(r.Group("/other"), f.auth) })
	f.start(t, r)
	status, body, _ := get(t, newClient(t), f.url+"/app/auth/login")
	assert.Equal(t, http.StatusOK, status)
	assert.Contains(t, body, `action="/app/auth/otp/send"`)
	status, _, _ = get(t, newClient(t), f.url+"/app/auth/me")
	assert.Equal(t, http.StatusUnauthorized, status)
}

// TestPanicRecovered: a handler that panics inside the session layer is answered by gin's
// Recovery, once.
func TestPanicRecovered(t *testing.T) {
	f := newFixture(t)
	r := gin.New()
	r.Use(gin.RecoveryWithWriter(io.Discard), ginotl.Middleware(f.auth))
	r.GET("/", func(c *gin.Context) {
		f.sm.Put(c.Request.Context(), "k", "v")
		panic("boom")
	})
	f.start(t, r)
	status, _, _ := get(t, newClient(t), f.url+"/")
	assert.Equal(t, http.StatusInternalServerError, status)
}
