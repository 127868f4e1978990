package transmittest

import (
	"net/http"
	"time"
)

// session is a backend IdP session.
type session struct {
	id, userID       string
	created, expires time.Time
	authTime         time.Time
	amr              []string
	newUser          bool
}

type refreshToken struct {
	sessionID, userID string
	expires           time.Time
}

// sessionLocked returns the live session id belonging to userID, or nil. e.mu must be held.
func (e *Emulator) sessionLocked(id, userID string) *session {
	s := e.sessions[id]
	if s == nil || s.userID != userID || !e.nowLocked().Before(s.expires) {
		return nil
	}
	return s
}

// SessionCount returns the number of live backend sessions.
func (e *Emulator) SessionCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	now := e.nowLocked()
	for _, s := range e.sessions {
		if now.Before(s.expires) {
			n++
		}
	}
	return n
}

func (e *Emulator) handleLogout(w *recorder, r *http.Request, body []byte) {
	m, err := decodeObject(r, body, []field{{name: "session_id", kind: kString, required: true}})
	if err != nil {
		w.markOutOfSpec() // logout documents only 204
		writeJSON(w, http.StatusBadRequest, badRequestArray(err.Error()))
		return
	}
	id := str(m, "session_id")
	e.mu.Lock()
	delete(e.sessions, id)
	for t, rt := range e.refresh {
		if rt.sessionID == id {
			delete(e.refresh, t)
		}
	}
	e.mu.Unlock()
	w.status = http.StatusNoContent // idempotent: unknown sessions are already logged out
}

func (e *Emulator) handleRefresh(w *recorder, r *http.Request, body []byte) {
	m, err := decodeObject(r, body, []field{{name: "refresh_token", kind: kString, required: true}})
	if err != nil {
		w.markOutOfSpec() // refresh documents only 200
		writeJSON(w, http.StatusBadRequest, badRequestArray(err.Error()))
		return
	}
	if err := e.ensureKey(); err != nil {
		writeJSON(w, http.StatusInternalServerError, internalError())
		return
	}
	e.refreshGrant(w, r, str(m, "refresh_token"), false)
}

// refreshGrant rotates refreshTok: the old token stops working and the answer carries new
// access, ID and refresh tokens (with scope for the OIDC grant, without session_id always).
func (e *Emulator) refreshGrant(w *recorder, r *http.Request, refreshTok string, oidcGrant bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.nowLocked()
	rt := e.refresh[refreshTok]
	delete(e.refresh, refreshTok)
	var sess *session
	var u *user
	if rt != nil && now.Before(rt.expires) {
		sess = e.sessionLocked(rt.sessionID, rt.userID)
		u = e.users[rt.userID]
	}
	if sess == nil || u == nil || u.status != StatusActive {
		w.markOutOfSpec() // the backend refresh documents only 200
		if oidcGrant {
			writeJSON(w, http.StatusBadRequest, tokenBadRequest(r, "Invalid refresh token"))
		} else {
			writeJSON(w, http.StatusBadRequest, badRequestArray("Invalid refresh token"))
		}
		return
	}
	toks, err := e.issueLocked(u, sess, "", nil)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, internalError())
		return
	}
	out := map[string]any{
		"access_token": toks.access, "id_token": toks.id, "refresh_token": toks.refresh,
		"token_type": "Bearer", "expires_in": int(e.opts.TokenTTL / time.Second),
	}
	if oidcGrant {
		out["scope"] = "openid offline_access"
	}
	writeJSON(w, http.StatusOK, out)
}
