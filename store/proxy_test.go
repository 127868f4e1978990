package store

import (
	"net"
	"net/url"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// tcpProxy forwards TCP connections to target, for tests that take a store's server away
// without touching the server. stop closes the listener and every connection (the server is
// unreachable) and start listens again on the same address. hold makes it a server that
// stalls: it keeps accepting connections and reading what both sides send, but forwards
// nothing (the connections stay open, no answer comes) until release lets the held bytes
// through.
type tcpProxy struct {
	target, addr string
	mu           sync.Mutex
	cond         *sync.Cond
	held         bool
	ln           net.Listener
	conns        map[net.Conn]struct{}
	wg           sync.WaitGroup
}

// newTCPProxy starts a proxy to target on a free loopback port; it stops at cleanup.
func newTCPProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	p := &tcpProxy{target: target, conns: map[net.Conn]struct{}{}}
	p.cond = sync.NewCond(&p.mu)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.stop)
	return p
}

// viaProxy returns raw with its host replaced by a new proxy in front of it, and the proxy.
func viaProxy(t *testing.T, raw string) (string, *tcpProxy) {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	p := newTCPProxy(t, u.Host)
	u.Host = p.addr
	return u.String(), p
}

// start listens again on the proxy's address after stop.
func (p *tcpProxy) start(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	require.NoError(t, err)
	p.serve(ln)
}

func (p *tcpProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
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
			if p.ln != ln { // stopped meanwhile
				p.mu.Unlock()
				_ = c.Close()
				_ = up.Close()
				return
			}
			p.conns[c], p.conns[up] = struct{}{}, struct{}{}
			p.mu.Unlock()
			p.wg.Go(func() { p.pipe(up, c) })
			p.wg.Go(func() { p.pipe(c, up) })
		}
	})
}

// pipe copies src to dst, holding each chunk while the proxy is held, until either side
// ends or stop cuts them; then it closes dst.
func (p *tcpProxy) pipe(dst, src net.Conn) {
	defer func() { _ = dst.Close() }()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			_, open := p.conns[src]
			for p.held && open {
				p.cond.Wait()
				_, open = p.conns[src]
			}
			p.mu.Unlock()
			if !open {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *tcpProxy) hold() {
	p.mu.Lock()
	p.held = true
	p.mu.Unlock()
}

func (p *tcpProxy) release() {
	p.mu.Lock()
	p.held = false
	p.cond.Broadcast()
	p.mu.Unlock()
}

// stop closes the listener and every connection, and waits for the proxy's goroutines.
func (p *tcpProxy) stop() {
	p.mu.Lock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		_ = c.Close()
	}
	clear(p.conns)
	p.cond.Broadcast() // held pipes see their connection gone and end
	p.mu.Unlock()
	p.wg.Wait()
}
