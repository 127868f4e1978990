package transmit

import (
	"errors"
	"time"
)

// Sentinel errors for decisions. Every error returned by a [Client] method that reached Mosaic
// wraps an [*APIError]; errors.Is matches it against these sentinels.
var (
	// ErrInvalidCode: the magic-link code or passcode is wrong, used, or unknown.
	ErrInvalidCode = errors.New("transmit: invalid code")
	// ErrExpired: the passcode or link has expired.
	ErrExpired = errors.New("transmit: code expired")
	// ErrLocked: too many failed attempts; the code is invalidated.
	ErrLocked = errors.New("transmit: locked after too many attempts")
	// ErrUserNotFound: Mosaic does not know the user (or the user lacks the channel's address).
	ErrUserNotFound = errors.New("transmit: user not found")
	// ErrRateLimited: Mosaic answered 429.
	ErrRateLimited = errors.New("transmit: rate limited")
	// ErrUnauthorized: the client credentials or client access token were refused.
	ErrUnauthorized = errors.New("transmit: unauthorized")
	// ErrUnavailable: Mosaic could not be reached or failed (5xx, timeout, connection failure).
	ErrUnavailable = errors.New("transmit: unavailable")
)

// APIError is an error answer from Mosaic. Code holds error_code as Mosaic sent it (a number,
// a numeric string or a symbolic string, always rendered as a string); Message holds the
// first message when Mosaic sent an array. It never holds a secret.
type APIError struct {
	Status     int           // HTTP status
	Code       string        // error_code, e.g. "400" or "auth_invalid_credentials"
	Message    string        // message, e.g. "Invalid magic link code"
	RetryAfter time.Duration // from the Retry-After header of a 429 or 503, if any
}
