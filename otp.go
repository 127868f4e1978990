package otlogin

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/otlogin/otlogin/transmit"
)

// handleOTPSend sends a passcode by email or SMS and starts an OTP flow.
func (a *Auth) handleOTPSend(w http.ResponseWriter, r *http.Request) {
	in, e := a.parseInput(w, r)
	if e != nil {
		a.fail(w, r, e)
		return
	}
	f, e := a.parseIdentifier(in.get("channel"), in.get("identifier"))
	if e != nil {
		a.failForm(w, r, e, in.get("next"))
		return
	}
	f.Kind, f.Next = flowOTP, sanitizeNext(in.get("next"))
	a.send(w, r, &f, in.json, func(ctx context.Context) error {
		req := transmit.SendOTPRequest{
			Channel:          f.Channel,
			IdentifierType:   f.IdentifierType,
			Identifier:       f.Identifier,
			ClientAttributes: a.clientAttrs(r),
			ExpiresIn:        a.cfg.OTPTTL.Minutes(),
		}
		if f.Channel == channelEmail {
			req.EmailContent = a.cfg.EmailContent
		} else {
			req.CustomSMSInput = a.cfg.SMSInput
		}
		_, err := a.client.SendOTP(ctx, req)
		return err
	})
}

// handleOTPAuthenticate checks a passcode against this browser's OTP flow.
func (a *Auth) handleOTPAuthenticate(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	in, e := a.parseInput(w, r)
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
		got, e := a.parseIdentifier(ch, id)
		if e != nil || got.Channel != f.Channel || got.Identifier != f.Identifier {
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

// keyLatestOTP is the value name in a latest-code record (see saveLatestOTP).
const keyLatestOTP = "otlogin.otp"

// latestOTPKey is the store key of the record naming the newest code flow started for an
// identifier (on any instance). The identifier appears in it only hashed with the limiter
// key, which every instance of an app shares.
func (a *Auth) latestOTPKey(idType, identifier string) string {
	return recordKeyPrefix + "otp-" + a.limitKey("latest-otp\x00"+idType+"\x00"+identifier)
}

// saveLatestOTP records, until its code expires, that f is the newest code flow of its
// identifier. Mosaic keeps one passcode per identifier: a send replaces the code of every
// earlier flow for the same identifier, whichever browser started it.
func (a *Auth) saveLatestOTP(ctx context.Context, f *flow) error {
	exp := time.Unix(f.Expires, 0)
	b, err := a.sm.Codec.Encode(exp, map[string]any{keyLatestOTP: f.State})
	if err != nil {
		return err
	}
	key := a.latestOTPKey(f.IdentifierType, f.Identifier)
	if cs, ok := a.sm.Store.(scs.CtxStore); ok {
		return cs.CommitCtx(ctx, key, b, exp)
	}
	return a.sm.Store.Commit(key, b, exp)
}

// isLatestOTPFlow reports whether f is still the newest code flow of its identifier: false
// only when the store names another, unexpired flow (a missing record does not refuse).
func (a *Auth) isLatestOTPFlow(ctx context.Context, f *flow) (bool, error) {
	b, found, err := a.storeFindKey(ctx, a.latestOTPKey(f.IdentifierType, f.Identifier))
	if err != nil || !found {
		return true, err
	}
	exp, values, err := a.sm.Codec.Decode(b)
	if err != nil || !a.cfg.Now().Before(exp) {
		return true, nil
	}
	latest, _ := values[keyLatestOTP].(string)
	return latest == "" || f.matchesState(latest), nil
}
