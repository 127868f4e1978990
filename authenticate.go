package otlogin

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/otlogin/otlogin/transmit"
)

// errNoIDToken: Mosaic's answer had no ID token, so nobody can be signed in.
var errNoIDToken = errors.New("otlogin: authenticate answer has no id_token")

// handleLinkCallback is where Mosaic's magic link lands. It redeems the code only for the
// browser whose pending link flow matches state; any other visitor (another browser, a
// mail scanner, a HEAD request) gets a page and spends nothing.
func (a *Auth) handleLinkCallback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	code, state := q.Get("code"), q.Get("state")
	if e := checkLinkParams(code, state); e != nil {
		a.fail(w, r, e)
		return
	}
	st := stateFrom(ctx)
	if st.unavailable {
		a.fail(w, r, errUnavailable(nil))
		return
	}
	if r.Method == http.MethodGet {
		if f := a.loadFlow(ctx); f != nil && f.Kind == flowLink && f.matchesState(state) {
			if f.expired(a.cfg.Now()) {
				a.endExpiredLink(ctx, "callback", f)
				a.fail(w, r, errInvalidCode(nil))
				return
			}
			a.redeemLink(w, r, f, code)
			return
		}
	}
	if !a.cfg.AllowCrossDevice && a.linkAtPublicHost(w, r, code, state) {
		return
	}
	a.log(ctx, "callback", MethodMagicLink, "no_matching_flow", "")
	if a.cfg.AllowCrossDevice {
		email, found, err := a.findLinkRecord(ctx, state)
		if err != nil {
			a.fail(w, r, errUnavailable(err))
			return
		}
		if !found {
			a.log(ctx, "callback", MethodMagicLink, "unknown_state", "")
			a.fail(w, r, errInvalidCode(nil))
			return
		}
		a.render(w, r, http.StatusOK, tmplConfirm, pageData{Title: "Confirm sign-in", Email: email, Code: code, State: state})
		return
	}
	a.render(w, r, http.StatusOK, tmplWrongBrowser, pageData{Title: "Open the link in the right browser", Next: "/"})
}

// handleLinkAuthenticate redeems a magic-link code posted by a form or a JSON client. It
// needs this browser's link flow with a matching state, unless AllowCrossDevice is on.
func (a *Auth) handleLinkAuthenticate(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	in, e := parseInput(w, r, a.cfg.MaxBodyBytes)
	if e != nil {
		a.fail(w, r, e)
		return
	}
	code, state := strings.TrimSpace(in.get("code")), strings.TrimSpace(in.get("state"))
	if e := checkLinkParams(code, state); e != nil {
		a.fail(w, r, e)
		return
	}
	if stateFrom(ctx).unavailable {
		a.fail(w, r, errUnavailable(nil))
		return
	}
	f := a.loadFlow(ctx)
	if f != nil && f.Kind == flowLink && f.matchesState(state) {
		if f.expired(a.cfg.Now()) {
			a.endExpiredLink(ctx, "authenticate", f)
			a.fail(w, r, errInvalidCode(nil))
			return
		}
		a.redeemLink(w, r, f, code)
		return
	}
	if !a.cfg.AllowCrossDevice {
		a.log(ctx, "authenticate", MethodMagicLink, "no_matching_flow", "")
		a.fail(w, r, errNoFlow())
		return
	}
	if e := a.allow(ctx, "redeem:ip:"+a.limitKey(a.clientNet(r)), a.cfg.Limits.RedeemsPerIP); e != nil {
		a.log(ctx, "authenticate", MethodMagicLink, "refused", "", "error", errKind(e))
		a.fail(w, r, e)
		return
	}
	// The link's state names the address it was sent to (recorded at send): the confirm
	// page showed it, and completeLogin signs in only that address.
	email, found, err := a.findLinkRecord(ctx, state)
	if err != nil {
		a.log(ctx, "authenticate", MethodMagicLink, "unavailable", "", "error", errKind(err))
		a.fail(w, r, errUnavailable(err))
		return
	}
	if !found {
		a.log(ctx, "authenticate", MethodMagicLink, "unknown_state", "")
		a.fail(w, r, errInvalidCode(nil))
		return
	}
	a.redeemLink(w, r, &flow{Kind: flowLink, Channel: channelEmail, Identifier: email,
		IdentifierType: transmit.IdentifierEmail, Next: "/"}, code)
}

// redeemLink exchanges the code once. A code reaches Mosaic at most once (docs/SECURITY.md L2): the
// first redeem claims it in the limiter, which is atomic and shared by every instance, and
// any later one gets the generic answer. When the claim cannot be checked (503) nothing was
// used and the flow stays, so the same link works once the limiter is back.
//
// Once claimed, the code is used locally whatever Mosaic answers: if Mosaic then fails
// (unavailable, 429) the user sees that answer, and any later click of the link gets the
// generic "invalid or expired, request a new one" answer without a Mosaic call, although
// Mosaic never used the code. Releasing the claim instead could let two instances call
// Mosaic with one code. The flow is kept but spent, so later clicks in this browser get
// that generic answer rather than the wrong-browser page; success or a new send replaces it.
func (a *Auth) redeemLink(w http.ResponseWriter, r *http.Request, f *flow, code string) {
	ctx := r.Context()
	if f.State != "" {
		if e := a.claimAttempt(ctx, f); e != nil {
			a.fail(w, r, e)
			return
		}
	}
	first, _, err := a.limiter.Allow(ctx, "otlogin:redeem:code:"+a.limitKey(code), 1, a.cfg.LinkTTL)
	if err != nil {
		a.log(ctx, "authenticate", MethodMagicLink, "unavailable", f.Identifier, "error", errKind(err))
		a.fail(w, r, errUnavailable(err))
		return
	}
	if f.State != "" {
		a.saveFlow(ctx, f.spent())
	}
	if !first {
		a.log(ctx, "authenticate", MethodMagicLink, "code_reused", f.Identifier)
		a.fail(w, r, errInvalidCode(nil))
		return
	}
	cctx, cancel := a.mosaicCtx(ctx)
	tok, err := a.client.AuthenticateMagicLink(cctx, transmit.AuthenticateMagicLinkRequest{
		Code: code, ClientAttributes: a.clientAttrs(r)})
	cancel()
	if err != nil {
		a.log(ctx, "authenticate", MethodMagicLink, "failed", f.Identifier, "error", errKind(err))
		a.fail(w, r, authenticateError(err))
		return
	}
	a.completeLogin(w, r, f, tok)
}

// endExpiredLink ends an expired link flow and logs it. A spent flow (see redeemLink) stays,
// so every later click of its link in this browser gets the same generic answer.
func (a *Auth) endExpiredLink(ctx context.Context, op string, f *flow) {
	if f.Expires == 0 {
		a.log(ctx, op, MethodMagicLink, "code_used", f.Identifier)
		return
	}
	a.sm.Remove(ctx, keyFlow)
	a.log(ctx, op, MethodMagicLink, "flow_expired", f.Identifier)
}

// handleOTPAuthenticate checks a passcode against this browser's OTP flow.
func (a *Auth) handleOTPAuthenticate(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	in, e := parseInput(w, r, a.cfg.MaxBodyBytes)
	if e != nil {
		a.fail(w, r, e)
		return
	}
	passcode, e := checkPasscode(in.get("passcode"))
	if e != nil {
		a.failCode(w, r, e)
		return
	}
	if stateFrom(ctx).unavailable {
		a.fail(w, r, errUnavailable(nil))
		return
	}
	f := a.loadFlow(ctx)
	if f == nil || f.Kind != flowOTP {
		a.log(ctx, "authenticate", "", "no_flow", "")
		a.fail(w, r, errNoFlow())
		return
	}
	if ch, id := in.get("channel"), in.get("identifier"); ch != "" || id != "" {
		if ch == "" {
			ch = f.Channel
		}
		gotCh, gotID, _, e := a.parseIdentifier(ch, id)
		if e != nil || gotCh != f.Channel || gotID != f.Identifier {
			a.log(ctx, "authenticate", f.method(), "flow_mismatch", f.Identifier)
			a.fail(w, r, newError(http.StatusBadRequest, "flow_mismatch",
				"That code was requested for a different address. Start again from the sign-in page."))
			return
		}
	}
	if f.expired(a.cfg.Now()) {
		a.sm.Remove(ctx, keyFlow)
		a.log(ctx, "authenticate", f.method(), "flow_expired", f.Identifier)
		a.fail(w, r, errInvalidCode(nil))
		return
	}
	if n := a.cfg.Limits.AttemptsPerFlow; n > 0 && f.Attempt >= n {
		// Attempts are counted per flow, never per address: another person's flow for the
		// same address cannot spend this one's. A new send starts a new flow.
		a.sm.Remove(ctx, keyFlow)
		a.log(ctx, "authenticate", f.method(), "refused", f.Identifier, "error", "too_many_attempts")
		a.fail(w, r, errTooManyAttempts())
		return
	}
	if current, err := a.isLatestOTPFlow(ctx, f); err != nil {
		a.log(ctx, "authenticate", f.method(), "unavailable", f.Identifier, "error", errKind(err))
		a.fail(w, r, errUnavailable(err))
		return
	} else if !current {
		// A later send to this address (from any browser) replaced the code at Mosaic; asking
		// Mosaic would only spend failures of the newer code, which may be someone else's.
		a.sm.Remove(ctx, keyFlow)
		a.log(ctx, "authenticate", f.method(), "code_replaced", f.Identifier)
		a.fail(w, r, errInvalidCode(nil))
		return
	}
	if e := a.claimAttempt(ctx, f); e != nil {
		a.failCode(w, r, e)
		return
	}
	cctx, cancel := a.mosaicCtx(ctx)
	tok, err := a.client.AuthenticateOTP(cctx, transmit.AuthenticateOTPRequest{
		Passcode: passcode, IdentifierType: f.IdentifierType, Identifier: f.Identifier,
		ClientAttributes: a.clientAttrs(r)})
	cancel()
	if err != nil {
		if errors.Is(err, transmit.ErrLocked) || errors.Is(err, transmit.ErrExpired) {
			a.sm.Remove(ctx, keyFlow)
		}
		a.log(ctx, "authenticate", f.method(), "failed", f.Identifier, "error", errKind(err))
		a.failCode(w, r, authenticateError(err))
		return
	}
	a.completeLogin(w, r, f, tok)
}

// claimAttempt lets at most one authenticate of flow f (a passcode check, or a magic-link
// redeem in the browser that asked for the link) reach Mosaic at a time, on every
// instance: each check first claims the slot named by the flow's state and attempt number
// in the limiter (atomic and shared, like the single-use guard of link codes), then moves
// the flow to the next attempt number. A request that loaded the flow while another check
// was claiming or running finds the slot taken and gets the generic invalid-code answer
// (never a second sign-in); once that check has been answered, the session holds the next
// attempt number, so a corrected passcode gets through. A duplicate is not a guess: it does
// not count against the flow's attempt limit. When the limiter fails, nothing is
// claimed and the answer is 503.
func (a *Auth) claimAttempt(ctx context.Context, f *flow) *Error {
	key := "otlogin:authenticate:flow:" + a.limitKey(f.State+"\x00"+strconv.Itoa(f.Attempt))
	window := a.cfg.OTPTTL // a slot outlives the flow it belongs to
	if f.Kind == flowLink {
		window = a.cfg.LinkTTL
	}
	first, _, err := a.limiter.Allow(ctx, key, 1, window)
	if err != nil {
		a.log(ctx, "authenticate", f.method(), "unavailable", f.Identifier, "error", errKind(err))
		return errUnavailable(err)
	}
	if !first {
		a.log(ctx, "authenticate", f.method(), "attempt_in_flight", f.Identifier)
		return errInvalidCode(nil)
	}
	f.Attempt++
	a.saveFlow(ctx, f)
	return nil
}

// failCode answers a refused passcode. An HTML form gets the code page again, with the
// message, while its flow lasts; everything else goes to fail.
func (a *Auth) failCode(w http.ResponseWriter, r *http.Request, e *Error) {
	if e.Status == http.StatusBadRequest && !wantsJSON(r) && a.cfg.ErrorHandler == nil && !stateFrom(r.Context()).unavailable {
		if f := a.loadFlow(r.Context()); f != nil && f.Kind == flowOTP && !f.expired(a.cfg.Now()) {
			a.render(w, r, e.Status, tmplCode, pageData{Title: "Enter the code", Identifier: f.Identifier,
				Channel: f.Channel, Next: f.Next, Error: e.Message})
			return
		}
	}
	a.fail(w, r, e)
}

// completeLogin verifies the ID token, runs OnLogin, renews the session token and stores
// the signed-in state, then answers 303 to next (HTML) or 200 with the user (JSON).
func (a *Auth) completeLogin(w http.ResponseWriter, r *http.Request, f *flow, tok *transmit.TokenResponse) {
	ctx := r.Context()
	method := f.method()
	if tok == nil || tok.IDToken == "" {
		// Mosaic accepted the code but its answer cannot sign anyone in: its fault, not the user's.
		a.log(ctx, "authenticate", method, "unavailable", f.Identifier, "error", errKind(errNoIDToken))
		a.revoke(r, tok)
		a.fail(w, r, errUnavailable(errNoIDToken))
		return
	}
	vctx, cancel := a.mosaicCtx(ctx) // the key fetch shares the authenticate's budget
	claims, err := a.verifier.verify(vctx, tok.IDToken)
	cancel()
	if err != nil {
		a.revoke(r, tok)
		if errors.Is(err, errVerifierUnavailable) {
			a.log(ctx, "authenticate", method, "unavailable", f.Identifier, "error", "verification_keys_unavailable")
			a.fail(w, r, errUnavailable(err))
			return
		}
		if a.idTokenMisconfigured(ctx, tok.IDToken) {
			// Signed with the tenant's keys but refused for its iss, aud or tid: the app's
			// configuration is wrong, and every sign-in will fail alike.
			a.log(ctx, "authenticate", method, "unavailable", f.Identifier, "error", "id_token_config")
			a.fail(w, r, errUnavailable(err))
			return
		}
		a.log(ctx, "authenticate", method, "failed", f.Identifier, "error", "id_token_rejected")
		a.fail(w, r, errInvalidCode(err))
		return
	}
	if proved, ok := provedIdentity(claims, f); !ok {
		// The code was good but for someone else than the address this flow was started
		// for (an intercepted code presented with another flow's state): sign nobody in,
		// end the Mosaic session that authenticate just opened, and keep this browser's
		// own flow as it was before the attempt.
		attrs := []any{"error", "identity_mismatch"}
		if proved != "" {
			attrs = append(attrs, "proved_id", a.hashID(proved))
		}
		a.log(ctx, "authenticate", method, "identity_mismatch", f.Identifier, attrs...)
		a.revoke(r, tok)
		if f.State != "" {
			a.saveFlow(ctx, f)
		}
		a.failCode(w, r, errInvalidCode(errIdentityMismatch))
		return
	}
	now := a.cfg.Now()
	u := &User{
		Subject:     claims.Subject,
		Email:       verifiedClaim(claims.Email, claims.EmailVerified, f, transmit.IdentifierEmail),
		PhoneNumber: verifiedClaim(claims.PhoneNumber, claims.PhoneNumberVerified, f, transmit.IdentifierPhoneNumber),
		Method:      method,
		AMR:         claims.AMR,
		AuthTime:    claims.AuthTime,
		ExpiresAt:   now.Add(a.cfg.SessionLifetime).Truncate(time.Second),
		claims:      claims.Raw,
	}
	if u.AMR == nil {
		u.AMR = []string{}
	}
	if u.AuthTime.IsZero() {
		u.AuthTime = now
	}
	u.AuthTime = u.AuthTime.Truncate(time.Second)
	if a.cfg.OnLogin != nil {
		if err := a.cfg.OnLogin(ctx, u); err != nil {
			a.log(ctx, "authenticate", method, "refused_by_app", f.Identifier)
			a.revoke(r, tok)
			a.fail(w, r, &Error{Status: http.StatusForbidden, Code: "access_denied",
				Message: "This account can't sign in here.", Err: err})
			return
		}
	}
	var replaced string // Mosaic session of an earlier sign-in in this session
	if b := a.sm.GetBytes(ctx, keyAuth); b != nil {
		if old, err := decodeAuth(b); err == nil && old.sessionID != tok.SessionID {
			replaced = old.sessionID
		}
	}
	if err := a.sm.RenewToken(ctx); err != nil {
		a.log(ctx, "authenticate", method, "unavailable", f.Identifier, "error", "session_store")
		a.revoke(r, tok)
		a.fail(w, r, errUnavailable(err))
		return
	}
	s := &authState{user: *u, accessToken: tok.AccessToken, refreshToken: tok.RefreshToken,
		sessionID: tok.SessionID, accessExpiry: now.Add(time.Duration(tok.ExpiresIn * float64(time.Second)))}
	a.sm.Put(ctx, keyAuth, encodeAuth(s))
	a.sm.Put(ctx, keySeen, now.Unix())
	a.sm.Remove(ctx, keyFlow)
	st := stateFrom(ctx)
	st.user = u
	st.newSession = tok.SessionID
	st.oldSession = replaced
	a.log(ctx, "authenticate", method, "ok", f.Identifier)
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, u)
		return
	}
	http.Redirect(w, r, f.Next, http.StatusSeeOther)
}

// errIdentityMismatch: Mosaic authenticated another identity than the flow's.
var errIdentityMismatch = errors.New("otlogin: authenticated identity is not the flow's")

// provedIdentity returns the identifier of the flow's kind that the ID token names (email
// claim for an email flow, phone_number for an SMS flow) and whether it is the flow's own.
// A flow without an identifier, or a token without the claim, never matches: otlogin signs
// in only the address or number the code was sent to.
func provedIdentity(c *idTokenClaims, f *flow) (string, bool) {
	switch f.IdentifierType {
	case transmit.IdentifierEmail:
		return c.Email, c.Email != "" && f.Identifier != "" && strings.EqualFold(c.Email, f.Identifier)
	case transmit.IdentifierPhoneNumber:
		return c.PhoneNumber, c.PhoneNumber != "" && f.Identifier != "" && c.PhoneNumber == f.Identifier
	}
	return "", false
}

// verifiedClaim returns an email address or phone number the user is known to control: the
// ID token's claim when Mosaic marks it verified, else the flow's identifier when this
// sign-in was by that kind of identifier (it was just proven), else "".
func verifiedClaim(claim string, verified bool, f *flow, idType string) string {
	if claim != "" && verified {
		return claim
	}
	if f.IdentifierType == idType {
		return f.Identifier
	}
	return ""
}

// revoke ends the Mosaic session of tokens that will not be used (best effort).
func (a *Auth) revoke(r *http.Request, tok *transmit.TokenResponse) {
	if tok == nil || tok.SessionID == "" {
		return
	}
	a.revokeID(r.Context(), tok.SessionID)
}

// revokeID ends a Mosaic session (best effort), within Timeout even when ctx is already
// cancelled: the client may have gone away, the Mosaic session must not stay alive.
func (a *Auth) revokeID(ctx context.Context, sessionID string) {
	cctx, cancel := a.callCtx(context.WithoutCancel(ctx))
	defer cancel()
	_ = a.client.Logout(cctx, sessionID)
}
