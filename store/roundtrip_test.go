package store

import (
	"context"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin/internal/apptest"
)

// commandLog is a go-redis hook that records the name of every command the client sends
// (a pipeline counts each of its commands; go-redis's own retries are not counted).
type commandLog struct {
	mu    sync.Mutex
	names []string
}

func (h *commandLog) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) { return next(ctx, network, addr) }
}

func (h *commandLog) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.add(cmd.Name())
		return next(ctx, cmd)
	}
}

func (h *commandLog) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			h.add(c.Name())
		}
		return next(ctx, cmds)
	}
}

func (h *commandLog) add(name string) {
	h.mu.Lock()
	h.names = append(h.names, strings.ToLower(name))
	h.mu.Unlock()
}

// take returns the commands recorded since the last call and forgets them.
func (h *commandLog) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.names
	h.names = nil
	return out
}

// readOnlyCommands are the commands that change nothing in Redis.
var readOnlyCommands = []string{"get", "exists", "ttl", "pttl", "ping"}

// writes returns the commands of names that may write.
func writes(names []string) []string {
	var out []string
	for _, n := range names {
		if !slices.Contains(readOnlyCommands, n) {
			out = append(out, n)
		}
	}
	return out
}

// TestRedisRoundTrips counts the Redis commands each step of a sign-in (passcode, magic link,
// SMS send) costs, and checks that a signed-in, read-only GET /api/me costs exactly one (the
// session GET) and writes nothing.
func TestRedisRoundTrips(t *testing.T) {
	t.Parallel()
	st := open(t, redisURL(t))
	log := &commandLog{}
	st.b.(*redisBackend).client.AddHook(log)
	c := apptest.New(t, apptest.Options{Store: st})
	email := c.CreateUsers("rt", 1)[0]
	c.Emu.CreateUser("rt-sms@example.com", "+14155550199")
	cl := c.NewClient()
	linkCl, smsCl := c.NewClient(), c.NewClient()

	steps := []struct {
		name string
		do   func() apptest.Response
		want int
	}{
		{"anonymous GET /", func() apptest.Response { return cl.Get(instA, "/") }, http.StatusOK},
		{"POST /auth/otp/send", func() apptest.Response { return cl.SendOTP(instA, email) }, http.StatusAccepted},
		{"POST /auth/otp/authenticate", func() apptest.Response { return cl.AuthenticateOTP(instB, email) }, http.StatusOK},
		{"GET /api/me", func() apptest.Response { return cl.Get(instA, "/api/me", "Accept", "application/json") }, http.StatusOK},
		{"GET /api/me again", func() apptest.Response { return cl.Get(instB, "/api/me", "Accept", "application/json") }, http.StatusOK},
		{"GET /dashboard", func() apptest.Response { return cl.Get(instA, "/dashboard") }, http.StatusOK},
		{"POST /auth/link/email/send", func() apptest.Response {
			return linkCl.PostJSON(instA, "/auth/link/email/send", map[string]string{"email": email})
		}, http.StatusAccepted},
		{"GET magic-link callback", func() apptest.Response {
			link, ok := c.Emu.LastLink(email)
			require.True(t, ok, "a link was sent")
			return linkCl.Get(instB, strings.TrimPrefix(link, c.PublicURL))
		}, http.StatusSeeOther},
		{"POST /auth/otp/send (SMS)", func() apptest.Response {
			return smsCl.PostJSON(instA, "/auth/otp/send", map[string]string{"channel": "sms", "identifier": "+14155550199"})
		}, http.StatusAccepted},
	}
	got := map[string][]string{}
	for _, s := range steps {
		log.take()
		r := s.do()
		require.Equal(t, s.want, r.Status, "%s: %s", s.name, r)
		got[s.name] = log.take()
		t.Logf("%-28s %d Redis commands: %v", s.name, len(got[s.name]), got[s.name])
	}
	assert.Empty(t, got["anonymous GET /"], "a visitor without a cookie costs nothing")
	// The figures README's "Cost per request" quotes.
	assert.Equal(t, []string{"get", "evalsha", "evalsha", "get", "del", "set"}, got["GET magic-link callback"],
		"session, the flow's in-flight slot, single-use guard, session still there (no logout meanwhile), old token, new session")
	assert.Equal(t, []string{"get", "evalsha", "evalsha", "evalsha", "evalsha", "evalsha", "evalsha", "set", "set"}, got["POST /auth/otp/send (SMS)"],
		"store check, 6 limit checks (IP, identifier from this network, identifier in all, network SMS, country SMS, global SMS), latest-code record, pending flow")
	assert.Equal(t, []string{"get", "evalsha", "evalsha", "evalsha", "set"}, got["POST /auth/link/email/send"],
		"store check, 3 limit checks (IP, identifier from this network, identifier in all), pending flow")
	assert.Equal(t, []string{"get", "get", "evalsha", "get", "del", "set"}, got["POST /auth/otp/authenticate"],
		"session, latest-code record, the flow's in-flight slot, session still there (no logout meanwhile), old token, new session")
	for _, name := range []string{"GET /api/me", "GET /api/me again", "GET /dashboard"} {
		assert.Equal(t, []string{"get"}, got[name], "%s: exactly one round trip, the session GET", name)
		assert.Empty(t, writes(got[name]), "%s: no write", name)
	}
}
