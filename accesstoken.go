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
	tok     *transmit.TokenResponse
	at      time.Time
	session string // Mosaic session id, for dropSession
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

// dropSession forgets the results of one Mosaic session (at logout). It walks the cache,
// which is bounded by maxRecent.
func (c *recentRefreshes) dropSession(sessionID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.m {
		if e.session == sessionID {
			delete(c.m, k)
		}
	}
}

func (c *recentRefreshes) put(key, sessionID string, tok *transmit.TokenResponse, now time.Time) {
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
	c.m[key] = recentRefresh{tok: tok, at: now, session: sessionID}
}

// AccessToken returns a valid Mosaic access token of the signed-in user of ctx (a request
// context inside [Auth.Middleware], [Auth.RequireAuth] or [Auth.Handler]). When the stored
// token has expired or expires within 30 seconds it is refreshed through Mosaic and the
// rotated refresh token is stored; concurrent refreshes of one session share one call.
// Mosaic's refresh tokens are single-use, so when a refresh is refused AccessToken watches
// the session store for up to a second for tokens another instance rotated meanwhile.
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
		a.recent.put(key, s.sessionID, tok, a.cfg.Now())
		return tok, nil
	})
	if err != nil && !errors.Is(err, transmit.ErrUnavailable) && !errors.Is(err, transmit.ErrRateLimited) {
		// Refresh tokens are single-use: another instance (or a request that loaded the
		// session earlier) may have refreshed first and saved the rotated tokens.
		if fresh := a.awaitRotated(ctx, s.sessionID, s.refreshToken); fresh != nil {
			a.sm.Put(ctx, keyAuth, encodeAuth(fresh))
			st.late = true
			a.log(ctx, "refresh", s.user.Method, "rotated_elsewhere", s.user.Subject)
			return fresh.accessToken, nil
		}
	}
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
	if err := a.saveRotated(ctx, s); err != nil {
		a.log(ctx, "refresh", s.user.Method, "record_failed", s.user.Subject)
	}
	a.log(ctx, "refresh", s.user.Method, "ok", s.user.Subject)
	return s.accessToken, nil
}

// rotatedWait and rotatedPolls bound how long awaitRotated watches the store.
const (
	rotatedWait  = 100 * time.Millisecond
	rotatedPolls = 10
)

// awaitRotated re-reads this session, and the record of its newest tokens, from the store
// for a short while and returns a signed-in state once one holds a refresh token other than
// used and a valid access token: the result of a refresh made by another request. It
// returns nil otherwise.
func (a *Auth) awaitRotated(ctx context.Context, sessionID, used string) *authState {
	token := a.sm.Token(ctx)
	t := time.NewTimer(0)
	defer t.Stop()
	for i := 0; i < rotatedPolls; i++ {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		candidates := [2]*authState{}
		if token != "" {
			candidates[0] = decodeStoredAuth(a.storedAuthBytes(ctx, token))
		}
		if sessionID != "" {
			candidates[1] = decodeStoredAuth(a.authOf(a.storeFindKey(ctx, rotatedKey(sessionID))))
		}
		for _, s := range candidates {
			if s != nil && s.refreshToken != used && a.cfg.Now().Add(refreshMargin).Before(s.accessExpiry) {
				return s
			}
		}
		t.Reset(rotatedWait)
	}
	return nil
}

// decodeStoredAuth decodes a stored signed-in state, or returns nil.
func decodeStoredAuth(raw []byte, _ bool, err error) *authState {
	if err != nil || raw == nil {
		return nil
	}
	s, err := decodeAuth(raw)
	if err != nil {
		return nil
	}
	return s
}
