package otlogin

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin/internal/apptest/safe"
)

// liveHeap returns the bytes of live heap after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// floodHeap sends n email codes, each to its own address from its own client IP (through a
// trusted proxy), to an app on the in-memory session store and limiter with a Mosaic that
// accepts everything. It returns the live heap before, right after the flood, and after
// every window and pre-login session has expired (Config.Now moved 2h on, one more send).
func floodHeap(t testing.TB, n int) (before, flooded, expired uint64) {
	clock := safe.NewClock()
	ms := NewMemoryStore()
	ms.now = clock.Now
	a, err := New(Config{Client: stubMosaic{}, PublicURL: "https://app.example.com", SessionStore: ms,
		Now: clock.Now, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/auth/", a.Handler())
	h := a.Middleware(mux)
	send := func(i int) {
		ip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}).String()
		req := httptest.NewRequest(http.MethodPost, "/auth/otp/send",
			strings.NewReader(`{"channel":"email","identifier":"u`+strconv.Itoa(i)+`@example.com"}`))
		req.RemoteAddr = "127.0.0.1:40000"
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", ip)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusAccepted {
			t.Fatalf("send %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	before = liveHeap()
	for i := range n {
		send(i)
	}
	flooded = liveHeap()
	clock.Advance(2 * time.Hour)
	// The memory store drops expired sessions one part per step (a whole pass a minute): let
	// one pass run, a step's time apart, with a send per step.
	for i := range memShards {
		clock.Advance(memSweepEvery/memShards + time.Millisecond)
		send(n + i)
	}
	expired = liveHeap()
	runtime.KeepAlive(h)
	return before, flooded, expired
}

// TestFloodMemory: what anonymous sends store lives no longer than their windows and flows,
// and the limiter holds at most MaxKeys windows. OTLOGIN_FLOOD=200000 runs the figure the
// README quotes (go test -run TestFloodMemory -v .).
func TestFloodMemory(t *testing.T) {
	n := 20_000
	if s := os.Getenv("OTLOGIN_FLOOD"); s != "" {
		var err error
		n, err = strconv.Atoi(s)
		require.NoError(t, err)
	}
	before, flooded, expired := floodHeap(t, n)
	mb := func(b uint64) float64 { return float64(int64(b)-int64(before)) / (1 << 20) }
	t.Logf("%d sends from %d client IPs: live heap +%.1f MB after the flood, +%.1f MB after its windows expired",
		n, n, mb(flooded), mb(expired))
	require.Less(t, mb(expired), 2.0, "nothing of the flood is kept once its windows and flows have expired")
}

// TestRecentRefreshesBounded: the cache of recent refresh results never holds more than
// maxRecent entries; when full it drops the expired ones, and when all are live, the oldest.
func TestRecentRefreshesBounded(t *testing.T) {
	t.Parallel()
	var c recentRefreshes
	now := time.Now()
	for i := range maxRecent + 100 {
		c.put("k"+strconv.Itoa(i), "s", nil, now.Add(time.Duration(i)*time.Microsecond))
		require.LessOrEqual(t, len(c.m), maxRecent)
	}
	_, ok := c.m["k99"]
	assert.False(t, ok, "the oldest live entries went first")
	_, ok = c.m["k100"]
	assert.True(t, ok, "the others are kept (a burst does not wipe the cache)")
	_, ok = c.m["k4195"]
	assert.True(t, ok)

	c.put("new", "s", nil, now.Add(recentTTL+time.Second))
	assert.Len(t, c.m, 1, "every expired entry went at once")
}
