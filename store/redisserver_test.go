package store

import (
	"bufio"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/otlogin/otlogin/internal/testservice"
	"github.com/stretchr/testify/require"
)

// redisServer is a private, non-persistent redis-server child process on a port of its own,
// which a test may stop and start again without disturbing the shared Redis other packages'
// tests use.
type redisServer struct {
	t    *testing.T
	addr string
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
}

// startRedisServer starts a private redis-server and stops it at cleanup. Without the
// redis-server binary the test is skipped, or fails when OTLOGIN_REQUIRE_SERVICES=1.
func startRedisServer(t *testing.T) *redisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		testservice.Unavailable(t, "store: redis-server binary not available: "+err.Error())
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	s := &redisServer{t: t, addr: addr, dir: t.TempDir()}
	s.start()
	t.Cleanup(s.stop)
	return s
}

// URL is the server's redis:// URL.
func (s *redisServer) URL() string { return "redis://" + s.addr + "/0" }

// start runs redis-server on s.addr and waits until it answers PING.
func (s *redisServer) start() {
	s.t.Helper()
	_, port, _ := net.SplitHostPort(s.addr)
	s.cmd = exec.Command("redis-server", "--bind", "127.0.0.1", "--port", port, "--save", "",
		"--appendonly", "no", "--daemonize", "no", "--dir", s.dir, "--loglevel", "warning")
	require.NoError(s.t, s.cmd.Start())
	done := make(chan struct{})
	s.done = done
	cmd := s.cmd
	go func() { _ = cmd.Wait(); close(done) }()
	require.Eventually(s.t, s.up, 10*time.Second, 20*time.Millisecond, "private redis-server on %s answers", s.addr)
}

// stop kills the server (as a crash would) and waits for it to exit. It is a no-op when the
// server is not running.
func (s *redisServer) stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// up reports whether the server answers PING.
func (s *redisServer) up() bool {
	c, err := net.DialTimeout("tcp", s.addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.TrimSpace(line) == "+PONG"
}
