package store

import (
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin"
	"github.com/otlogin/otlogin/internal/apptest"
)

// stallProxy forwards TCP connections to a server until hold is called; from then on it
// keeps accepting connections and reading what both sides send, but forwards nothing (a
// server that stalls: the connection stays open, no answer comes). release lets the held
// bytes through.
type stallProxy struct {
	addr   string
	target string
	mu     sync.Mutex
	cond   *sync.Cond
	held   bool
	closed bool
	ln     net.Listener
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newStallProxy(t *testing.T, target string) *stallProxy {
	t.Helper()
	p := &stallProxy{target: target}
	p.cond = sync.NewCond(&p.mu)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p.ln, p.addr = ln, ln.Addr().String()
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				_ = c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			p.wg.Go(func() { p.pipe(up, c) })
			p.wg.Go(func() { p.pipe(c, up) })
		}
	})
	t.Cleanup(p.close)
	return p
}

// pipe copies src to dst, holding each chunk while the proxy is held.
func (p *stallProxy) pipe(dst, src net.Conn) {
	defer func() { _ = dst.Close() }()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			for p.held && !p.closed {
				p.cond.Wait()
			}
			closed := p.closed
			p.mu.Unlock()
			if closed {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if err != io.EOF {
				return
			}
			return
		}
	}
}

func (p *stallProxy) hold() {
	p.mu.Lock()
	p.held = true
	p.mu.Unlock()
}

func (p *stallProxy) release() {
	p.mu.Lock()
	p.held = false
	p.cond.Broadcast()
	p.mu.Unlock()
}

func (p *stallProxy) close() {
	p.mu.Lock()
	p.closed = true
	p.cond.Broadcast()
	_ = p.ln.Close()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// viaStallProxy returns raw with its host replaced by a stalling proxy in front of it.
func viaStallProxy(t *testing.T, raw string) (string, *stallProxy) {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	p := newStallProxy(t, u.Host)
	u.Host = p.addr
	return u.String(), p
}

func TestStallRedis(t *testing.T) {
	t.Parallel()
	raw, p := viaStallProxy(t, redisURL(t))
	runStall(t, raw, p)
}

func TestStallPostgres(t *testing.T) {
	t.Parallel()
	raw, p := viaStallProxy(t, postgresURL(t))
	runStall(t, raw, p)
}

// runStall stalls the store's server under a running app: every request that needs the
// store answers 503 within Config.StoreTimeout (plus a margin), the way it does when the
// store is down, instead of waiting for the stall to end.
func runStall(t *testing.T, raw string, p *stallProxy) {
	t.Helper()
	const storeTimeout = time.Second
	st := open(t, raw)
	c := apptest.New(t, apptest.Options{Store: st, Instances: 1, Config: func(cfg *otlogin.Config) {
		cfg.StoreTimeout = storeTimeout
	}})
	emails := c.CreateUsers("stall", 2)
	signed := c.SignedIn(0, 0, emails[0])
	require.Equal(t, http.StatusOK, signed.Get(0, "/api/me", "Accept", "application/json").Status)

	p.hold()
	t.Cleanup(p.release) // before the proxy closes: the store's Close must not hang
	bound := storeTimeout + 3*time.Second
	for _, step := range []struct {
		name string
		do   func() apptest.Response
	}{
		{"signed-in request (session load)", func() apptest.Response {
			return signed.Get(0, "/api/me", "Accept", "application/json")
		}},
		{"send (store probe)", func() apptest.Response {
			return c.NewClient().SendOTP(0, emails[1])
		}},
	} {
		start := time.Now()
		r := step.do()
		took := time.Since(start)
		t.Logf("%s while the store stalls: %d in %s", step.name, r.Status, took.Round(time.Millisecond))
		assert.Less(t, took, bound, "%s: answered after %s (StoreTimeout %s)", step.name, took, storeTimeout)
		assert.Equal(t, http.StatusServiceUnavailable, r.Status, "%s: %s", step.name, r)
	}
}
