package otlogin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/otlogin/otlogin/internal/wire"
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
	tok             *transmit.TokenResponse
	at              time.Time
	mosaicSessionID string // Mosaic session id, for dropMosaicSession
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

// dropMosaicSession forgets the results of one Mosaic session (at logout). It walks the cache,
// which is bounded by maxRecent.
func (c *recentRefreshes) dropMosaicSession(mosaicSessionID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.m {
		if e.mosaicSessionID == mosaicSessionID {
			delete(c.m, k)
		}
	}
}

func (c *recentRefreshes) put(key, mosaicSessionID string, tok *transmit.TokenResponse, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]recentRefresh)
	}
	if _, ok := c.m[key]; !ok && len(c.m) >= maxRecent {
		// Full: drop the expired results, and when all are live, the oldest one, so a burst
		// of refreshes never wipes results other requests may still need.
		oldest, oldestAt := "", now
		for k, e := range c.m {
			if now.Sub(e.at) > recentTTL {
				delete(c.m, k)
			} else if e.at.Before(oldestAt) || oldest == "" {
				oldest, oldestAt = k, e.at
			}
		}
		if len(c.m) >= maxRecent {
			delete(c.m, oldest)
		}
	}
	c.m[key] = recentRefresh{tok: tok, at: now, mosaicSessionID: mosaicSessionID}
}

// AccessToken returns a valid Mosaic access token of the signed-in user of ctx (a request
// context inside [Auth.Middleware], [Auth.RequireAuth] or [Auth.Handler]). When the stored
// token has expired or expires within 30 seconds it is refreshed through Mosaic and the
// rotated refresh token is stored; concurrent refreshes of one session share one call.
// Mosaic's refresh tokens are single-use, so when a refresh is refused AccessToken watches
// the session store for up to a second for tokens another instance rotated meanwhile.
// It is safe to call from several goroutines with one request's context.
// It returns [ErrNotSignedIn] when nobody is signed in.
func (a *Auth) AccessToken(ctx context.Context) (string, error) {
	st := stateFrom(ctx)
	if st == nil || st.auth != a || st.user == nil || st.unavailable {
		return "", ErrNotSignedIn
	}
	b := a.signedInAuth(ctx, st)
	if b == nil {
		return "", ErrNotSignedIn
	}
	tok, expiry, err := accessTokenOf(b)
	if err != nil {
		return "", fmt.Errorf("otlogin: access token: %w", err)
	}
	if tok != "" && a.cfg.Now().Add(refreshMargin).Before(time.Unix(expiry, 0)) {
		return tok, nil
	}
	// A refresh is due: only now the whole state is decoded (and, by the refresh's Put,
	// scs's session).
	s, err := decodeAuth(b)
	if err != nil {
		return "", fmt.Errorf("otlogin: access token: %w", err)
	}
	if s.refreshToken == "" {
		return "", errors.New("otlogin: access token expired and no refresh token is stored")
	}
	fresh, err := a.refreshAuth(ctx, s)
	if err != nil {
		return "", err
	}
	st.late.Store(true)
	return fresh.accessToken, nil
}

// signedInAuth returns the encoded signed-in state of the request whose state is st. While
// scs's session of the request is not decoded (see sessionCtx.untouched) nothing can have
// changed it since it was loaded, so the state attachUser read in place is returned and the
// session stays undecoded; otherwise it is the session's current value.
func (a *Auth) signedInAuth(ctx context.Context, st *reqState) []byte {
	if c, _ := ctx.Value(sessionCtxKey{}).(*sessionCtx); c != nil && c.st == st && c.untouched() {
		return st.loadedAuth
	}
	return a.sm.GetBytes(ctx, keyAuth)
}

// refreshAuth refreshes the tokens of the signed-in state s through Mosaic and puts the
// result in the request's session (and in the record of rotated tokens). Concurrent
// refreshes of one session share one call; when Mosaic refuses the refresh token, a
// refresh made elsewhere meanwhile is looked for (see awaitRotated) before the error is
// returned. A successful refresh also counts as a revalidation.
func (a *Auth) refreshAuth(ctx context.Context, s *authState) (*authState, error) {
	now := a.cfg.Now()
	sum := sha256.Sum256([]byte(s.mosaicSessionID + "\x00" + s.refreshToken))
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
		a.recent.put(key, s.mosaicSessionID, tok, a.cfg.Now())
		return tok, nil
	})
	if err != nil && !errors.Is(err, transmit.ErrUnavailable) && !errors.Is(err, transmit.ErrRateLimited) {
		// Refresh tokens are single-use: another instance (or a request that loaded the
		// session earlier) may have refreshed first and saved the rotated tokens.
		if fresh := a.awaitRotated(ctx, s.mosaicSessionID, s.refreshToken); fresh != nil {
			fresh.checked = now
			a.sm.Put(ctx, keyAuth, encodeAuth(fresh))
			a.log(ctx, "refresh", s.user.Method, "rotated_elsewhere", s.user.Subject)
			return fresh, nil
		}
	}
	if err != nil {
		a.log(ctx, "refresh", s.user.Method, "failed", s.user.Subject, "error", errKind(err))
		return nil, fmt.Errorf("otlogin: refresh access token: %w", err)
	}
	tok := v.(*transmit.TokenResponse)
	if tok.AccessToken == "" {
		return nil, errors.New("otlogin: refresh access token: empty access token")
	}
	s.accessToken = tok.AccessToken
	s.accessExpiry = now.Add(time.Duration(tok.ExpiresIn * float64(time.Second)))
	if tok.RefreshToken != "" {
		s.refreshToken = tok.RefreshToken
	}
	s.checked = now
	a.sm.Put(ctx, keyAuth, encodeAuth(s))
	if err := a.saveRotated(ctx, s); err != nil {
		a.log(ctx, "refresh", s.user.Method, "record_failed", s.user.Subject)
	}
	a.log(ctx, "refresh", s.user.Method, "ok", s.user.Subject)
	return s, nil
}

// revalidate asks Mosaic whether the signed-in user of the request still may be, by
// refreshing the session's tokens (one call, shared by concurrent requests of the session).
// It reports false when Mosaic refused (the user was disabled or deleted, or the Mosaic
// session ended): the caller then ends the local session. When Mosaic is unreachable,
// failing or rate limiting, or when the refusal may be otlogin's own (its client
// credentials), the user stays signed in and the next try is one period later.
func (a *Auth) revalidate(ctx context.Context, b []byte) bool {
	now := a.cfg.Now()
	s, err := decodeAuth(b)
	if err != nil {
		return false
	}
	if s.refreshToken == "" {
		// Nothing to ask Mosaic with; the absolute lifetime still ends the session.
		s.checked = now
		a.sm.Put(ctx, keyAuth, encodeAuth(s))
		a.log(ctx, "revalidate", s.user.Method, "no_refresh_token", s.user.Subject)
		return true
	}
	if _, err := a.refreshAuth(ctx, s); err != nil {
		if userGone(err) {
			a.log(ctx, "revalidate", s.user.Method, "user_gone", s.user.Subject, "error", errKind(err))
			a.deleteRotated(ctx, s.mosaicSessionID)
			a.recent.dropMosaicSession(s.mosaicSessionID)
			return false
		}
		s.checked = now // retry next period, not on every request
		a.sm.Put(ctx, keyAuth, encodeAuth(s))
		a.log(ctx, "revalidate", s.user.Method, "unavailable", s.user.Subject, "error", errKind(err))
		return true
	}
	a.log(ctx, "revalidate", s.user.Method, "ok", s.user.Subject)
	return true
}

// revalidationDue reports whether the signed-in state whose user part is u (rest: the
// reader decodeUserInto returned) was last checked with Mosaic (or signed in) at least
// Config.RevalidateEvery before now. It allocates nothing: it runs on every signed-in request.
func (a *Auth) revalidationDue(now time.Time, u *User, rest wire.Reader) bool {
	every := a.cfg.RevalidateEvery
	if every <= 0 {
		return false
	}
	checked := checkedAt(rest)
	if checked == 0 {
		checked = u.AuthTime.Unix()
	}
	return now.Sub(time.Unix(checked, 0)) >= every
}

// userGone reports whether a refresh error is Mosaic refusing the refresh token itself (400,
// 403 or 404 from the refresh call: the user is disabled or deleted, or the session or
// token was revoked). Anything else (unreachable, 5xx, 429, timeouts, 401 and failures to
// get otlogin's own client token) is not taken as an answer about the user.
func userGone(err error) bool {
	var ae *transmit.APIError
	if !errors.As(err, &ae) || errors.Is(err, transmit.ErrUnauthorized) {
		return false
	}
	switch ae.Status {
	case http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound:
		return true
	}
	return false
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
func (a *Auth) awaitRotated(ctx context.Context, mosaicSessionID, used string) *authState {
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
		if mosaicSessionID != "" {
			candidates[1] = decodeStoredAuth(a.authOf(a.storeFindKey(ctx, rotatedKey(mosaicSessionID))))
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

// rotatedKey is the store key of the record that holds a Mosaic session's newest tokens
// (see saveRotated). It cannot collide with scs's 43-character tokens.
func rotatedKey(mosaicSessionID string) string {
	sum := sha256.Sum256([]byte("otlogin-rotated\x00" + mosaicSessionID))
	return recordKeyPrefix + "rotated-" + hex.EncodeToString(sum[:16])
}

// saveRotated records the signed-in state after a token refresh in a record of its own.
// The session itself may be overwritten by a slower request of another instance that
// loaded it before the refresh (scs saves whole sessions); this record is written only by
// refreshes, so the rotated refresh token survives such a write. Best effort.
//
// The record must not outlive its session: a logout deletes the session, then the record
// (handleLogout), and a refresh that lands after that would leave the revoked tokens
// behind until the record expires. So the session is looked up after the write, and the
// record deleted when the session is gone. Either the lookup comes before the logout's
// delete of the session, and so the write before the logout's delete of the record, which
// removes it; or the lookup finds the session gone. A refresh is rare (once per access
// token lifetime), so the lookup costs a signed-in request nothing.
func (a *Auth) saveRotated(ctx context.Context, s *authState) error {
	if s.mosaicSessionID == "" {
		return nil
	}
	// The record expires with the session: at the sign-in's end, or the session's deadline
	// when the app's manager has a shorter Lifetime (the session's own store expiry).
	expiry := s.user.ExpiresAt
	if d := a.sm.Deadline(ctx); d.Before(expiry) {
		expiry = d
	}
	b, err := a.sm.Codec.Encode(expiry, map[string]any{keyAuth: encodeAuth(s)})
	if err != nil {
		return err
	}
	// The record, like the refresh, must not be lost halfway to a browser that gives up:
	// each store call is bounded by StoreTimeout, not by the request.
	ctx = context.WithoutCancel(ctx)
	key := rotatedKey(s.mosaicSessionID)
	if cs, ok := a.sm.Store.(scs.CtxStore); ok {
		err = cs.CommitCtx(ctx, key, b, expiry)
	} else {
		err = a.sm.Store.Commit(key, b, expiry)
	}
	if err != nil {
		return err
	}
	// The session as the store has it: the token the request loaded (an app's sm.RenewToken
	// of a signed-in session keeps it, see settleDelete), else the current one.
	token := a.sm.Token(ctx)
	if st := stateFrom(ctx); st != nil && st.loadedToken != "" {
		token = st.loadedToken
	}
	live, err := a.storeHas(ctx, token)
	if err != nil {
		return err
	}
	if !live {
		a.deleteRotated(ctx, s.mosaicSessionID)
	}
	return nil
}

// mosaicSessionOf returns the Mosaic session id of the encoded signed-in state b ("" when
// b is nil or not one).
func mosaicSessionOf(b []byte) string {
	if b == nil {
		return ""
	}
	s, err := decodeAuth(b)
	if err != nil {
		return ""
	}
	return s.mosaicSessionID
}

// deleteRotated removes the record of saveRotated. Best effort.
func (a *Auth) deleteRotated(ctx context.Context, mosaicSessionID string) {
	if mosaicSessionID == "" {
		return
	}
	key := rotatedKey(mosaicSessionID)
	if cs, ok := a.sm.Store.(scs.CtxStore); ok {
		_ = cs.DeleteCtx(ctx, key)
		return
	}
	_ = a.sm.Store.Delete(key)
}
