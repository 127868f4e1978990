package otlogin

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/otlogin/otlogin/transmit/transmittest"
)

// hangingLogout is a Mosaic client whose session logout hangs until its context ends or
// release is closed.
type hangingLogout struct {
	MosaicClient
	release chan struct{}
	started atomic.Int64
	ended   atomic.Int64
}

func (c *hangingLogout) Logout(ctx context.Context, sessionID string) error {
	c.started.Add(1)
	defer c.ended.Add(1)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-c.release:
		return c.MosaicClient.Logout(ctx, sessionID)
	}
}

// TestLogoutWithHangingMosaic: logout ends the local session first and answers at once
// while Mosaic's session logout hangs; the old cookie is refused at once; the revocation
// runs in the background, bounded by Config.Timeout, and ends (no goroutine is left). Not
// parallel, so the goroutine check sees only this test's goroutines.
func TestLogoutWithHangingMosaic(t *testing.T) {
	before := goleak.IgnoreCurrent() // the goroutines that exist before this test
	t.Cleanup(func() {
		goleak.VerifyNone(t, before,
			goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
			goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
			goleak.IgnoreAnyFunction("internal/poll.runtime_pollWait"),
			// scs's memstore (the harness's store) sweeps in a goroutine that never stops.
			goleak.IgnoreTopFunction("github.com/alexedwards/scs/v2/memstore.(*MemStore).startCleanup"))
	})
	var hang *hangingLogout
	h := newHarness(t, func(c *Config) {
		hang = &hangingLogout{MosaicClient: c.Client, release: make(chan struct{})}
		c.Client = hang
		c.Timeout = 2 * time.Second
	})
	h.emu.CreateUser("ada@example.com", "")
	for _, asJSON := range []bool{false, true} {
		c := h.newClient()
		require.Equal(t, http.StatusSeeOther, h.signInLink(c, "ada@example.com", "/").StatusCode)
		token := h.sessionCookie(c)
		before := hang.started.Load()

		start := time.Now()
		var r response
		if asJSON {
			r = h.postJSON(c, "/auth/logout", map[string]string{}, "Accept", "application/json")
			require.Equal(t, http.StatusNoContent, r.StatusCode, r.body)
		} else {
			r = h.postForm(c, "/auth/logout", nil)
			require.Equal(t, http.StatusSeeOther, r.StatusCode, r.body)
		}
		took := time.Since(start)
		t.Logf("logout (json=%v) answered in %v with Mosaic hanging", asJSON, took)
		assert.Less(t, took, time.Second, "logout does not wait for Mosaic (Timeout is 2s)")
		assert.Equal(t, `"cookies"`, r.Header.Get("Clear-Site-Data"))

		me := h.get(h.clientWithCookie(token), "/api/me", "Accept", "application/json")
		assert.Equal(t, http.StatusUnauthorized, me.StatusCode, "the old cookie is refused at once")
		found, err := h.auth.storeHas(t.Context(), token)
		require.NoError(t, err)
		assert.False(t, found)
		require.Eventually(t, func() bool { return hang.started.Load() == before+1 },
			5*time.Second, 5*time.Millisecond, "the Mosaic session is revoked in the background")
		if !asJSON {
			require.Eventually(t, func() bool { return hang.ended.Load() == 1 }, 5*time.Second, 5*time.Millisecond,
				"the hanging revocation ends with Timeout")
		}
	}
	// The first revocation ran into Timeout; release the second one.
	close(hang.release)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, h.auth.Shutdown(ctx), "background revocations end within Timeout")
	assert.EqualValues(t, 2, hang.ended.Load())
	assert.Contains(t, h.logs.String(), "mosaic_logout_failed", "the timed-out revocation is logged")
}

// TestLogoutSkipsRevalidation: a logout whose session is due for revalidation does not wait
// for Mosaic to answer the refresh first.
func TestLogoutSkipsRevalidation(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.emu.CreateUser("ada@example.com", "")
	c := h.newClient()
	require.Equal(t, http.StatusSeeOther, h.signInLink(c, "ada@example.com", "/").StatusCode)
	token := h.sessionCookie(c)
	h.clock.Advance(defaultRevalidateEvery + time.Minute)
	h.emu.SetLatency(1500 * time.Millisecond)
	start := time.Now()
	r := h.postJSON(c, "/auth/logout", map[string]string{})
	took := time.Since(start)
	require.Equal(t, http.StatusNoContent, r.StatusCode, r.body)
	t.Logf("logout due for revalidation, Mosaic answering in 1.5s: answered in %v", took)
	assert.Less(t, took, time.Second)
	assert.Equal(t, 0, h.emu.Calls(transmittest.EndpointRefresh), "no revalidation on the way out")
	assert.Equal(t, http.StatusUnauthorized, h.get(h.clientWithCookie(token), "/api/me", "Accept", "application/json").StatusCode)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, h.auth.Shutdown(ctx))
}

// TestLogoutRace: a slow request that loaded the session before logout does not resurrect
// it when it finishes (docs/SECURITY.md S5).
func TestLogoutRace(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.emu.CreateUser("ada@example.com", "")
	c := h.newClient()
	require.Equal(t, http.StatusSeeOther, h.signInLink(c, "ada@example.com", "/").StatusCode)
	token := h.sessionCookie(c)
	done := make(chan response, 1)
	go func() {
		resp, err := h.clientWithCookie(token).Get(h.url("/slow"))
		if err != nil {
			done <- response{}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- response{Response: resp, body: string(b)}
	}()
	<-h.slowStarted
	require.Equal(t, http.StatusSeeOther, h.postForm(c, "/auth/logout", nil).StatusCode)
	close(h.slowRelease)
	slow := <-done
	require.NotNil(t, slow.Response)
	assert.Equal(t, "slow done", slow.body)
	assert.Empty(t, slow.Header.Values("Set-Cookie"), "no cookie for a dead session")
	found, err := h.auth.storeHas(context.Background(), token)
	require.NoError(t, err)
	assert.False(t, found, "the slow request did not recreate the session")
	assert.Equal(t, http.StatusSeeOther, h.get(h.clientWithCookie(token), "/dashboard").StatusCode)
}

// TestPanicRecovered: a panic inside the auth routes (here in OnLogin, which a sign-in calls)
// becomes a generic 500 without details, logged as a "panic" event without the panic's value,
// and nobody is signed in; http.ErrAbortHandler is passed on, so net/http aborts the answer
// as the code that raised it asked. (Panics in the app's own handlers behind Middleware or
// RequireAuth are the app's to recover.)
func TestPanicRecovered(t *testing.T) {
	t.Parallel()
	t.Run("a panic", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, func(c *Config) {
			c.OnLogin = func(context.Context, *User) error { panic("secret detail") }
		})
		h.emu.CreateUser("ada@example.com", "")
		c := h.newClient()
		r := h.signInLink(c, "ada@example.com", "/")
		assert.Equal(t, http.StatusInternalServerError, r.StatusCode)
		assert.NotContains(t, r.body, "secret detail")
		assert.NotContains(t, r.body, "goroutine")
		assert.Equal(t, "no-store", r.Header.Get("Cache-Control"))
		assert.Contains(t, h.logs.String(), `"event":"panic"`)
		assert.NotContains(t, h.logs.String(), "secret detail")
		assert.Equal(t, http.StatusSeeOther, h.get(c, "/dashboard").StatusCode, "nobody is signed in")
	})
	t.Run("http.ErrAbortHandler", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, func(c *Config) {
			c.OnLogin = func(context.Context, *User) error { panic(http.ErrAbortHandler) }
		})
		h.emu.CreateUser("ada@example.com", "")
		c := h.newClient()
		r := h.postForm(c, "/auth/link/email/send", url.Values{"email": {"ada@example.com"}})
		require.Equal(t, http.StatusOK, r.StatusCode, r.body)
		code, state := linkParams(t, h.lastLink("ada@example.com"))
		// A POST, so that the client does not retry it on a new connection.
		resp, err := c.PostForm(h.url("/auth/link/email/authenticate"), url.Values{"code": {code}, "state": {state}})
		if err == nil {
			resp.Body.Close()
		}
		require.Error(t, err, "the connection is cut: no answer")
		assert.Equal(t, 1, h.emu.Calls(transmittest.EndpointAuthenticateMagicLink))
		assert.NotContains(t, h.logs.String(), `"event":"panic"`, "not recovered")
	})
}
