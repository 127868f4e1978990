// Package safe has the helpers otlogin's tests share: a goroutine-safe settable [Clock] for
// the Config.Now seam, a [Buffer] for logs and output, and [NewBrowser], the cookie-jar
// client of the tests, and [Interleave] for benchmark ratios. It imports only the standard
// library, so every test package can use it, the root package's included.
package safe

import (
	"bytes"
	"net/http"
	"net/http/cookiejar"
	"slices"
	"sync"
	"testing"
	"time"
)

// Clock is a settable clock for the Config.Now seam, safe for concurrent use. Its zero
// value reads the zero time; start it with [NewClock].
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock set to the current time.
func NewClock() *Clock { return &Clock{t: time.Now()} }

// NewClockAt returns a Clock set to t (for tests whose data depends on the date).
func NewClockAt(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Buffer is a goroutine-safe output sink (for a server's ErrorLog, a logger or an app's
// output). Its zero value is empty and ready to use.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p to the buffer.
func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// NewBrowser returns the tests' browser: an http.Client with its own cookie jar that does
// not follow redirects (so a test sees each 303 and its Location), giving up after timeout.
func NewBrowser(timeout time.Duration) *http.Client {
	jar, _ := cookiejar.New(nil) // never fails without options
	return &http.Client{Jar: jar, Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// Interleave measures a against base on a busy machine: it alternates rounds of n calls of
// each, b.N rounds in all, and reports the median over rounds of a's time per call divided
// by base's ("ratio"), plus each one's median ns per call. Slow phases of a shared machine
// hit both sides of a round alike, which separate benchmarks run minutes apart do not.
func Interleave(b *testing.B, n int, base, a func()) {
	b.Helper()
	var ratios, baseNs, aNs []float64
	timeIt := func(f func()) float64 {
		start := time.Now()
		for range n {
			f()
		}
		return float64(time.Since(start).Nanoseconds()) / float64(n)
	}
	base()
	a()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		var tb, ta float64
		if i%2 == 0 {
			tb, ta = timeIt(base), timeIt(a)
		} else {
			ta, tb = timeIt(a), timeIt(base)
		}
		ratios, baseNs, aNs = append(ratios, ta/tb), append(baseNs, tb), append(aNs, ta)
	}
	b.ReportMetric(median(ratios), "ratio")
	b.ReportMetric(median(baseNs), "base-ns/op")
	b.ReportMetric(median(aNs), "ns/op")
}

// median returns the median of v (v is reordered).
func median(v []float64) float64 {
	slices.Sort(v)
	if len(v) == 0 {
		return 0
	}
	return v[len(v)/2]
}
