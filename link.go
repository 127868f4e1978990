package otlogin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/otlogin/otlogin/transmit"
)

// handleLinkSend emails a magic link and starts a link flow bound to this browser.
func (a *Auth) handleLinkSend(w http.ResponseWriter, r *http.Request) {
	in, e := a.parseInput(w, r)
	if e != nil {
		a.fail(w, r, e)
		return
	}
	email, e := normalizeEmail(in.get("email"))
	if e != nil {
		a.failForm(w, r, e, in.get("next"))
		return
	}
	f := &flow{Kind: flowLink, Channel: channelEmail, Identifier: email,
		IdentifierType: transmit.IdentifierEmail, Next: sanitizeNext(in.get("next"))}
	a.send(w, r, f, in.json, func(ctx context.Context) error {
		_, err := a.client.SendMagicLink(ctx, transmit.SendMagicLinkRequest{
			Identifier:       email,
			IdentifierType:   transmit.IdentifierEmail,
			RedirectURI:      a.callbackURL,
			State:            f.State,
			EmailExpiration:  a.cfg.LinkTTL.Minutes(),
			EmailContent:     a.cfg.EmailContent,
			ClientAttributes: a.clientAttrs(r),
		})
		return err
	})
}

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
	if r.Method == http.MethodGet && a.redeemOwnLink(w, r, "callback", code, state) {
		return
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
	in, e := a.parseInput(w, r)
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
	if a.redeemOwnLink(w, r, "authenticate", code, state) {
		return
	}
	if !a.cfg.AllowCrossDevice {
		a.log(ctx, "authenticate", MethodMagicLink, "no_matching_flow", "")
		a.fail(w, r, errNoFlow())
		return
	}
	if e := a.checkCrossDeviceRedeem(r); e != nil {
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

// redeemOwnLink redeems code when this browser's pending flow is the link flow of state (an
// expired one gets the generic invalid-code answer; op names the route in the log) and
// reports whether it answered; it does nothing when there is no such flow.
func (a *Auth) redeemOwnLink(w http.ResponseWriter, r *http.Request, op, code, state string) bool {
	ctx := r.Context()
	f := a.loadFlow(ctx)
	if f == nil || f.Kind != flowLink || !f.matchesState(state) {
		return false
	}
	if f.expired(a.cfg.Now()) {
		a.endExpiredLink(ctx, op, f)
		a.fail(w, r, errInvalidCode(nil))
		return true
	}
	a.redeemLink(w, r, f, code)
	return true
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
	first, err := a.claimOnce(ctx, "otlogin:redeem:code:"+a.limitKey(code), a.cfg.LinkTTL)
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

// keyLinkRecord is the value name in a link record (see saveLinkRecord).
const keyLinkRecord = "otlogin.link"

// linkRecordKey is the store key of the record naming the address a link with this state
// was sent to. It cannot collide with scs's 43-character session tokens, and the state
// appears in it only hashed.
func linkRecordKey(state string) string {
	sum := sha256.Sum256([]byte("otlogin-link\x00" + state))
	return recordKeyPrefix + "link-" + hex.EncodeToString(sum[:16])
}

// saveLinkRecord records, in the session store until the link expires, which address the
// link of flow f was sent to. With AllowCrossDevice another browser has no flow: the
// record is how its confirm page names the address and how completeLogin knows which
// identity the code must prove.
func (a *Auth) saveLinkRecord(ctx context.Context, f *flow) error {
	exp := time.Unix(f.Expires, 0)
	b, err := a.sm.Codec.Encode(exp, map[string]any{keyLinkRecord: f.Identifier})
	if err != nil {
		return err
	}
	key := linkRecordKey(f.State)
	if cs, ok := a.sm.Store.(scs.CtxStore); ok {
		return cs.CommitCtx(ctx, key, b, exp)
	}
	return a.sm.Store.Commit(key, b, exp)
}

// findLinkRecord returns the address recorded by saveLinkRecord for state.
func (a *Auth) findLinkRecord(ctx context.Context, state string) (email string, found bool, err error) {
	b, found, err := a.storeFindKey(ctx, linkRecordKey(state))
	if err != nil || !found {
		return "", false, err
	}
	exp, values, err := a.sm.Codec.Decode(b)
	if err != nil || !a.cfg.Now().Before(exp) {
		return "", false, nil
	}
	email, _ = values[keyLinkRecord].(string)
	return email, email != "", nil
}
