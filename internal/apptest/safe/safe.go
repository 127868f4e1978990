// Package safe has the goroutine-safe helpers otlogin's tests share: a settable [Clock] for
// the Config.Now seam, a [Buffer] for logs and output, and [NewBrowser], the cookie-jar
// client of the tests. It imports only the standard
// library, so every test package can use it, the root package's included.
package safe

import (
	"bytes"
	"net/http"
	"net/http/cookiejar"
	"sync"
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
