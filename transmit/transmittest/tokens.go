package transmittest

import (
	"crypto/subtle"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// sessionTTL is the backend session lifetime, extended whenever tokens are issued in it.
const sessionTTL = 14 * 24 * time.Hour

// tokenBadRequest is the 400 body of the token endpoint, as Mosaic answers it: message is a
// string at /oidc/token (the host root) and an array of strings at /cis/oidc/token.
func tokenBadRequest(r *http.Request, msg string) map[string]any {
	if strings.HasPrefix(r.URL.Path, "/cis/") {
		return badRequestArray(msg)
	}
	return map[string]any{"message": msg, "error_code": 400}
}

func (e *Emulator) handleToken(w *recorder, r *http.Request, body []byte) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		writeJSON(w, http.StatusBadRequest, tokenBadRequest(r, "Content-Type must be application/x-www-form-urlencoded"))
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, tokenBadRequest(r, "Bad request"))
		return
	}
	for _, name := range []string{"grant_type", "client_id", "client_secret"} {
		if len(form[name]) != 1 || form.Get(name) == "" {
			writeJSON(w, http.StatusBadRequest, tokenBadRequest(r, name+" should not be empty"))
			return
		}
	}
	grant := form.Get("grant_type")
	if grant != "client_credentials" && grant != "refresh_token" {
		writeJSON(w, http.StatusBadRequest, tokenBadRequest(r, "grant_type must be client_credentials or refresh_token"))
		return
	}
	if subtle.ConstantTimeCompare([]byte(form.Get("client_id")), []byte(e.opts.ClientID)) != 1 ||
		subtle.ConstantTimeCompare([]byte(form.Get("client_secret")), []byte(e.opts.ClientSecret)) != 1 {
		// Not documented (the documents list 400 and 500 only); OAuth's invalid_client answer.
		w.markOutOfSpec()
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "invalid_client", "error_description": "client authentication failed"})
		return
	}
	if err := e.ensureKey(); err != nil {
		writeJSON(w, http.StatusInternalServerError, internalError())
		return
	}
	if grant == "refresh_token" {
		e.refreshGrant(w, r, form.Get("refresh_token"), true)
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.nowLocked()
	aud := form.Get("resource")
	if aud == "" {
		aud = "userid-api"
	}
	exp := now.Add(e.opts.TokenTTL)
	tok, err := e.signLocked(map[string]any{
		"sub": e.opts.ClientID, "client_id": e.opts.ClientID, "app_id": e.opts.ClientID, "app_name": "otlogin emulator",
		"iss": e.opts.Issuer, "aud": aud, "tid": e.opts.TenantID,
		"iat": now.Unix(), "exp": exp.Unix(), "jti": randomID(8),
		"scope": "openid offline_access", "roles": []string{},
	})
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, internalError())
		return
	}
	for t, x := range e.clientTokens { // prune
		if !now.Before(x) {
			delete(e.clientTokens, t)
		}
	}
	e.clientTokens[tok] = exp
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok, "token_type": "Bearer",
		"expires_in": int(e.opts.TokenTTL / time.Second), "scope": "openid offline_access",
	})
}

// issued is a set of user tokens.
type issued struct {
	access, id, refresh string
}

// issueLocked signs access and ID tokens for u in sess and a new refresh token. method is the
// amr value of this authentication ("" for a refresh). e.mu must be held; ensureKey must have
// run.
func (e *Emulator) issueLocked(u *user, sess *session, resource string, extra map[string]any) (issued, error) {
	now := e.nowLocked()
	exp := now.Add(e.opts.TokenTTL)
	sess.expires = now.Add(sessionTTL)
	aud := resource
	if aud == "" {
		aud = "userid-api"
	}
	amr := append([]string(nil), sess.amr...)
	if len(amr) >= 2 {
		amr = append(amr, "mfa")
	}
	access, err := e.signLocked(map[string]any{
		"sub": u.id, "iss": e.opts.Issuer, "aud": aud, "iat": now.Unix(), "exp": exp.Unix(),
		"scope": "offline_access", "client_id": e.opts.ClientID, "app_id": e.opts.ClientID,
		"tid": e.opts.TenantID, "jti": randomID(8), "roles": []string{},
	})
	if err != nil {
		return issued{}, err
	}
	claims := map[string]any{
		"sub": u.id, "tid": e.opts.TenantID, "aud": e.opts.ClientID, "iss": e.opts.Issuer,
		"iat": now.Unix(), "exp": exp.Unix(), "auth_time": sess.authTime.Unix(), "amr": amr,
		"new_user": sess.newUser,
	}
	if u.email != "" {
		claims["email"], claims["email_verified"] = u.email, u.emailVerified
	}
	if u.phone != "" {
		claims["phone_number"], claims["phone_number_verified"] = u.phone, u.phoneVerified
	}
	for k, v := range extra {
		claims[k] = v
	}
	id, err := e.signIDLocked(claims)
	if err != nil {
		return issued{}, err
	}
	rt := "rt_" + randomCode()
	e.refresh[rt] = &refreshToken{sessionID: sess.id, userID: u.id, expires: now.Add(e.opts.RefreshTTL)}
	return issued{access: access, id: id, refresh: rt}, nil
}

// authenticateLocked finishes a successful login of u by method: it joins or creates the
// backend session and writes the ApiTokenResponse. sessionID was checked by the caller.
func (e *Emulator) authenticateLocked(w *recorder, u *user, method, sessionID, resource string, extra map[string]any) {
	now := e.nowLocked()
	sess := e.sessions[sessionID]
	if sess == nil {
		sess = &session{id: randomID(16), userID: u.id, created: now}
		e.sessions[sess.id] = sess
	}
	if !contains(sess.amr, method) {
		sess.amr = append(sess.amr, method)
	}
	sess.authTime = now
	sess.newUser = u.lastAuth.IsZero()
	u.lastAuth = now
	toks, err := e.issueLocked(u, sess, resource, extra)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, internalError())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": toks.access, "id_token": toks.id, "refresh_token": toks.refresh,
		"token_type": "Bearer", "expires_in": int(e.opts.TokenTTL / time.Second), "session_id": sess.id,
	})
}
