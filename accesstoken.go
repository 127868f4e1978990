package otlogin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/otlogin/otlogin/transmit"
)

// refreshMargin: an access token this close to expiry is refreshed first.
const refreshMargin = 30 * time.Second

// recentTTL is how long a refresh result is reused for the same (session, refresh token),
// so a request that read the session just before another one saved the rotated token
// does not present a refresh token Mosaic has already rotated away.
const recentTTL = 30 * time.Second

// maxRecent bounds the recent-refresh cache.
const maxRecent = 4096

// recentRefreshes remembers refresh results for a short time.
type recentRefreshes struct {
	mu sync.Mutex
	m  map[string]recentRefresh
}

type recentRefresh struct {
	tok *transmit.TokenResponse
	at  time.Time
}

func (c *recentRefreshes) get(key string, now time.Time) *transmit.TokenResponse {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok || now.Sub(e.at) > recentTTL {
		return nil
	}
	return e.tok
}

func (c *recentRefreshes) put(key string, tok *transmit.TokenResponse, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]recentRefresh)
	}
	if len(c.m) >= maxRecent {
		for k, e := range c.m {
			if now.Sub(e.at) > recentTTL {
				delete(c.m, k)
			}
		}
		if len(c.m) >= maxRecent {
			clear(c.m)
		}
	}
	c.m[key] = recentRefresh{tok: tok, at: now}
}

// AccessToken returns a valid Mosaic access token of the signed-in user of ctx (a request
// context inside [Auth.Middleware], [Auth.RequireAuth] or [Auth.Handler]). When the stored
// token has expired or expires within 30 seconds it is refreshed through Mosaic and the
// rotated refresh token is stored; concurrent refreshes of one session share one call.
// It returns [ErrNotSignedIn] when nobody is signed in.
func (a *Auth) AccessToken(ctx context.Context) (string, error) {
	st := stateFrom(ctx)
	if st == nil || st.auth != a || st.user == nil || st.unavailable {
		return "", ErrNotSignedIn
	}
	b := a.sm.GetBytes(ctx, keyAuth)
	if b == nil {
		return "", ErrNotSignedIn
	}
	s, err := decodeAuth(b)
	if err != nil {
		return "", fmt.Errorf("otlogin: access token: %w", err)
	}
	now := a.cfg.Now()
	if s.accessToken != "" && now.Add(refreshMargin).Before(s.accessExpiry) {
		return s.accessToken, nil
	}
	if s.refreshToken == "" {
		return "", errors.New("otlogin: access token expired and no refresh token is stored")
	}
	sum := sha256.Sum256([]byte(s.sessionID + "\x00" + s.refreshToken))
	key := hex.EncodeToString(sum[:])
	v, err, _ := a.refreshes.Do(key, func() (any, error) {
		if tok := a.recent.get(key, a.cfg.Now()); tok != nil {
			return tok, nil
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cfg.Timeout)
		defer cancel()
		tok, err := a.client.RefreshToken(cctx, s.refreshToken)
		if err != nil {
			return nil, err
		}
		a.recent.put(key, tok, a.cfg.Now())
		return tok, nil
	})
	if err != nil {
		a.log(ctx, "refresh", s.user.Method, "failed", s.user.Subject, "error", errKind(err))
		return "", fmt.Errorf("otlogin: refresh access token: %w", err)
	}
	tok := v.(*transmit.TokenResponse)
	if tok.AccessToken == "" {
		return "", errors.New("otlogin: refresh access token: empty access token")
	}
	s.accessToken = tok.AccessToken
	s.accessExpiry = now.Add(time.Duration(tok.ExpiresIn * float64(time.Second)))
	if tok.RefreshToken != "" {
		s.refreshToken = tok.RefreshToken
	}
	a.sm.Put(ctx, keyAuth, encodeAuth(s))
	st.late = true
	a.log(ctx, "refresh", s.user.Method, "ok", s.user.Subject)
	return s.accessToken, nil
}
