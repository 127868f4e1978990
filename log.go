package otlogin

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"

	"github.com/otlogin/otlogin/transmit"
)

// log records one event. identifier is hashed with Config.HashKey, or a random per-Auth key
// (so logs can correlate attempts without holding an address or number); attrs must never carry a code, passcode,
// token, secret, session ID, cookie, email address or phone number.
func (a *Auth) log(ctx context.Context, event, method, outcome, identifier string, attrs ...any) {
	l := a.logger()
	level := slog.LevelInfo
	if outcome == "error" || outcome == "unavailable" || outcome == "identity_mismatch" {
		level = slog.LevelWarn
	}
	if !l.Enabled(ctx, level) {
		return
	}
	args := make([]any, 0, 8+len(attrs))
	args = append(args, "event", event)
	if method != "" {
		args = append(args, "method", method)
	}
	args = append(args, "outcome", outcome)
	if identifier != "" {
		args = append(args, "id", a.hashID(identifier))
	}
	args = append(args, attrs...)
	l.Log(ctx, level, "otlogin "+event, args...)
}

// logger is Config.Logger, or slog.Default() (looked up at each event, so an app may set
// its default logger after New).
func (a *Auth) logger() *slog.Logger {
	if a.cfg.Logger != nil {
		return a.cfg.Logger
	}
	return slog.Default()
}

// hashID is a truncated HMAC-SHA256 of s under Config.HashKey or the Auth's random key.
func (a *Auth) hashID(s string) string {
	m := hmac.New(sha256.New, a.logKey)
	m.Write([]byte(s))
	return hex.EncodeToString(m.Sum(nil)[:12])
}

// errKind names an error for logs by class only: upstream messages could echo input.
func errKind(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		if e.Err == nil {
			return e.Code
		}
		return e.Code + "/" + errKind(e.Err)
	}
	for _, k := range []struct {
		err  error
		name string
	}{
		{transmit.ErrInvalidCode, "invalid_code"},
		{transmit.ErrExpired, "expired"},
		{transmit.ErrLocked, "locked"},
		{transmit.ErrUserNotFound, "user_not_found"},
		{transmit.ErrUserNotActive, "user_not_active"},
		{transmit.ErrUserExists, "user_exists"},
		{transmit.ErrRateLimited, "rate_limited"},
		{transmit.ErrUnauthorized, "unauthorized"},
		{transmit.ErrInvalidResponse, "invalid_response"},
		{transmit.ErrUnavailable, "unavailable"},
		{transmit.ErrInvalidRequest, "invalid_request"},
		{transmit.ErrRedirectURINotAllowed, "redirect_uri_not_allowed"},
		{context.DeadlineExceeded, "timeout"},
		{context.Canceled, "canceled"},
		{errNoIDToken, "no_id_token"},
		{errBadAuth, "bad_session_state"},
	} {
		if errors.Is(err, k.err) {
			return k.name
		}
	}
	return "other"
}
