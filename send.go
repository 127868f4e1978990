package otlogin

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/otlogin/otlogin/transmit"
)

// callCtx gives one Mosaic call a budget of its own, Config.Timeout: for clean-up calls
// (revocations, background work) that must run even when the request's shared budget (see
// mosaicCtx) is spent.
func (a *Auth) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, a.cfg.Timeout)
}

// allow checks one rate limit; a limiter failure fails closed (503).
func (a *Auth) allow(ctx context.Context, key string, r Rate) *Error {
	if r.N < 0 {
		return nil
	}
	ok, retry, err := a.limiter.Allow(ctx, "otlogin:"+key, r.N, r.Per)
	if err != nil {
		return errUnavailable(err)
	}
	if !ok {
		return errRateLimited(retry)
	}
	return nil
}

// checkSendLimits applies, in this order, the SMS country allow-list, the per-IP send
// limit, the per-identifier (per mailbox: see identifierRateKey) send limit from this client
// network, the absolute per-identifier send limit, the SMS budget of the number's country
// and the global SMS budget. Mosaic is not called when one refuses.
func (a *Auth) checkSendLimits(r *http.Request, identifier, channel string) *Error {
	ctx := r.Context()
	if channel == channelSMS && len(a.smsCodes) > 0 {
		ok := false
		for _, c := range a.smsCodes {
			if strings.HasPrefix(identifier[1:], c) {
				ok = true
				break
			}
		}
		if !ok {
			return newError(http.StatusBadRequest, "sms_country_not_allowed",
				"We can't send text messages to that country. Use email instead.")
		}
	}
	// Each limit is checked only after the narrower ones passed, so a request refused by the
	// sender's own limits (per IP, then per address from this network) never spends the
	// address's absolute budget: an attacker on one network cannot lock a victim out, and
	// the victim's own network keeps its own budget for the address.
	cnet := a.clientNet(r)
	if e := a.allow(ctx, "send:ip:"+a.limitKey(cnet), a.cfg.Limits.SendsPerIP); e != nil {
		return e
	}
	idKey := identifierRateKey(identifier)
	if e := a.allow(ctx, "send:idnet:"+a.limitKey(idKey+"\x00"+cnet), a.cfg.Limits.SendsPerIdentifier); e != nil {
		return e
	}
	if e := a.allow(ctx, "send:id:"+a.limitKey(idKey), a.cfg.Limits.SendsPerIdentifierTotal); e != nil {
		return e
	}
	if channel != channelSMS {
		return nil
	}
	// SMS budgets, narrowest first: this client network's, the number's country's, the app's.
	if n := a.cfg.Limits.SMSPerIPPerHour; n > 0 {
		if e := a.allow(ctx, "sms:net:"+a.limitKey(cnet), Rate{N: n, Per: time.Hour}); e != nil {
			return smsPaused(e)
		}
	}
	if e := a.checkSMSCountryBudget(r, identifier); e != nil {
		return smsPaused(e)
	}
	if a.cfg.Limits.SMSPerHour > 0 {
		if e := a.allow(ctx, "sms:global", Rate{N: a.cfg.Limits.SMSPerHour, Per: time.Hour}); e != nil {
			return smsPaused(e)
		}
	}
	return nil
}

// smsPaused words a refused SMS budget for the person: texts are paused for a while (often
// an hour), and email still works.
func smsPaused(e *Error) *Error {
	if e.Status == http.StatusTooManyRequests {
		e.Message = msgSMSPaused
	}
	return e
}

// clientAttrs describes the browser to Mosaic.
func (a *Auth) clientAttrs(r *http.Request) *transmit.ClientAttributes {
	ua := r.UserAgent()
	if len(ua) > 512 {
		ua = ua[:512]
	}
	return &transmit.ClientAttributes{UserAgent: ua, IPAddress: a.clientIP(r)}
}

// handleLinkSend emails a magic link and starts a link flow bound to this browser.
func (a *Auth) handleLinkSend(w http.ResponseWriter, r *http.Request) {
	in, e := parseInput(w, r, a.cfg.MaxBodyBytes)
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

// handleOTPSend sends a passcode by email or SMS and starts an OTP flow.
func (a *Auth) handleOTPSend(w http.ResponseWriter, r *http.Request) {
	in, e := parseInput(w, r, a.cfg.MaxBodyBytes)
	if e != nil {
		a.fail(w, r, e)
		return
	}
	channel, id, idType, e := a.parseIdentifier(in.get("channel"), in.get("identifier"))
	if e != nil {
		a.failForm(w, r, e, in.get("next"))
		return
	}
	f := &flow{Kind: flowOTP, Channel: channel, Identifier: id, IdentifierType: idType,
		Next: sanitizeNext(in.get("next"))}
	a.send(w, r, f, in.json, func(ctx context.Context) error {
		req := transmit.SendOTPRequest{
			Channel:          channel,
			IdentifierType:   idType,
			Identifier:       id,
			ClientAttributes: a.clientAttrs(r),
			ExpiresIn:        a.cfg.OTPTTL.Minutes(),
		}
		if channel == channelEmail {
			req.EmailContent = a.cfg.EmailContent
		} else {
			req.CustomSMSInput = a.cfg.SMSInput
		}
		_, err := a.client.SendOTP(ctx, req)
		return err
	})
}

// parseIdentifier validates a channel and its identifier.
func (a *Auth) parseIdentifier(channel, identifier string) (ch, id, idType string, e *Error) {
	switch strings.ToLower(strings.TrimSpace(channel)) {
	case channelEmail:
		id, e = normalizeEmail(identifier)
		return channelEmail, id, transmit.IdentifierEmail, e
	case channelSMS:
		id, e = normalizePhone(identifier)
		return channelSMS, id, transmit.IdentifierPhoneNumber, e
	case "":
		return "", "", "", newError(http.StatusBadRequest, "invalid_channel", "Choose how to receive the code: email or sms.")
	default:
		return "", "", "", newError(http.StatusBadRequest, "invalid_channel", "Unknown channel. Use email or sms.")
	}
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
	if e := a.checkSendLimits(r, f.Identifier, f.Channel); e != nil {
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
	ttl := a.cfg.OTPTTL
	if f.Kind == flowLink {
		ttl = a.cfg.LinkTTL
	}
	f.Created, f.Expires = now.Unix(), now.Add(ttl).Unix()
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

// failForm answers a refused send. An HTML form gets the sign-in page again with the
// message (and the status); everything else goes to fail.
func (a *Auth) failForm(w http.ResponseWriter, r *http.Request, e *Error, next string) {
	if e.Status/100 == 4 && !wantsJSON(r) && a.cfg.ErrorHandler == nil {
		setRetryAfter(w, e)
		a.render(w, r, e.Status, tmplLogin, pageData{Title: "Sign in", Next: sanitizeNext(next), Error: e.Message})
		return
	}
	a.fail(w, r, e)
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
