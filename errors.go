package otlogin

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/otlogin/otlogin/transmit"
)

// ErrNotSignedIn is returned by [Auth.AccessToken] when the request has no signed-in user.
var ErrNotSignedIn = errors.New("otlogin: not signed in")

// Error is what the auth routes answer when a request fails. [Config].ErrorHandler receives
// it; Message is safe to show to the user and Err (which may describe the cause) is not.
type Error struct {
	Status     int           // HTTP status
	Code       string        // machine-readable code, e.g. "invalid_code"
	Message    string        // human text, safe to show
	RetryAfter time.Duration // for 429 and some 503 answers
	// Err is the cause, for logs; never shown. It may wrap a *transmit.APIError, whose text
	// includes Mosaic's own error message (at most 200 bytes, e.g. "Invalid magic link
	// code"): no secret, but text written upstream, which an ErrorHandler that logs Err logs.
	Err error
}

// Error renders "otlogin: <code>: <message>".
func (e *Error) Error() string {
	return "otlogin: " + e.Code + ": " + e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

func newError(status int, code, msg string) *Error {
	return &Error{Status: status, Code: code, Message: msg}
}

// Generic messages.
const (
	msgInvalidCode = "That code is invalid or has expired. Request a new one."
	msgUnavailable = "Sign-in is temporarily unavailable. Try again in a few minutes."
	msgRateLimited = "Too many attempts. Wait a few minutes and try again."
	msgNoFlow      = "There is no sign-in waiting in this browser. Start again from the sign-in page."
)

func errInvalidCode(cause error) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "invalid_code", Message: msgInvalidCode, Err: cause}
}

// errUnavailable is a 503. When the cause is a Mosaic answer with Retry-After (a 503 of
// Mosaic's), the user's answer carries it too.
func errUnavailable(cause error) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: msgUnavailable, Err: cause,
		RetryAfter: retryAfterOf(cause)}
}

// errSessionEnded: the session was signed out (deleted) while this request started a
// sign-in, so the pending flow it made could not be kept.
func errSessionEnded() *Error {
	return newError(http.StatusConflict, "session_ended",
		"You were signed out while this was being sent, so it can't be completed here. Start again.")
}

// errSignInEnded answers a sign-in whose browser session a logout ended while the code was
// being checked.
func errSignInEnded() *Error {
	return newError(http.StatusConflict, "session_ended",
		"You were signed out while this sign-in was being completed, so it was not. Start again.")
}

// msgSMSPaused answers a send refused by an SMS budget.
const msgSMSPaused = "Text messages can't be sent right now. Sign in with your email address instead, or try again later."

// errRateLimited is a 429. retry is when to try again: a known delay is kept (Retry-After
// rounds it up to whole seconds, at least 1); an unknown one (0 or less) becomes a minute.
func errRateLimited(retry time.Duration) *Error {
	if retry <= 0 {
		retry = time.Minute
	}
	return &Error{Status: http.StatusTooManyRequests, Code: "rate_limited", Message: msgRateLimited, RetryAfter: retry}
}

// errTooManyAttempts: the pending code flow has used its passcode attempts; a new send
// starts a new one.
func errTooManyAttempts() *Error {
	return newError(http.StatusTooManyRequests, "too_many_attempts", "Too many wrong codes. Request a new code.")
}

func errNoFlow() *Error {
	return newError(http.StatusBadRequest, "no_pending_login", msgNoFlow)
}

// mosaicError maps a failed Mosaic send or refresh to an answer: 429 for Mosaic's rate
// limit, 503 for everything else.
func mosaicError(err error) *Error {
	if errors.Is(err, transmit.ErrRateLimited) {
		e := errRateLimited(retryAfterOf(err))
		e.Err = err
		return e
	}
	return errUnavailable(err)
}

// authenticateError maps a failed authenticate: every refusal collapses to the generic
// message; 429 and outages keep their status.
func authenticateError(err error) *Error {
	switch {
	case errors.Is(err, transmit.ErrRateLimited):
		return mosaicError(err)
	case errors.Is(err, transmit.ErrUnavailable), errors.Is(err, transmit.ErrUnauthorized),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return errUnavailable(err)
	default:
		return errInvalidCode(err)
	}
}

func retryAfterOf(err error) time.Duration {
	var ae *transmit.APIError
	if errors.As(err, &ae) {
		return ae.RetryAfter
	}
	return 0
}
