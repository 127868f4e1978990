package transmit

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"golang.org/x/sync/singleflight"
)

// tokenCache holds the client access token. The request itself is made by
// x/oauth2/clientcredentials (form-encoded, credentials in the body); the cache is ours
// rather than oauth2.ReuseTokenSource because ReuseTokenSource (1) fetches with the context
// captured when the source was built, not the caller's, (2) judges expiry with the real
// clock, so the Now seam could not move it, and (3) cannot drop a token Mosaic rejected.
//
// Concurrency: one fetch at a time however many callers wait. Callers join the fetch in
// flight (singleflight) and each stops waiting when its own context ends; the fetch runs
// with the first caller's values but its own deadline, so one impatient caller cannot fail
// the others.
type tokenCache struct {
	cc      clientcredentials.Config
	ctxHTTP func(context.Context) context.Context // attaches the HTTP client for oauth2
	now     func() time.Time
	delta   time.Duration
	timeout time.Duration

	group singleflight.Group

	mu     sync.Mutex
	token  string
	expiry time.Time
}

// defaultTokenLifetime is used when the token answer lacks expires_in (Mosaic's default
// client-token lifetime).
const defaultTokenLifetime = time.Hour

// get returns a valid client access token, fetching one if needed.
func (tc *tokenCache) get(ctx context.Context) (string, error) {
	if tok, ok := tc.cached(); ok {
		return tok, nil
	}
	ch := tc.group.DoChan("token", func() (any, error) {
		// A caller that found the cache empty may arrive just after a fetch finished.
		if tok, ok := tc.cached(); ok {
			return tok, nil
		}
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), tc.timeout)
		defer cancel()
		return tc.fetch(fctx)
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return "", res.Err
		}
		tok, _ := res.Val.(string)
		return tok, nil
	case <-ctx.Done():
		return "", fmt.Errorf("transmit: %s: %w: %w", opToken, ErrUnavailable, ctx.Err())
	}
}

// cached returns the cached token if it is still fresh by the configured clock.
func (tc *tokenCache) cached() (string, bool) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if tc.token == "" || !tc.now().Before(tc.expiry) {
		return "", false
	}
	return tc.token, true
}

// invalidate drops tok if it is still the cached token (a business call saw it rejected).
// Comparing first means a burst of 401s for one token causes a single refetch.
func (tc *tokenCache) invalidate(tok string) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if tc.token == tok {
		tc.token = ""
		tc.expiry = time.Time{}
	}
}

// Token fetch retries: a failure that means "unavailable" (a 5xx answer, a connection error,
// a timeout) is retried tokenRetries times, after tokenRetryFirst, then twice as long each
// time up to tokenRetryMax. Safe because a token request has no user-visible side effect.
const (
	tokenRetries    = 2
	tokenRetryFirst = 100 * time.Millisecond
	tokenRetryMax   = time.Second
)

// fetch requests a new token and caches it. Failures that mean "unavailable" are retried
// with capped exponential back-off (see tokenRetries), never past ctx's deadline: a back-off
// that would end after it is not started, and the last error is returned instead. Anything
// else (400/401 for bad credentials, 429, an unusable 200 answer) is returned at once.
func (tc *tokenCache) fetch(ctx context.Context) (string, error) {
	for retry := 0; ; retry++ {
		start := tc.now()
		t, err := tc.cc.Token(tc.ctxHTTP(ctx))
		if err == nil {
			return tc.store(t, start)
		}
		if retry == tokenRetries || !tokenRetryable(err) || !sleepWithin(ctx, tokenBackoff(retry)) {
			return "", tokenError(err, start, tc.cc.ClientSecret)
		}
	}
}

// tokenRetryable reports whether a failed token request means the endpoint was unavailable:
// a 5xx answer, or no answer at all (a connection error or a timeout, which net/http reports
// as *url.Error). oauth2 reports every other answer as a *RetrieveError or a parse error.
func tokenRetryable(err error) bool {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.Response != nil && re.Response.StatusCode >= 500
	}
	var ue *url.Error
	return errors.As(err, &ue)
}

// tokenBackoff is the wait before retry number retry+1: tokenRetryFirst doubled each time,
// capped at tokenRetryMax.
func tokenBackoff(retry int) time.Duration {
	return min(tokenRetryFirst<<retry, tokenRetryMax)
}

// sleepWithin waits d and reports true, or reports false at once when ctx's deadline would
// pass first, or as soon as ctx ends.
func sleepWithin(ctx context.Context, d time.Duration) bool {
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) <= d {
		return false
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// store caches the token t, requested at start.
func (tc *tokenCache) store(t *oauth2.Token, start time.Time) (string, error) {
	lifetime := defaultTokenLifetime
	if secs, ok := expiresIn(t); ok {
		lifetime = time.Duration(secs * float64(time.Second))
	}
	if lifetime <= 0 {
		return "", fmt.Errorf("transmit: %s: expires_in is not positive: %w: %w", opToken, ErrInvalidResponse, ErrUnavailable)
	}
	// Keep a margin: delta, or half the lifetime for very short-lived tokens.
	keep := lifetime - tc.delta
	if lifetime < 2*tc.delta {
		keep = lifetime / 2
	}
	tc.mu.Lock()
	tc.token = t.AccessToken
	tc.expiry = start.Add(keep)
	tc.mu.Unlock()
	return t.AccessToken, nil
}

// expiresIn reads the raw expires_in (oauth2 turns it into an Expiry on the real clock).
func expiresIn(t *oauth2.Token) (float64, bool) {
	switch v := t.Extra("expires_in").(type) {
	case float64:
		return v, true
	case int64:
		return float64(v), true
	case string:
		f, err := strconv.ParseFloat(v, 64)
		return f, err == nil
	}
	if t.ExpiresIn != 0 {
		return float64(t.ExpiresIn), true
	}
	return 0, false
}

// tokenError maps a failed token request. The oauth2 RetrieveError carries the raw body and
// is not wrapped; only the decoded code and message survive, in an *APIError, with any echo
// of the client secret replaced.
func tokenError(err error, now time.Time, secret string) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		ae := decodeAPIError(re.Response.StatusCode, re.Response.Header, re.Body, now)
		ae.op = opToken
		if secret != "" {
			for _, f := range []*string{&ae.Code, &ae.Message, &ae.TSErrorCode} {
				*f = strings.ReplaceAll(*f, secret, redacted)
			}
		}
		return ae
	}
	// Transport failures (*url.Error: method, URL and cause; no body, no secret) and
	// unparseable 200 answers from oauth2.
	return fmt.Errorf("transmit: %s: %w: %w", opToken, ErrUnavailable, err)
}
