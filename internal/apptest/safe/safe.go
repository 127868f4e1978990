// Package safe has the goroutine-safe helpers otlogin's tests share: a settable [Clock] for
// the Config.Now seam and a [Buffer] for logs and output. It imports only the standard
// library, so every test package can use it, the root package's included.
package safe

import (
	"bytes"
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
