package ginotl_test

import (
	"context"
	"io"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin"
	ginotl "github.com/otlogin/otlogin/adapters/gin"
	"github.com/otlogin/otlogin/examples/internal/conformance"
)

// newFixture is the adapter fixture, with gin in test mode.
func newFixture(t *testing.T, mods ...func(*otlogin.Config)) *conformance.AdapterFixture {
	t.Helper()
	gin.SetMode(gin.TestMode)
	return conformance.NewAdapterFixture(t, mods...)
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
	r.Use(ginotl.Middleware(f.Auth))
	for _, tc := range cases {
		r.GET("/"+tc.name, func(c *gin.Context) {
			f.Sessions.Put(c.Request.Context(), "note", tc.name)
			tc.write(c)
		})
	}
	r.GET("/read", func(c *gin.Context) { c.String(http.StatusOK, f.Sessions.GetString(c.Request.Context(), "note")) })
	f.Start(t, r)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, _ := f.CheckSessionSaved(t, tc.name)
			assert.Equal(t, tc.status, status)
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
	r.Use(ginotl.Middleware(f.Auth))
	r.Use(func(c *gin.Context) {
		c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), innerKey{}, "inner"))
		c.Next()
	})
	r.GET("/", func(c *gin.Context) {
		ctx := c.Request.Context()
		f.Sessions.Put(ctx, "k", "v") // panics without a loaded session
		_, signedIn := ginotl.User(c)
		c.String(http.StatusOK, "%v %v %v", ctx.Value(outerKey{}), ctx.Value(innerKey{}), signedIn)
	})
	f.Start(t, r)
	status, body, cookie := f.Get(t, conformance.NewClient(t), "/")
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
	ginotl.Mount(r, f.Auth)
	var reached atomic.Int32
	r.GET("/me", ginotl.RequireAuth(f.Auth), func(c *gin.Context) {
		reached.Add(1)
		u, ok := ginotl.User(c)
		require.True(t, ok)
		f.Sessions.Put(c.Request.Context(), "note", "seen")
		c.String(http.StatusOK, u.Email)
	})
	f.Start(t, r)
	f.CheckRequireAuth(t, "gin", &reached, statuses)
}

// TestMount mounts the auth routes on a group whose base path is part of Config.Prefix, and
// refuses a group that would move them.
func TestMount(t *testing.T) {
	f := newFixture(t, func(c *otlogin.Config) { c.Prefix = "/app/auth" })
	r := gin.New()
	ginotl.Mount(r.Group("/app"), f.Auth)
	assert.Panics(t, func() { ginotl.Mount(r.Group("/other"), f.Auth) })
	f.Start(t, r)
	f.CheckMountedAtAppAuth(t)
}

// TestPanicRecovered: a handler that panics inside the session layer is answered by gin's
// Recovery, once.
func TestPanicRecovered(t *testing.T) {
	f := newFixture(t)
	r := gin.New()
	r.Use(gin.RecoveryWithWriter(io.Discard), ginotl.Middleware(f.Auth))
	r.GET("/", func(c *gin.Context) {
		f.Sessions.Put(c.Request.Context(), "k", "v")
		panic("boom")
	})
	f.Start(t, r)
	status, _, _ := f.Get(t, conformance.NewClient(t), "/")
	assert.Equal(t, http.StatusInternalServerError, status)
}

// newInside serves the routes of conformance.Inside with the app's own sm.LoadAndSave in a
// gin middleware after ginotl.Middleware (the mistake): it wraps the rest of the chain, which
// writes to gin's writer, so LoadAndSave saves after the answer, after otlogin did.
func newInside(t *testing.T) *conformance.Inside {
	t.Helper()
	gin.SetMode(gin.TestMode)
	in := conformance.NewInside(t)
	sm := in.Sessions
	r := gin.New()
	r.Use(ginotl.Middleware(in.Auth))
	r.Use(func(c *gin.Context) {
		sm.LoadAndSave(http.HandlerFunc(func(_ http.ResponseWriter, req *http.Request) {
			c.Request = req
			c.Next()
		})).ServeHTTP(c.Writer, c.Request)
	})
	ginotl.Mount(r, in.Auth)
	r.GET("/slow", func(c *gin.Context) {
		in.Hold(c.Request.Context())
		c.String(http.StatusOK, "slow done")
	})
	r.GET("/visit", func(c *gin.Context) {
		in.Visit(c.Request.Context())
		c.String(http.StatusOK, "visited")
	})
	r.GET("/read", func(c *gin.Context) { c.String(http.StatusOK, sm.GetString(c.Request.Context(), "note")) })
	r.GET("/me", ginotl.RequireAuth(in.Auth), func(c *gin.Context) {
		u, _ := ginotl.User(c)
		c.String(http.StatusOK, u.Email)
	})
	in.Start(t, r)
	return in
}

// TestLoadAndSaveInsideLogoutRace: a slow request through the app's sm.LoadAndSave inside
// ginotl.Middleware does not sign a browser in again after its logout (docs/SECURITY.md
// S10); its answer, written before LoadAndSave's refused save, stands as written.
func TestLoadAndSaveInsideLogoutRace(t *testing.T) {
	newInside(t).CheckLogoutRace(t, http.StatusOK)
}

// TestLoadAndSaveInsideFirstSave: the first request that changes the session is answered
// (otlogin saved it), LoadAndSave's second save is refused and one Error names the fix.
func TestLoadAndSaveInsideFirstSave(t *testing.T) {
	newInside(t).CheckFirstSaveRefused(t, http.StatusOK)
}
