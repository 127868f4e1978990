// Package tcpproxy is a TCP proxy for tests that take a server away, stall it, or watch what
// its clients send, without touching the server (the store module's failure tests, the
// examples module's Redis round-trip count).
//
// [Proxy.Stop] closes the listener and every connection (the server is unreachable) and
// [Proxy.Start] listens again on the same address. [Proxy.Hold] makes it a server that
// stalls: it keeps accepting connections and reading what both sides send, but forwards
// nothing (the connections stay open, no answer comes) until [Proxy.Release] lets the held
// bytes through. [Options.ToServer] copies what clients send, to see it on the way.
//
// It imports only the standard library and testify.
package tcpproxy

import (
	"io"
	"net"
	"net/url"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// Options configure [New].
type Options struct {
	// ToServer, when set, copies what a client sends to the server, in place of the proxy
	// (Hold does not hold it). It returns when it is done with the connection; the proxy then
	// closes the server side.
	ToServer func(server io.Writer, client io.Reader)
}

// Proxy forwards TCP connections to a target address.
type Proxy struct {
	target, addr string
	opts         Options
	mu           sync.Mutex
	cond         *sync.Cond
	held         bool
	ln           net.Listener
	conns        map[net.Conn]struct{}
	wg           sync.WaitGroup
}

// New starts a proxy to target on a free loopback port; it stops at the end of the test.
func New(t testing.TB, target string, opts Options) *Proxy {
	t.Helper()
	p := &Proxy{target: target, opts: opts, conns: map[net.Conn]struct{}{}}
	p.cond = sync.NewCond(&p.mu)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.Stop)
	return p
}

// InFront returns the URL raw with its host replaced by a new proxy to that host, and the
// proxy.
func InFront(t testing.TB, raw string) (string, *Proxy) {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	p := New(t, u.Host, Options{})
	u.Host = p.addr
	return u.String(), p
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.addr }

// Start listens again on the proxy's address after [Proxy.Stop].
func (p *Proxy) Start(t testing.TB) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	require.NoError(t, err)
	p.serve(ln)
}

func (p *Proxy) serve(ln net.Listener) {
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
			if p.opts.ToServer != nil {
				p.wg.Go(func() { p.opts.ToServer(up, c); _ = up.Close() })
			} else {
				p.wg.Go(func() { p.pipe(up, c) })
			}
			p.wg.Go(func() { p.pipe(c, up) })
		}
	})
}

// pipe copies src to dst, holding each chunk while the proxy is held, until either side
// ends or Stop cuts them; then it closes dst.
func (p *Proxy) pipe(dst, src net.Conn) {
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

// Hold stops forwarding: from now on the proxy reads what both sides send and keeps it.
func (p *Proxy) Hold() {
	p.mu.Lock()
	p.held = true
	p.mu.Unlock()
}

// Release forwards again, the held bytes first.
func (p *Proxy) Release() {
	p.mu.Lock()
	p.held = false
	p.cond.Broadcast()
	p.mu.Unlock()
}

// Stop closes the listener and every connection (held bytes are dropped), and waits for the
// proxy's goroutines. It runs at the end of the test too.
func (p *Proxy) Stop() {
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
