package tcpproxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// echoServer answers every line with the same line until the test ends.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { _, _ = io.Copy(c, c); _ = c.Close() })
		}
	})
	return ln.Addr().String()
}

// roundTrip sends line on c and reads the answer, giving up after a second.
func roundTrip(c net.Conn, line string) (string, error) {
	if err := c.SetDeadline(time.Now().Add(time.Second)); err != nil {
		return "", err
	}
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return "", err
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSuffix(got, "\n"), err
}

// echoes requires line to come back through c.
func echoes(t *testing.T, c net.Conn, line string) {
	t.Helper()
	got, err := roundTrip(c, line)
	require.NoError(t, err)
	assert.Equal(t, line, got)
}

func dial(t *testing.T, p *Proxy) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestForwards(t *testing.T) {
	t.Parallel()
	p := New(t, echoServer(t), Options{})
	echoes(t, dial(t, p), "hello")
}

// TestStopStart: Stop cuts the open connections and refuses new ones; Start serves again on
// the same address.
func TestStopStart(t *testing.T) {
	t.Parallel()
	p := New(t, echoServer(t), Options{})
	c := dial(t, p)
	echoes(t, c, "one")

	p.Stop()
	_, err := roundTrip(c, "two")
	assert.Error(t, err, "the open connection was cut")
	_, err = net.Dial("tcp", p.Addr())
	assert.Error(t, err, "nothing listens")

	p.Start(t)
	echoes(t, dial(t, p), "three")
}

// held returns a held proxy and the reader of a connection through it that sent "held\n"
// and has had no answer for 200ms (so the proxy holds the line).
func held(t *testing.T) (*Proxy, *bufio.Reader) {
	t.Helper()
	p := New(t, echoServer(t), Options{})
	c := dial(t, p)
	echoes(t, c, "warm")
	p.Hold()
	require.NoError(t, c.SetDeadline(time.Now().Add(200*time.Millisecond)))
	_, err := io.WriteString(c, "held\n")
	require.NoError(t, err)
	r := bufio.NewReader(c)
	_, err = r.ReadString('\n')
	require.ErrorIs(t, err, os.ErrDeadlineExceeded, "no answer while held")
	require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
	return p, r
}

// TestHoldRelease: a held proxy keeps the connection open but answers nothing; released, it
// forwards what it held.
func TestHoldRelease(t *testing.T) {
	t.Parallel()
	p, r := held(t)
	p.Release()
	got, err := r.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "held\n", got, "the held bytes went through")
}

// TestStopWhileHeld: Stop does not wait for a Release; the held connection is cut.
func TestStopWhileHeld(t *testing.T) {
	t.Parallel()
	p, r := held(t)
	stopped := make(chan struct{})
	go func() { p.Stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("Stop waits for the held connection")
	}
	_, err := r.ReadString('\n')
	assert.True(t, errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err), "cut, not answered: %v", err)
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && strings.Contains(op.Err.Error(), "reset")
}

// TestToServer: Options.ToServer sees what the client sends and passes it on.
func TestToServer(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []string
	p := New(t, echoServer(t), Options{ToServer: func(server io.Writer, client io.Reader) {
		r := bufio.NewReader(client)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			mu.Lock()
			seen = append(seen, line)
			mu.Unlock()
			if _, err := io.WriteString(server, line); err != nil {
				return
			}
		}
	}})
	echoes(t, dial(t, p), "watched")
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{"watched\n"}, seen)
}

func TestInFront(t *testing.T) {
	t.Parallel()
	target := echoServer(t)
	raw, p := InFront(t, "redis://"+target+"/0?key_prefix=x:")
	assert.Equal(t, "redis://"+p.Addr()+"/0?key_prefix=x:", raw)
	echoes(t, dial(t, p), "via")
}
