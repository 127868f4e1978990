package otlogin

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/otlogin/otlogin/internal/idtoken"
	"github.com/otlogin/otlogin/transmit"
)

// callCtx gives one Mosaic call a budget of its own, Config.Timeout: for clean-up calls
// (revocations, background work) that must run even when the request's shared budget (see
// mosaicCtx) is spent.
func (a *Auth) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, a.cfg.Timeout)
}

// clientAttrs describes the browser to Mosaic.
func (a *Auth) clientAttrs(r *http.Request) *transmit.ClientAttributes {
	ua := r.UserAgent()
	if len(ua) > 512 {
		ua = ua[:512]
	}
	return &transmit.ClientAttributes{UserAgent: ua, IPAddress: a.clientIP(r)}
}

// parseIdentifier validates a channel and its identifier. The flow it returns holds them
// (Channel, Identifier, IdentifierType, and an SMS number's country), nothing else.
func (a *Auth) parseIdentifier(channel, identifier string) (f flow, e *Error) {
	switch strings.ToLower(strings.TrimSpace(channel)) {
	case channelEmail:
		f.Channel, f.IdentifierType = channelEmail, transmit.IdentifierEmail
		f.Identifier, e = normalizeEmail(identifier)
	case channelSMS:
		f.Channel, f.IdentifierType = channelSMS, transmit.IdentifierPhoneNumber
		f.Identifier, f.country, e = normalizePhone(identifier)
	case "":
		e = newError(http.StatusBadRequest, "invalid_channel", "Choose how to receive the code: email or sms.")
	default:
		e = newError(http.StatusBadRequest, "invalid_channel", "Unknown channel. Use email or sms.")
	}
	return f, e
}

// send runs the common part of both sends: store check, rate limits, the Mosaic calls
// (with CreateUsers, a create before every send), the new flow, and an answer that is the
// same for known, unknown and disabled users and for users Mosaic refuses to create.
func (a *Auth) send(w http.ResponseWriter, r *http.Request, f *flow, isJSON bool, call func(context.Context) error) {
	ctx := r.Context()
	method := f.method()
	if !a.storeReady(ctx) {
		a.log(ctx, "send", method, "unavailable", f.Identifier)
		a.fail(w, r, errUnavailable(nil))
		return
	}
	if e := a.checkSendLimits(r, f); e != nil {
		a.log(ctx, "send", method, "refused", f.Identifier, "error", errKind(e))
		a.failForm(w, r, e, f.Next)
		return
	}
	state, err := newState()
	if err != nil {
		a.fail(w, r, errUnavailable(err))
		return
	}
	f.State = state
	now := a.cfg.Now()
	f.Created, f.Expires = now.Unix(), now.Add(a.codeTTL(f)).Unix()
	if f.Kind == flowLink && a.cfg.AllowCrossDevice {
		if err := a.saveLinkRecord(ctx, f); err != nil {
			a.log(ctx, "send", method, "unavailable", f.Identifier, "error", "session_store")
			a.fail(w, r, errUnavailable(err))
			return
		}
	}

	outcome := "sent"
	var created bool
	var createErr error
	if a.cfg.CreateUsers {
		// Every send asks Mosaic to create the user first, known or not, so that both make
		// the same calls in the same order and take the same time (a known user's answer is
		// a 409). Creating only after a "user not found" would cost an unknown address two
		// more calls, which its answer time would tell.
		created, createErr = a.createUser(ctx, f)
	}
	cctx, cancel := a.mosaicCtx(ctx)
	err = call(cctx)
	cancel()
	if createErr != nil && createMisconfigured(createErr, a.callbackURL) {
		// The create call was refused for the app's configuration (client credentials, a
		// BaseURL path that does not exist): whatever the send answered, sign-ups cannot work.
		err = createErr
	}
	var logAttrs []any
	switch {
	case err == nil && created:
		outcome = "created_and_sent"
	case errors.Is(err, transmit.ErrUserNotFound):
		// Answered like a send; the log keeps the difference.
		outcome, err = "unknown_user", nil
		switch {
		case createErr != nil && isClientError(createErr):
			// Mosaic refused to create the user (403 "Public signup is not allowed", another
			// 4xx): nothing was sent.
			outcome, logAttrs = "create_refused", []any{"error", errKind(createErr)}
		case createErr != nil:
			outcome, logAttrs = "create_failed", []any{"error", errKind(createErr)}
		case a.cfg.CreateUsers && !created:
			outcome = "create_conflict" // Mosaic said it exists, then that it does not
		}
	case errors.Is(err, transmit.ErrUserNotActive):
		outcome, err = "user_not_active", nil // a disabled user is answered like any other
	}
	if err != nil {
		a.log(ctx, "send", method, "error", f.Identifier, "error", errKind(err))
		a.fail(w, r, mosaicError(err))
		return
	}
	if f.Kind == flowOTP {
		// Recorded for every accepted send, known address or not, so both cost the same.
		if err := a.saveLatestOTP(ctx, f); err != nil {
			a.log(ctx, "send", method, "unavailable", f.Identifier, "error", "session_store")
			a.fail(w, r, errUnavailable(err))
			return
		}
	}
	a.log(ctx, "send", method, outcome, f.Identifier, logAttrs...)
	a.saveFlow(ctx, f)
	a.limitPreLogin(ctx, f)
	if isJSON || wantsJSON(r) {
		writeJSON(w, http.StatusAccepted, map[string]string{"status": "sent"})
		return
	}
	if f.Kind == flowLink {
		a.render(w, r, http.StatusOK, tmplSent, pageData{Title: "Check your email", Email: f.Identifier, Next: f.Next})
		return
	}
	a.render(w, r, http.StatusOK, tmplCode, pageData{Title: "Enter the code", Identifier: f.Identifier,
		Channel: f.Channel, Next: f.Next})
}

// storeReady reports whether the session store works, probing it when this request has
// not reached it yet (a visitor without a session): a link or code must not be sent when
// the flow that redeems it cannot be stored.
func (a *Auth) storeReady(ctx context.Context) bool {
	st := stateFrom(ctx)
	if st.unavailable {
		return false
	}
	if st.loadedToken != "" {
		return true
	}
	if _, err := a.storeHas(ctx, "otlogin-probe"); err != nil {
		st.unavailable = true
		return false
	}
	return true
}

// createUser asks Mosaic to create the user of flow f. created is false when the user
// already exists (409), which is no error.
func (a *Auth) createUser(ctx context.Context, f *flow) (created bool, err error) {
	req := transmit.CreateUserRequest{}
	if f.IdentifierType == transmit.IdentifierEmail {
		req.Email = f.Identifier
	} else {
		req.PhoneNumber = f.Identifier
	}
	cctx, cancel := a.mosaicCtx(ctx)
	defer cancel()
	_, err = a.client.CreateUser(cctx, req)
	if errors.Is(err, transmit.ErrUserExists) {
		return false, nil
	}
	return err == nil, err
}

// createMisconfigured reports whether a refused create is a configuration error: any that
// misconfiguration names except a 403, which on create is Mosaic's refusal of a sign-up
// ("Public signup is not allowed") and is answered like a send.
func createMisconfigured(err error, callback string) bool {
	var ae *transmit.APIError
	return misconfiguration(err, callback) != "" && errors.As(err, &ae) && ae.Status != http.StatusForbidden
}

// isClientError reports whether err is a 4xx answer of Mosaic's other than 429.
func isClientError(err error) bool {
	var ae *transmit.APIError
	return errors.As(err, &ae) && ae.Status/100 == 4 && ae.Status != http.StatusTooManyRequests
}

// errNoIDToken: Mosaic's answer had no ID token, so nobody can be signed in.
var errNoIDToken = errors.New("otlogin: authenticate answer has no id_token")

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
	claims, err := a.verifier.Verify(vctx, tok.IDToken)
	cancel()
	if err != nil {
		a.revoke(r, tok)
		if errors.Is(err, idtoken.ErrUnavailable) {
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
		if old, err := decodeAuth(b); err == nil && old.mosaicSessionID != tok.SessionID {
			replaced = old.mosaicSessionID
		}
	}
	if ended, err := a.sessionEnded(ctx); err != nil || ended {
		// The browser's session was loaded from the store and a logout deleted it while the
		// code was at Mosaic: the sign-in must not outlive that logout (docs/SECURITY.md S5).
		a.revoke(r, tok)
		if err != nil {
			a.log(ctx, "authenticate", method, "unavailable", f.Identifier, "error", "session_store")
			a.fail(w, r, errUnavailable(err))
			return
		}
		a.log(ctx, "authenticate", method, "session_ended", f.Identifier)
		a.fail(w, r, errSignInEnded())
		return
	}
	if err := a.sm.RenewToken(ctx); err != nil {
		a.log(ctx, "authenticate", method, "unavailable", f.Identifier, "error", "session_store")
		a.revoke(r, tok)
		a.fail(w, r, errUnavailable(err))
		return
	}
	s := &authState{user: *u, accessToken: tok.AccessToken, refreshToken: tok.RefreshToken,
		mosaicSessionID: tok.SessionID, accessExpiry: now.Add(time.Duration(tok.ExpiresIn * float64(time.Second)))}
	a.sm.Put(ctx, keyAuth, encodeAuth(s))
	a.sm.Put(ctx, keySeen, now.Unix())
	a.sm.Remove(ctx, keyFlow)
	st := stateFrom(ctx)
	st.user = u
	st.signedIn = true // a new session: never saved under the loaded token (see settleDelete)
	// The session writer (commit.go) makes no Mosaic calls of its own: it runs these hooks.
	if id := tok.SessionID; id != "" {
		st.onFailure = func(ctx context.Context) {
			// The sign-in is lost with the session: end its Mosaic session too.
			a.revokeMosaicSession(ctx, id)
		}
	}
	if replaced != "" {
		st.afterSave = func(ctx context.Context) {
			// A sign-in over an earlier one is saved: end the earlier Mosaic session (not
			// before, or a failed save would leave the browser a session with dead tokens).
			a.revokeMosaicSession(ctx, replaced)
			a.deleteRotated(ctx, replaced)
		}
	}
	a.log(ctx, "authenticate", method, "ok", f.Identifier)
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, u)
		return
	}
	http.Redirect(w, r, f.Next, http.StatusSeeOther)
}

// sessionEnded reports whether the session this request loaded from the store is gone from
// it now (a logout, on any instance, deleted it while the request ran). A request that
// loaded no stored session has nothing that could have ended. One store lookup, at sign-in
// only. The check is made just before the session moves to its new token, after every
// Mosaic call, so what remains is the short window between it and the save. A logout that
// lands after the save carries the old token and ends nothing: the new session stays, and
// only the logout's Clear-Site-Data, when the browser gets it after the new cookie, removes
// it from the browser (README, "Security model").
func (a *Auth) sessionEnded(ctx context.Context) (bool, error) {
	token := a.sm.Token(ctx)
	if token == "" || token != stateFrom(ctx).loadedToken {
		return false, nil
	}
	_, found, err := a.storeFind(ctx, token)
	return !found, err
}

// errIdentityMismatch: Mosaic authenticated another identity than the flow's.
var errIdentityMismatch = errors.New("otlogin: authenticated identity is not the flow's")

// provedIdentity returns the identifier of the flow's kind that the ID token names (email
// claim for an email flow, phone_number for an SMS flow) and whether it is the flow's own.
// A flow without an identifier, or a token without the claim, never matches: otlogin signs
// in only the address or number the code was sent to.
func provedIdentity(c *idtoken.Claims, f *flow) (string, bool) {
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
	a.revokeMosaicSession(r.Context(), tok.SessionID)
}

// revokeMosaicSession ends a Mosaic session (best effort), within Timeout even when ctx is already
// cancelled: the client may have gone away, the Mosaic session must not stay alive.
func (a *Auth) revokeMosaicSession(ctx context.Context, mosaicSessionID string) {
	cctx, cancel := a.callCtx(context.WithoutCancel(ctx))
	defer cancel()
	_ = a.client.Logout(cctx, mosaicSessionID)
}

// codeTTL is the lifetime of flow f's code: Config.LinkTTL for a magic link, Config.OTPTTL
// for a passcode.
func (a *Auth) codeTTL(f *flow) time.Duration {
	if f.Kind == flowLink {
		return a.cfg.LinkTTL
	}
	return a.cfg.OTPTTL
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
	first, err := a.claimOnce(ctx, key, a.codeTTL(f)) // a slot outlives the flow it belongs to
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
