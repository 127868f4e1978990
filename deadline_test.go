package otlogin

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin/transmit"
)

// hangingMosaic is a Mosaic client whose user creation and OTP send hang until their
// context ends, recording each call's deadline.
type hangingMosaic struct {
	MosaicClient
	mu        sync.Mutex
	deadlines map[string]time.Time
}

func (c *hangingMosaic) hang(ctx context.Context, name string) error {
	d, _ := ctx.Deadline()
	c.mu.Lock()
	c.deadlines[name] = d
	c.mu.Unlock()
	<-ctx.Done()
	return ctx.Err()
}

func (c *hangingMosaic) CreateUser(ctx context.Context, _ transmit.CreateUserRequest) (*transmit.User, error) {
	return nil, c.hang(ctx, "create")
}

func (c *hangingMosaic) SendOTP(ctx context.Context, _ transmit.SendOTPRequest) (*transmit.SendOTPResponse, error) {
	return nil, c.hang(ctx, "send")
}

// TestSendOverallDeadline: a send that chains two Mosaic calls (CreateUsers: create, then
// send), each hanging, is bounded by one budget of Config.Timeout, not one per call.
func TestSendOverallDeadline(t *testing.T) {
	t.Parallel()
	const timeout = 500 * time.Millisecond
	var hang *hangingMosaic
	h := newHarness(t, func(c *Config) {
		hang = &hangingMosaic{MosaicClient: c.Client, deadlines: map[string]time.Time{}}
		c.Client = hang
		c.CreateUsers = true
		c.Timeout = timeout
	})
	start := time.Now()
	r := h.postJSON(h.newClient(), "/auth/otp/send", map[string]string{"channel": "email", "identifier": "ada@example.com"})
	took := time.Since(start)
	t.Logf("send with create and send hanging (Timeout %s): %d in %s", timeout, r.StatusCode, took.Round(time.Millisecond))
	assert.Equal(t, http.StatusServiceUnavailable, r.StatusCode, r.body)
	hang.mu.Lock()
	create, send := hang.deadlines["create"], hang.deadlines["send"]
	hang.mu.Unlock()
	require.False(t, create.IsZero(), "create was called with a deadline")
	require.False(t, send.IsZero(), "send was called with a deadline")
	assert.False(t, send.After(create), "the send shares the create's deadline: create %s, send %s (%s later)",
		create.Format(time.StampMilli), send.Format(time.StampMilli), send.Sub(create))
	assert.Less(t, took, timeout+time.Second, "generous upper bound: one Timeout, not two")
}

// stallingStore is a session store without context-aware methods whose calls block while
// stalled is set, and whose writes block while writesStalled is set (until release is
// closed).
type stallingStore struct {
	*countingStore
	stalled       atomic.Bool
	writesStalled atomic.Bool
	release       chan struct{}
}

func (s *stallingStore) wait(write bool) {
	if s.stalled.Load() || write && s.writesStalled.Load() {
		<-s.release
	}
}

func (s *stallingStore) Find(token string) ([]byte, bool, error) {
	s.wait(false)
	return s.countingStore.Find(token)
}

func (s *stallingStore) Commit(token string, b []byte, expiry time.Time) error {
	s.wait(true)
	return s.countingStore.Commit(token, b, expiry)
}

func (s *stallingStore) UpdateCtx(ctx context.Context, token string, b []byte, expiry time.Time) (bool, error) {
	s.wait(true)
	return s.countingStore.UpdateCtx(ctx, token, b, expiry)
}

// stallingLimiter is a limiter that ignores its context and blocks while stalled is set.
type stallingLimiter struct {
	*MemoryLimiter
	stalled atomic.Bool
	release chan struct{}
}

func (l *stallingLimiter) Allow(ctx context.Context, key string, limit int, window time.Duration) (bool, time.Duration, error) {
	if l.stalled.Load() {
		<-l.release
	}
	return l.MemoryLimiter.Allow(ctx, key, limit, window)
}

// TestStoreTimeoutPlainStore: a session store with no context-aware methods that stalls is
// cut at Config.StoreTimeout too (the call is abandoned, the request answers 503).
func TestStoreTimeoutPlainStore(t *testing.T) {
	t.Parallel()
	const storeTimeout = 300 * time.Millisecond
	st := &stallingStore{countingStore: newCountingStore(), release: make(chan struct{})}
	lim := &stallingLimiter{MemoryLimiter: NewMemoryLimiter(), release: st.release}
	t.Cleanup(func() { close(st.release) })
	h := newHarness(t, func(c *Config) {
		c.SessionStore = st
		c.Limiter = lim
		c.StoreTimeout = storeTimeout
	})
	h.emu.CreateUser("ada@example.com", "")
	c := h.newClient()
	require.Equal(t, http.StatusSeeOther, h.signInLink(c, "ada@example.com", "/").StatusCode)
	require.Equal(t, http.StatusOK, h.get(c, "/api/me", "Accept", "application/json").StatusCode)

	send := func() response {
		return h.postJSON(h.newClient(), "/auth/otp/send", map[string]string{"channel": "email", "identifier": "bob@example.com"})
	}
	for _, step := range []struct {
		name  string
		stall *atomic.Bool
		do    func() response
	}{
		{"signed-in request, store stalled", &st.stalled, func() response { return h.get(c, "/api/me", "Accept", "application/json") }},
		{"send, store stalled", &st.stalled, send},
		{"send, limiter stalled", &lim.stalled, send},
		{"send, store writes stalled (flow save)", &st.writesStalled, send},
	} {
		step.stall.Store(true)
		start := time.Now()
		r := step.do()
		step.stall.Store(false)
		took := time.Since(start)
		t.Logf("%s (StoreTimeout %s): %d in %s", step.name, storeTimeout, r.StatusCode, took.Round(time.Millisecond))
		assert.Equal(t, http.StatusServiceUnavailable, r.StatusCode, "%s: %s", step.name, r.body)
		assert.Less(t, took, storeTimeout+3*time.Second, step.name)
	}
}

// TestSlowBody: a client that sends the body of an auth route slower than
// Config.BodyTimeout is cut: it gets a 408 and the connection is closed, instead of
// holding a handler and a connection for as long as it likes. Clients that send their
// body in time are unaffected, on the same connection.
func TestSlowBody(t *testing.T) {
	t.Parallel()
	const bodyTimeout = 300 * time.Millisecond
	h := newHarness(t, func(c *Config) { c.BodyTimeout = bodyTimeout })
	addr := strings.TrimPrefix(h.srv.URL, "http://")

	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	br := bufio.NewReader(conn)
	body := `{"channel":"email","identifier":"ada@example.com"}`
	// A whole request first: the deadline does not cut a body sent in time, nor the next
	// request on the connection.
	_, err = fmt.Fprintf(conn, "POST /auth/otp/send HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", addr, len(body), body)
	require.NoError(t, err)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	time.Sleep(2 * bodyTimeout) // an idle keep-alive connection is not cut by the deadline

	// Then a body that never finishes: the headers promise 100 bytes, 10 arrive.
	_, err = fmt.Fprintf(conn, "POST /auth/otp/send HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n%s", addr, body[:10])
	require.NoError(t, err)
	start := time.Now()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	resp, err = http.ReadResponse(br, nil)
	took := time.Since(start)
	require.NoError(t, err, "the server answers a slow body (after %s)", took)
	msg, _ := io.ReadAll(resp.Body)
	assert.Contains(t, string(msg), "took too long")
	t.Logf("slow body (BodyTimeout %s): %d after %s", bodyTimeout, resp.StatusCode, took.Round(time.Millisecond))
	assert.Equal(t, http.StatusRequestTimeout, resp.StatusCode)
	assert.Less(t, took, bodyTimeout+3*time.Second, "generous upper bound")
	assert.True(t, resp.Close, "the answer closes the connection")
	rest, err := io.ReadAll(br)
	assert.NoError(t, err, "the server closed the connection")
	assert.Empty(t, rest)
}

// TestMosaicBudgetPerRequest: every Mosaic call of one request gets the same deadline,
// set by the first; a clean-up call (callCtx) gets a budget of its own.
func TestMosaicBudgetPerRequest(t *testing.T) {
	t.Parallel()
	a := &Auth{cfg: Config{Timeout: time.Second}}
	ctx := context.WithValue(context.Background(), ctxKey{}, &reqState{auth: a})
	first, cancel := a.mosaicCtx(ctx)
	d1, ok := first.Deadline()
	cancel()
	require.True(t, ok)
	time.Sleep(20 * time.Millisecond)
	second, cancel := a.mosaicCtx(ctx)
	d2, _ := second.Deadline()
	cancel()
	assert.Equal(t, d1, d2, "the second call shares the first one's deadline")
	cleanup, cancel := a.callCtx(ctx)
	d3, _ := cleanup.Deadline()
	cancel()
	assert.True(t, d3.After(d1), "a clean-up call has a budget of its own")

	other, cancel := a.mosaicCtx(context.WithValue(context.Background(), ctxKey{}, &reqState{auth: a}))
	d4, _ := other.Deadline()
	cancel()
	assert.True(t, d4.After(d1), "another request has a budget of its own")
}
