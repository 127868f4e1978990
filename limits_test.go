package otlogin

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/otlogin/otlogin/internal/apptest/safe"
	"github.com/otlogin/otlogin/transmit/transmittest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var _ Limiter = (*MemoryLimiter)(nil)

func newMemoryLimiterForTest() (*MemoryLimiter, *safe.Clock) {
	clock := safe.NewClock()
	l := NewMemoryLimiter()
	l.Now = clock.Now
	return l, clock
}

func TestMemoryLimiterConcurrentExactlyLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		callers int
		limit   int
	}{
		{"200 callers limit 5", 200, 5},
		{"500 callers limit 50", 500, 50},
		{"10 callers limit 100", 10, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l, _ := newMemoryLimiterForTest()
			var allowed atomic.Int64
			start := make(chan struct{})
			var wg sync.WaitGroup
			for range tt.callers {
				wg.Go(func() {
					<-start
					ok, _, err := l.Allow(context.Background(), "k", tt.limit, time.Minute)
					assert.NoError(t, err)
					if ok {
						allowed.Add(1)
					}
				})
			}
			close(start)
			wg.Wait()
			assert.Equal(t, int64(min(tt.callers, tt.limit)), allowed.Load())
		})
	}
}

func TestMemoryLimiterWindowResetAndRetryAfter(t *testing.T) {
	t.Parallel()
	l, clock := newMemoryLimiterForTest()
	ctx := context.Background()
	allow := func() (bool, time.Duration) {
		t.Helper()
		ok, retry, err := l.Allow(ctx, "id", 3, 15*time.Minute)
		require.NoError(t, err)
		return ok, retry
	}
	for i := range 3 {
		ok, retry := allow()
		require.True(t, ok, "event %d is within the limit", i+1)
		assert.Zero(t, retry)
		clock.Advance(time.Minute)
	}
	ok, retry := allow()
	require.False(t, ok)
	assert.Equal(t, 12*time.Minute, retry, "window started 3m ago, resets 15m after its start")

	clock.Advance(12*time.Minute - 500*time.Millisecond)
	ok, retry = allow()
	require.False(t, ok)
	assert.Equal(t, time.Second, retry, "retryAfter is at least 1s")

	clock.Advance(500 * time.Millisecond)
	ok, _ = allow()
	require.True(t, ok, "window reset")
	ok, _ = allow()
	require.True(t, ok)
	ok, _ = allow()
	require.True(t, ok)
	ok, retry = allow()
	require.False(t, ok)
	assert.Equal(t, 15*time.Minute, retry)
}

// Invalid arguments (limit < 1, window <= 0) are covered, for this limiter and the store
// limiters alike, by storetest.RunLimiter's InvalidArgs case (store/store_test.go).

func TestMemoryLimiterZeroValue(t *testing.T) {
	t.Parallel()
	var z MemoryLimiter
	ok, _, err := z.Allow(context.Background(), "k", 1, time.Minute)
	require.NoError(t, err)
	assert.True(t, ok, "the zero value is ready to use")
	ok, _, err = z.Allow(context.Background(), "k", 1, time.Minute)
	require.NoError(t, err)
	assert.False(t, ok, "and counts")
}

func TestMemoryLimiterKeysIndependent(t *testing.T) {
	t.Parallel()
	l, _ := newMemoryLimiterForTest()
	ctx := context.Background()
	for _, key := range []string{"send:email:a", "send:email:b", "send:ip:1.2.3.4"} {
		ok, _, err := l.Allow(ctx, key, 1, time.Minute)
		require.NoError(t, err)
		require.True(t, ok, key)
	}
	for _, key := range []string{"send:email:a", "send:email:b", "send:ip:1.2.3.4"} {
		ok, _, err := l.Allow(ctx, key, 1, time.Minute)
		require.NoError(t, err)
		require.False(t, ok, key)
	}
}

func TestMemoryLimiterClockGoesBack(t *testing.T) {
	t.Parallel()
	l, clock := newMemoryLimiterForTest()
	ctx := context.Background()
	ok, _, err := l.Allow(ctx, "k", 1, time.Minute)
	require.NoError(t, err)
	require.True(t, ok)
	clock.Advance(-time.Hour)
	ok, retry, err := l.Allow(ctx, "k", 1, time.Minute)
	require.NoError(t, err)
	assert.True(t, ok, "a window that starts in the future is replaced")
	assert.Zero(t, retry)
	ok, retry, err = l.Allow(ctx, "k", 1, time.Minute)
	require.NoError(t, err)
	assert.False(t, ok)
	assert.Equal(t, time.Minute, retry, "retryAfter never exceeds the window")
}

// TestMemoryLimiterPrunesExpiredWindows: many distinct keys do not grow memory once their
// windows have expired, and the map is rebuilt at its live size.
func TestMemoryLimiterPrunesExpiredWindows(t *testing.T) {
	t.Parallel()
	l, clock := newMemoryLimiterForTest()
	ctx := context.Background()
	peak := 0
	for round := range 5 {
		for i := range 20_000 {
			_, _, err := l.Allow(ctx, "r"+strconv.Itoa(round)+":"+strconv.Itoa(i), 5, time.Minute)
			require.NoError(t, err)
		}
		l.mu.Lock()
		peak = max(peak, len(l.windows))
		l.mu.Unlock()
		clock.Advance(2 * time.Minute)
	}
	assert.LessOrEqual(t, peak, 20_000+1, "only the current round's windows are held")

	_, _, err := l.Allow(ctx, "after", 5, time.Minute)
	require.NoError(t, err)
	l.mu.Lock()
	defer l.mu.Unlock()
	assert.Len(t, l.windows, 1, "every expired window is dropped once calls resume")
	assert.Less(t, l.peak, 20_000/8, "the map was rebuilt near its live size")
	n := 0
	for _, q := range l.queues {
		n += q.len()
	}
	assert.Equal(t, 1, n, "the expiry queues hold only the live window")
}

// TestMemoryLimiterMaxKeys: the limiter never holds more than MaxKeys windows; a new key
// beyond it forgets the window closest to its reset.
func TestMemoryLimiterMaxKeys(t *testing.T) {
	t.Parallel()
	l, clock := newMemoryLimiterForTest()
	l.MaxKeys = 100
	ctx := context.Background()
	for i := range 150 {
		ok, _, err := l.Allow(ctx, "k"+strconv.Itoa(i), 1, time.Hour)
		require.NoError(t, err)
		require.True(t, ok)
		clock.Advance(time.Second)
		l.mu.Lock()
		require.LessOrEqual(t, len(l.windows), 100)
		l.mu.Unlock()
	}
	// Mixed window lengths: the one that resets first goes first.
	ok, _, _ := l.Allow(ctx, "k149", 1, time.Hour)
	assert.False(t, ok, "the newest windows are kept")
	ok, _, _ = l.Allow(ctx, "k50", 1, time.Hour)
	assert.False(t, ok, "the oldest kept window is still counted")
	ok, _, _ = l.Allow(ctx, "k0", 1, time.Hour)
	assert.True(t, ok, "the oldest windows were forgotten")

	l2, _ := newMemoryLimiterForTest()
	l2.MaxKeys = 2
	_, _, _ = l2.Allow(ctx, "long", 1, time.Hour)
	_, _, _ = l2.Allow(ctx, "short", 1, time.Minute)
	_, _, _ = l2.Allow(ctx, "new", 1, time.Hour)
	ok, _, _ = l2.Allow(ctx, "long", 1, time.Hour)
	assert.False(t, ok, "the window that resets later is kept")
	ok, _, _ = l2.Allow(ctx, "short", 1, time.Minute)
	assert.True(t, ok, "the window closest to its reset was forgotten")
}

// TestMemoryLimiterSweepInSteps: a flood's expired windows are dropped in bounded steps,
// each under the lock on its own, not in one walk.
func TestMemoryLimiterSweepInSteps(t *testing.T) {
	t.Parallel()
	l, clock := newMemoryLimiterForTest()
	ctx := context.Background()
	for i := range 10_000 {
		_, _, _ = l.Allow(ctx, strconv.Itoa(i), 1, time.Minute)
	}
	clock.Advance(2 * time.Minute)
	l.mu.Lock()
	more := l.sweepStep(clock.Now().UnixNano())
	left := len(l.windows)
	l.mu.Unlock()
	assert.True(t, more)
	assert.Equal(t, 10_000-memoryLimiterSweepStep, left, "one step drops at most memoryLimiterSweepStep windows")
}

// BenchmarkMemoryLimiter measures Allow under parallel load over 1024 keys.
func BenchmarkMemoryLimiter(b *testing.B) {
	l := NewMemoryLimiter()
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = "send:email:" + strconv.Itoa(i)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, _, err := l.Allow(ctx, keys[i&1023], 5, 15*time.Minute); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// TestDefaultLimiterUsesNow: the default in-memory limiter runs on Config.Now, so an app's
// test that advances its clock past a window gets a fresh budget.
func TestDefaultLimiterUsesNow(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.Limits.SendsPerIdentifier = Rate{N: 1, Per: 15 * time.Minute} })
	h.emu.CreateUser("ada@example.com", "")
	send := func() int {
		return h.postJSON(h.newClient(), "/auth/link/email/send", map[string]string{"email": "ada@example.com"}).StatusCode
	}
	require.Equal(t, http.StatusAccepted, send())
	require.Equal(t, http.StatusTooManyRequests, send())
	h.clock.Advance(16 * time.Minute)
	assert.Equal(t, http.StatusAccepted, send(), "the window passed on Config.Now")
}

// TestSMSPerCountryBudget: one country's sends stop at its own hourly budget, so pumping one
// country cannot spend the whole app's SMS budget; other countries (and other countries of the
// same calling code: Jamaica is +1 like the US) keep theirs.
func TestSMSPerCountryBudget(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) {
		c.Limits.SMSPerHour = 6
		c.Limits.SMSPerCountryPerHour = 2
		c.Limits.SendsPerIP = Rate{N: 100}
		c.Limits.SMSPerIPPerHour = 100 // every send here comes from one client
	})
	send := func(phone string) int {
		return h.postJSON(h.newClient(), "/auth/otp/send", map[string]string{"channel": "sms", "identifier": phone}).StatusCode
	}
	// A pumping run against Jamaica: 2 pass, the rest are refused before Mosaic.
	for i := 0; i < 10; i++ {
		want := http.StatusAccepted
		if i >= 2 {
			want = http.StatusTooManyRequests
		}
		assert.Equal(t, want, send(fmt.Sprintf("+1876555%04d", 100+i)), "Jamaica send %d", i)
	}
	// Each other country still has its budget.
	for _, phone := range []string{"+14155550101", "+14155550102", "+447911123451", "+447911123452"} {
		assert.Equal(t, http.StatusAccepted, send(phone), phone)
	}
	assert.Equal(t, http.StatusTooManyRequests, send("+14155550103"), "the US budget of 2 is spent")
	r := h.postJSON(h.newClient(), "/auth/otp/send", map[string]string{"channel": "sms", "identifier": "+14155550104"})
	assert.Contains(t, r.body, "to that country", "the refusal says it is this country's budget")
	// The global budget (6) is spent now: a fresh country is refused too.
	assert.Equal(t, http.StatusTooManyRequests, send("+33612345678"))
	assert.Equal(t, 6, h.emu.Calls(transmittest.EndpointSendOTP))

	t.Run("default", func(t *testing.T) {
		c := Config{}
		require.NoError(t, c.applyDefaults())
		assert.Equal(t, 500, c.Limits.SMSPerHour)
		assert.Equal(t, 100, c.Limits.SMSPerCountryPerHour, "a fifth of the global budget")
		c = Config{Limits: Limits{SMSPerHour: 2000}}
		require.NoError(t, c.applyDefaults())
		assert.Equal(t, 400, c.Limits.SMSPerCountryPerHour)
	})
}

// TestSMSPerNetworkBudget: one client network gets SMSPerIPPerHour texts an hour (default 10),
// so a handful of IPs cannot spend a country's or the app's SMS budget (without it, 5 IPs could
// send 500 SMS in 45 minutes and close SMS sign-in for everyone; docs/SECURITY.md M3). A refused SMS
// says that texts are paused and suggests email, with Retry-After.
func TestSMSPerNetworkBudget(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.Limits.SendsPerIP = Rate{N: 100} })
	phones := []string{"+447911123401", "+447911123402", "+447911123403", "+447911123404", "+447911123405",
		"+33612345601", "+33612345602", "+33612345603", "+4915112345601", "+4915112345602", "+4915112345603"}
	for i, phone := range phones {
		r := h.postJSON(h.newClient(), "/auth/otp/send", map[string]string{"channel": "sms", "identifier": phone})
		if i < 10 {
			assert.Equal(t, http.StatusAccepted, r.StatusCode, "send %d: %s", i, r.body)
			continue
		}
		assert.Equal(t, http.StatusTooManyRequests, r.StatusCode, r.body)
		assert.Contains(t, r.body, "email", "the answer suggests signing in by email")
		assert.NotEmpty(t, r.Header.Get("Retry-After"))
	}
	assert.Equal(t, 10, h.emu.Calls(transmittest.EndpointSendOTP))
	c := Config{}
	require.NoError(t, c.applyDefaults())
	assert.Equal(t, 10, c.Limits.SMSPerIPPerHour)
}
