package transmit

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sendOTP is a cheap authorized call used to drive the token cache.
func sendOTP(ctx context.Context, c *Client) error {
	_, err := c.SendOTP(ctx, SendOTPRequest{Channel: ChannelDirect, IdentifierType: IdentifierEmail, Identifier: "jane@example.com"})
	return err
}

// burst runs n concurrent calls and returns their errors.
func burst(c *Client, n int) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = sendOTP(context.Background(), c) })
	}
	wg.Wait()
	return errs
}

// goroutinesWaitingForToken counts the goroutines blocked in tokenCache.get's select: callers
// that found no cached token and wait for the fetch in flight. It reads every goroutine's
// stack, so the count does not depend on timing.
func goroutinesWaitingForToken() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		header, _, _ := strings.Cut(g, "\n")
		if strings.Contains(header, "[select") && strings.Contains(g, "transmit.(*tokenCache).get(") {
			count++
		}
	}
	return count
}

// TestTokenSingleFetchUnderConcurrency is not parallel: goroutinesWaitingForToken counts the
// waiting callers of every client in the process.
func TestTokenSingleFetchUnderConcurrency(t *testing.T) {
	f := newFake(t)
	f.tokenGate = make(chan struct{})
	var release sync.Once
	open := func() { release.Do(func() { close(f.tokenGate) }) }
	t.Cleanup(open) // a failed wait below must not leave the callers blocked
	clk := newClock()
	c := newTestClient(t, f, func(cfg *Config) { cfg.Now = clk.Now })

	done := make(chan []error, 1)
	go func() { done <- burst(c, 100) }()
	// Hold the token answer until its request has arrived and all 100 callers wait for it
	// (none found a cached token), then release: the single fetch is then shared by every
	// caller, whatever the load.
	require.Eventually(t, func() bool {
		return f.tokenCalls.Load() == 1 && goroutinesWaitingForToken() == 100
	}, 20*time.Second, 5*time.Millisecond)
	open()
	for _, err := range <-done {
		require.NoError(t, err)
	}
	assert.EqualValues(t, 1, f.tokenCalls.Load(), "exactly one token request for 100 callers")
	assert.Equal(t, 100, f.count(pathOTPSend))

	// Still fresh just before expires_in - delta: no fetch.
	clk.Advance(3600*time.Second - DefaultTokenExpiryDelta - time.Second)
	require.NoError(t, sendOTP(context.Background(), c))
	assert.EqualValues(t, 1, f.tokenCalls.Load())

	// Past it: the next burst refetches exactly once.
	clk.Advance(2 * time.Second)
	for _, err := range burst(c, 100) {
		require.NoError(t, err)
	}
	assert.EqualValues(t, 2, f.tokenCalls.Load(), "exactly one refetch after expiry")
}

func TestTokenShortLifetime(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	f.expiresIn = 10 // shorter than twice the delta: kept for half its life
	clk := newClock()
	c := newTestClient(t, f, func(cfg *Config) { cfg.Now = clk.Now })
	require.NoError(t, sendOTP(context.Background(), c))
	clk.Advance(4 * time.Second)
	require.NoError(t, sendOTP(context.Background(), c))
	assert.EqualValues(t, 1, f.tokenCalls.Load())
	clk.Advance(time.Second)
	require.NoError(t, sendOTP(context.Background(), c))
	assert.EqualValues(t, 2, f.tokenCalls.Load())
}

func TestTokenRequestShape(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	c := newTestClient(t, f, nil)
	require.NoError(t, sendOTP(context.Background(), c))

	f.mu.Lock()
	require.Len(t, f.tokenReq, 1)
	tr := f.tokenReq[0]
	f.mu.Unlock()
	assert.Equal(t, http.MethodPost, tr.method)
	assert.Equal(t, "application/x-www-form-urlencoded", tr.header.Get("Content-Type"))
	assert.Empty(t, tr.header.Get("Authorization"), "credentials go in the form body, not HTTP Basic")
	form, err := url.ParseQuery(string(tr.body))
	require.NoError(t, err)
	assert.Equal(t, url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {testClientID},
		"client_secret": {testClientSecret},
	}, form)

	biz := f.last(pathOTPSend)
	assert.Equal(t, "Bearer client-token-1", biz.header.Get("Authorization"))
}

func TestUnauthorizedRefetchesOnceAndRetriesOnce(t *testing.T) {
	t.Parallel()
	t.Run("second attempt succeeds", func(t *testing.T) {
		t.Parallel()
		f := newFake(t)
		c := newTestClient(t, f, nil)
		require.NoError(t, sendOTP(context.Background(), c))
		f.revokeAll() // Mosaic now rejects the cached token
		require.NoError(t, sendOTP(context.Background(), c))
		assert.EqualValues(t, 2, f.tokenCalls.Load(), "one refetch")
		assert.Equal(t, 3, f.count(pathOTPSend), "rejected call + one retry")
		assert.Equal(t, "Bearer client-token-2", f.last(pathOTPSend).header.Get("Authorization"))
	})
	t.Run("second 401 is returned", func(t *testing.T) {
		t.Parallel()
		f := newFake(t)
		f.handle(pathOTPSend, func(w http.ResponseWriter, _ *http.Request, _ int) {
			writeJSON(w, http.StatusUnauthorized, `{"message":"Unauthorized","error_code":401}`)
		})
		c := newTestClient(t, f, nil)
		err := sendOTP(context.Background(), c)
		require.ErrorIs(t, err, ErrUnauthorized)
		assert.Equal(t, 2, f.count(pathOTPSend), "exactly two business calls")
		assert.EqualValues(t, 2, f.tokenCalls.Load())
	})
	t.Run("burst of 401s for one token refetches once", func(t *testing.T) {
		t.Parallel()
		f := newFake(t)
		c := newTestClient(t, f, nil)
		require.NoError(t, sendOTP(context.Background(), c))
		f.revokeAll()
		for _, err := range burst(c, 20) {
			require.NoError(t, err)
		}
		assert.EqualValues(t, 2, f.tokenCalls.Load())
	})
}

func TestTokenFetchFailures(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		handler  http.HandlerFunc
		secret   string
		timeout  time.Duration
		sentinel error
		status   int
		fetches  int64 // token requests made: 5xx answers are retried twice, nothing else
	}{
		{"bad secret 400", nil, "wrong-secret", 0, ErrUnauthorized, 400, 1},
		{"401", func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, 401, `{"message":"Unauthorized `+testClientSecret+`","error_code":401}`)
		}, "", 0, ErrUnauthorized, 401, 1},
		{"500", func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, 500, `{"message":"Something went wrong","error_code":500}`)
		}, "", 0, ErrUnavailable, 500, 3},
		{"503 HTML", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(503)
			_, _ = w.Write([]byte("<html>RAWBODY " + testClientSecret + "</html>"))
		}, "", 0, ErrUnavailable, 503, 3},
		{"429", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "3")
			writeJSON(w, 429, `{}`)
		}, "", 0, ErrRateLimited, 429, 1},
		{"200 not JSON", func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, 200, `<html>RAWBODY</html>`)
		}, "", 0, ErrUnavailable, 0, 1},
		{"200 without access_token", func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, 200, `{"token_type":"Bearer","expires_in":3600}`)
		}, "", 0, ErrUnavailable, 0, 1},
		{"200 negative expires_in", func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, 200, `{"access_token":"a","token_type":"Bearer","expires_in":-1}`)
		}, "", 0, ErrUnavailable, 0, 1},
		{"timeout", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		}, "", 250 * time.Millisecond, ErrUnavailable, 0, 1}, // the deadline leaves no room to retry
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t)
			f.tokenHandler = tc.handler
			c := newTestClient(t, f, func(cfg *Config) {
				if tc.secret != "" {
					cfg.ClientSecret = tc.secret
				}
				if tc.timeout != 0 {
					cfg.Timeout = tc.timeout
				}
			})
			err := sendOTP(context.Background(), c)
			require.Error(t, err)
			assert.ErrorIs(t, err, tc.sentinel)
			if tc.sentinel != ErrUnavailable {
				assert.NotErrorIs(t, err, ErrUnavailable)
			}
			assert.NotErrorIs(t, err, ErrInvalidRequest)
			var ae *APIError
			if tc.status != 0 {
				require.ErrorAs(t, err, &ae)
				assert.Equal(t, tc.status, ae.Status)
			}
			assert.NotContains(t, err.Error(), testClientSecret)
			assert.NotContains(t, err.Error(), "wrong-secret")
			assert.NotContains(t, err.Error(), "RAWBODY")
			assert.Contains(t, err.Error(), "client token")
			assert.Equal(t, 0, f.count(pathOTPSend), "no business call without a token")
			assert.Equal(t, tc.fetches, f.tokenCalls.Load(), "token requests made")
		})
	}
}

// tokenAnswers makes the fake's token endpoint fail as fail says for request n (1-based),
// or issue token "a" when fail returns false.
func tokenAnswers(f *fakeMosaic, fail func(w http.ResponseWriter, n int64) bool) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		if fail(w, f.tokenCalls.Load()) {
			return
		}
		f.mu.Lock()
		f.issued["a"] = true
		f.mu.Unlock()
		writeJSON(w, http.StatusOK, `{"access_token":"a","token_type":"Bearer","expires_in":3600}`)
	}
}

// TestTokenFetchRetries: a token request that fails as "unavailable" is retried (at most
// twice); bad credentials fail at once.
func TestTokenFetchRetries(t *testing.T) {
	t.Parallel()
	status500 := func(w http.ResponseWriter) {
		writeJSON(w, http.StatusInternalServerError, `{"message":"Something went wrong","error_code":500}`)
	}
	cases := []struct {
		name     string
		fail     func(w http.ResponseWriter, n int64) bool
		fetches  int64
		sentinel error // nil: the call succeeds
	}{
		{"500 then 200", func(w http.ResponseWriter, n int64) bool {
			if n == 1 {
				status500(w)
			}
			return n == 1
		}, 2, nil},
		{"502, 503 then 200", func(w http.ResponseWriter, n int64) bool {
			if n <= 2 {
				writeJSON(w, http.StatusBadGateway+int(n)-1, `{}`)
			}
			return n <= 2
		}, 3, nil},
		{"connection dropped then 200", func(w http.ResponseWriter, n int64) bool {
			if n == 1 {
				conn, _, err := http.NewResponseController(w).Hijack()
				if err == nil {
					_ = conn.Close() // no answer at all
				}
			}
			return n == 1
		}, 2, nil},
		{"500 three times", func(w http.ResponseWriter, _ int64) bool { status500(w); return true }, 3, ErrUnavailable},
		{"401 fails fast", func(w http.ResponseWriter, _ int64) bool {
			writeJSON(w, http.StatusUnauthorized, `{"message":"Unauthorized","error_code":401}`)
			return true
		}, 1, ErrUnauthorized},
		{"400 fails fast", func(w http.ResponseWriter, _ int64) bool {
			writeJSON(w, http.StatusBadRequest, `{"message":"Bad request","error_code":400}`)
			return true
		}, 1, ErrUnauthorized},
		{"429 is not retried", func(w http.ResponseWriter, _ int64) bool {
			writeJSON(w, http.StatusTooManyRequests, `{}`)
			return true
		}, 1, ErrRateLimited},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t)
			f.tokenHandler = tokenAnswers(f, tc.fail)
			c := newTestClient(t, f, nil)
			err := sendOTP(context.Background(), c)
			assert.Equal(t, tc.fetches, f.tokenCalls.Load(), "token requests made")
			if tc.sentinel == nil {
				require.NoError(t, err)
				assert.Equal(t, 1, f.count(pathOTPSend), "one business call once a token came")
				return
			}
			require.ErrorIs(t, err, tc.sentinel)
			assert.Equal(t, 0, f.count(pathOTPSend), "no business call without a token")
		})
	}
}

// TestTokenFetchRetriesKeepDeadlines: retries never outlast a deadline. The caller's own
// deadline ends its wait with a context error; the fetch's deadline (Config.Timeout) stops
// the retries rather than starting a back-off that would end after it.
func TestTokenFetchRetriesKeepDeadlines(t *testing.T) {
	t.Parallel()
	always500 := func(w http.ResponseWriter, _ int64) bool {
		writeJSON(w, http.StatusInternalServerError, `{}`)
		return true
	}
	t.Run("caller deadline", func(t *testing.T) {
		t.Parallel()
		f := newFake(t)
		f.tokenHandler = tokenAnswers(f, always500)
		c := newTestClient(t, f, nil)
		// Shorter than the first back-off: the caller stops waiting while the fetch backs off.
		ctx, cancel := context.WithTimeout(context.Background(), tokenRetryFirst/2)
		defer cancel()
		err := sendOTP(ctx, c)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.ErrorIs(t, err, ErrUnavailable)
		assert.Equal(t, 0, f.count(pathOTPSend))
	})
	t.Run("fetch deadline", func(t *testing.T) {
		t.Parallel()
		f := newFake(t)
		f.tokenHandler = tokenAnswers(f, always500)
		// Room for the first back-off but not for the second.
		timeout := tokenBackoff(0) + tokenBackoff(1)/2
		c := newTestClient(t, f, func(cfg *Config) { cfg.Timeout = timeout })
		err := sendOTP(context.Background(), c)
		require.ErrorIs(t, err, ErrUnavailable)
		assert.NotErrorIs(t, err, ErrUnauthorized)
		assert.LessOrEqual(t, f.tokenCalls.Load(), int64(2), "no retry is started that would end past the deadline")
	})
}

func TestTokenBackoff(t *testing.T) {
	t.Parallel()
	for retry, want := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, time.Second, time.Second} {
		assert.Equal(t, want, tokenBackoff(retry), "back-off before retry %d", retry+1)
	}
}

func TestTokenWaiterHonoursOwnContext(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	f.tokenGate = make(chan struct{})
	c := newTestClient(t, f, nil)

	// An impatient caller gives up while the fetch is in flight...
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- sendOTP(ctx, c) }()
	require.Eventually(t, func() bool { return f.tokenCalls.Load() == 1 }, 5*time.Second, time.Millisecond)
	cancel()
	err := <-errc
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, err, ErrUnavailable)

	// ...without failing the fetch for a patient one, which reuses it.
	okc := make(chan error, 1)
	go func() { okc <- sendOTP(context.Background(), c) }()
	close(f.tokenGate)
	require.NoError(t, <-okc)
	assert.EqualValues(t, 1, f.tokenCalls.Load())
}

func TestInvalidateKeepsNewerToken(t *testing.T) {
	t.Parallel()
	tc := &tokenCache{now: time.Now}
	tc.token, tc.expiry = "new", time.Now().Add(time.Hour)
	tc.invalidate("old")
	tok, ok := tc.cached()
	assert.True(t, ok)
	assert.Equal(t, "new", tok)
	tc.invalidate("new")
	_, ok = tc.cached()
	assert.False(t, ok)
}

func TestTokenErrorIsNotRetrieveError(t *testing.T) {
	t.Parallel()
	err := tokenError(errors.New("dial tcp: refused"), time.Now(), testClientSecret)
	assert.ErrorIs(t, err, ErrUnavailable)
	assert.Contains(t, err.Error(), "transmit: client token")
}

func TestTokenLifetimeFromAnswer(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		contentType string
		body        string
		staleAfter  time.Duration // first instant at which the cached token is refetched
	}{
		{"json number", "application/json", `{"access_token":"a","token_type":"Bearer","expires_in":600}`, 540 * time.Second},
		{"json string", "application/json", `{"access_token":"a","token_type":"Bearer","expires_in":"600"}`, 540 * time.Second},
		{"missing expires_in uses the spec default", "application/json", `{"access_token":"a","token_type":"Bearer"}`, time.Hour - DefaultTokenExpiryDelta},
		{"form encoded", "application/x-www-form-urlencoded", `access_token=a&token_type=Bearer&expires_in=600`, 540 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t)
			f.tokenHandler = func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", tc.contentType)
				_, _ = w.Write([]byte(tc.body))
			}
			clk := newClock()
			c := newTestClient(t, f, func(cfg *Config) { cfg.Now = clk.Now })
			// The fake authorizes only tokens it issued; the canned answer's token is "a".
			f.mu.Lock()
			f.issued["a"] = true
			f.mu.Unlock()
			require.NoError(t, sendOTP(context.Background(), c))
			clk.Advance(tc.staleAfter - time.Second)
			require.NoError(t, sendOTP(context.Background(), c))
			assert.EqualValues(t, 1, f.tokenCalls.Load())
			clk.Advance(time.Second)
			require.NoError(t, sendOTP(context.Background(), c))
			assert.EqualValues(t, 2, f.tokenCalls.Load())
		})
	}
}

// TestTokenFromHostRoot: the client-credentials token comes from /oidc/token at the root of
// BaseURL's host (where Mosaic serves it), never {BaseURL}/oidc/token.
func TestTokenFromHostRoot(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	c := newTestClient(t, f, nil)
	require.NoError(t, c.Logout(context.Background(), "sess-1"))
	f.mu.Lock()
	root, underCIS := f.calls["/oidc/token"], f.calls["/cis/oidc/token"]
	f.mu.Unlock()
	assert.Equal(t, 1, root, "token fetched from the host root")
	assert.Zero(t, underCIS, "nothing sent to {BaseURL}/oidc/token")
}
