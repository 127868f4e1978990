package transmit

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Sentinel errors for decisions. Every error returned by a [Client] method that reached Mosaic
// wraps an [*APIError]; errors.Is matches it against these sentinels. The mapping from Mosaic's
// answers to sentinels is listed in the package documentation.
var (
	// ErrInvalidCode: the magic-link code or passcode is wrong, used, or unknown.
	ErrInvalidCode = errors.New("transmit: invalid code")
	// ErrExpired: the passcode or link has expired.
	ErrExpired = errors.New("transmit: code expired")
	// ErrLocked: too many failed attempts; the code is invalidated.
	ErrLocked = errors.New("transmit: locked after too many attempts")
	// ErrUserNotFound: Mosaic does not know the user (or the user lacks the channel's address).
	ErrUserNotFound = errors.New("transmit: user not found")
	// ErrUserNotActive: the user exists but is not active (disabled or pending), so nothing
	// was sent (403 user_not_active, or 403 "User is not active").
	ErrUserNotActive = errors.New("transmit: user not active")
	// ErrUserExists: createUser answered 409 (the identifier is taken).
	ErrUserExists = errors.New("transmit: user already exists")
	// ErrRateLimited: Mosaic answered 429.
	ErrRateLimited = errors.New("transmit: rate limited")
	// ErrUnauthorized: the client credentials or client access token were refused.
	ErrUnauthorized = errors.New("transmit: unauthorized")
	// ErrUnavailable: Mosaic could not be reached or failed (5xx, timeout, connection failure,
	// malformed answer).
	ErrUnavailable = errors.New("transmit: unavailable")
	// ErrInvalidRequest: the request was refused as malformed, either client-side before any
	// HTTP call (a required field is empty, a value is out of range) or by Mosaic (any other 400).
	ErrInvalidRequest = errors.New("transmit: invalid request")
	// ErrRedirectURINotAllowed: the magic-link send was refused because its redirect_uri is
	// not one of the Redirect URIs registered for the application in the Admin Portal (400,
	// or 403, "redirect_uri is not one of the allowed redirect URIs configured for this
	// app"). Only a change of configuration fixes it: register the URI.
	ErrRedirectURINotAllowed = errors.New("transmit: redirect_uri not allowed")
	// ErrInvalidResponse: Mosaic answered success with a body that is not what its API
	// promises (not JSON, or a required field is missing). Such errors also match
	// [ErrUnavailable], so callers that only check ErrUnavailable fail closed.
	ErrInvalidResponse = errors.New("transmit: invalid response")
)

// maxMessageLen caps APIError.Message: Mosaic's messages are not secrets, but an upstream
// body has no business flooding logs.
const maxMessageLen = 200

// opToken names the client-token request in an [APIError]; its status mapping differs.
const opToken = "client token"

// APIError is an error answer from Mosaic. Code holds error_code as Mosaic sent it (a number,
// a numeric string or a symbolic string, always rendered as a string); Message holds the
// first message when Mosaic sent an array. It never holds a secret and never the raw body:
// a body that is not Mosaic's JSON error shape (an HTML page from a proxy) leaves Code and
// Message empty.
type APIError struct {
	Status      int           // HTTP status
	Code        string        // error_code, e.g. "400" or "auth_invalid_credentials"
	Message     string        // message, e.g. "Invalid magic link code" (at most 200 bytes)
	TSErrorCode string        // ts_error_code, sent by some endpoints (createUser 409)
	RetryAfter  time.Duration // from the Retry-After header of a 429 or 503, if any

	op   string // opToken for the client-token endpoint; "" for business calls
	call string // the business call that got the answer, e.g. opSendMagicLink; "" if unknown
}

// Names of the calls whose answers need call-specific mapping (see [APIError.sentinel]).
const (
	opSendMagicLink = "send magic link"
	opAuthMagicLink = "authenticate magic link"
)

// Error renders "transmit: <status> <code>: <message>".
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("transmit: ")
	if e.op != "" {
		b.WriteString(e.op)
		b.WriteString(": ")
	}
	b.WriteString(strconv.Itoa(e.Status))
	if e.Code != "" {
		b.WriteString(" ")
		b.WriteString(e.Code)
	}
	switch {
	case e.Message != "":
		b.WriteString(": ")
		b.WriteString(e.Message)
	case e.Code == "":
		if t := http.StatusText(e.Status); t != "" {
			b.WriteString(" ")
			b.WriteString(t)
		}
	}
	return b.String()
}

// Is reports whether target is the sentinel this answer maps to (see the package doc).
func (e *APIError) Is(target error) bool {
	if target == nil {
		return false
	}
	s := e.sentinel()
	if s == nil {
		return false
	}
	return target == s
}

// sentinel returns the one sentinel the answer maps to, or nil.
func (e *APIError) sentinel() error {
	switch {
	case e.Status == http.StatusTooManyRequests:
		return ErrRateLimited
	case e.Status >= 500 || e.Status == http.StatusRequestTimeout:
		return ErrUnavailable
	case e.op == opToken:
		// The token endpoint answers 400/401 to bad client credentials.
		if e.Status >= 400 {
			return ErrUnauthorized
		}
		return ErrUnavailable
	case e.Status == http.StatusUnauthorized:
		return ErrUnauthorized
	case e.Status == http.StatusConflict:
		return ErrUserExists
	}
	code := strings.ToLower(e.Code)
	msg := strings.ToLower(e.Message)
	switch code {
	case "auth_otp_passcode_expired":
		return ErrExpired
	case "auth_locked":
		return ErrLocked
	case "auth_invalid_credentials":
		return ErrInvalidCode
	case "user_not_active":
		return ErrUserNotActive
	case "user_not_found", "user_email_address_missing", "user_phone_number_missing":
		return ErrUserNotFound
	case "system_invalid_input":
		return ErrInvalidRequest
	}
	if e.call == opSendMagicLink && mentions(code, "redirect") {
		return ErrRedirectURINotAllowed // a symbolic code such as invalid_redirect_uri
	}
	// The magic-link endpoints answer {"error_code": "<status>", "message": <English text>}:
	// the code repeats the status, so the status decides and the text only tells apart the
	// answers that share one. Words are matched, not whole sentences, so a reworded message
	// keeps its meaning; a text that names nothing known gets the status's usual meaning.
	if numericCode(code) {
		switch e.call {
		case opSendMagicLink:
			switch {
			case (e.Status == http.StatusBadRequest || e.Status == http.StatusForbidden) && mentionsRedirectURI(msg):
				// "redirect_uri is not one of the allowed redirect URIs configured for this
				// app": checked before the 403s below, which would take it for an unknown user.
				return ErrRedirectURINotAllowed
			case e.Status == http.StatusForbidden && mentions(msg, "signup", "sign-up", "sign up", "registration"):
				return ErrUserNotFound
			case e.Status == http.StatusForbidden && mentions(msg, "not active", "inactive", "disabled", "suspended", "blocked", "pending"):
				return ErrUserNotActive
			case e.Status == http.StatusForbidden:
				// "Public signup is not allowed for this application": the tenant has no such
				// user for this app.
				return ErrUserNotFound
			case e.Status == http.StatusNotFound && !mentions(msg, "user") && mentions(msg, "app", "client", "tenant"):
				return nil // "App not found": a configuration error, not an unknown user
			case e.Status == http.StatusNotFound && mentions(msg, "user"):
				return ErrUserNotFound
			case e.Status == http.StatusNotFound:
				// "Not found", "Cannot POST /x/cis/v1/...", an empty body: a path Mosaic does
				// not have (a wrong BaseURL that still ends in /cis), a configuration error.
				// Answering it as an unknown user would report every link as sent.
				return nil
			}
		case opAuthMagicLink:
			switch {
			case e.Status == http.StatusBadRequest && mentions(msg, "session"):
				return ErrInvalidRequest // "Session not found": a bad session_id
			case e.Status == http.StatusBadRequest && mentions(msg, "user") && !mentions(msg, "code", "link"):
				return ErrUserNotFound
			case e.Status == http.StatusBadRequest:
				// "Invalid magic link code": wrong, used or expired.
				return ErrInvalidCode
			case e.Status == http.StatusNotFound:
				return ErrUserNotFound
			}
		}
	}
	switch {
	case msg == "invalid magic link code":
		return ErrInvalidCode
	case mentions(msg, "user is not active", "user not active") && e.Status == http.StatusForbidden:
		return ErrUserNotActive
	case mentions(msg, "public signup is not allowed", "signup is not allowed") && e.Status == http.StatusForbidden:
		// The magic-link send's answer for an address the tenant does not know.
		return ErrUserNotFound
	case msg == "user not found" && (e.Status == http.StatusNotFound || e.Status == http.StatusBadRequest):
		return ErrUserNotFound
	case e.Status == http.StatusBadRequest:
		return ErrInvalidRequest
	}
	return nil
}

// mentionsRedirectURI reports whether the lower-cased text says that the redirect URI
// ("redirect_uri", "redirect URI", "redirectUri") is not a registered one, as opposed to
// malformed ("redirect_uri should not be empty", a request otlogin never sends).
func mentionsRedirectURI(msg string) bool {
	return mentions(msg, "redirect_uri", "redirect uri", "redirecturi", "redirect url", "redirect-uri") &&
		mentions(msg, "allow", "regist", "configur", "permit", "whitelist", "not one of", "match", "unknown")
}

// numericCode reports whether error_code is absent or a number (possibly as a string): the
// magic-link shape, where the code says no more than the status.
func numericCode(code string) bool {
	if code == "" {
		return true
	}
	_, err := strconv.Atoi(code)
	return err == nil
}

// mentions reports whether the lower-cased text contains any of the words.
func mentions(text string, words ...string) bool {
	for _, w := range words {
		if strings.Contains(text, w) {
			return true
		}
	}
	return false
}

// errorBody is Mosaic's error JSON in all its documented shapes.
type errorBody struct {
	ErrorCode   json.RawMessage `json:"error_code"`
	Message     json.RawMessage `json:"message"`
	TSErrorCode json.RawMessage `json:"ts_error_code"`
	// OAuth 2.0 error answers (RFC 6749 §5.2) from the token endpoint.
	Error            json.RawMessage `json:"error"`
	ErrorDescription json.RawMessage `json:"error_description"`
}

// decodeAPIError builds an APIError from a non-2xx answer. It accepts error_code as a number,
// a numeric string or a symbolic string, message as a string or an array of strings, OAuth's
// error and error_description, an empty body and a non-JSON body (which leaves Code and
// Message empty). It never panics.
func decodeAPIError(status int, header http.Header, body []byte, now time.Time) *APIError {
	e := &APIError{Status: status}
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		e.RetryAfter = parseRetryAfter(header.Get("Retry-After"), now)
	}
	var eb errorBody
	if len(bytes.TrimSpace(body)) == 0 || json.Unmarshal(body, &eb) != nil {
		return e
	}
	e.Code = clean(scalarString(eb.ErrorCode))
	e.TSErrorCode = clean(scalarString(eb.TSErrorCode))
	e.Message = clean(messageString(eb.Message))
	// An OAuth error ({"error": "invalid_client", "error_description": "..."}) fills the same
	// fields when Mosaic's own ones are absent.
	if e.Code == "" {
		e.Code = clean(scalarString(eb.Error))
	}
	if e.Message == "" {
		e.Message = clean(scalarString(eb.ErrorDescription))
	}
	return e
}

// scalarString renders a JSON string or number as a string; anything else is "".
func scalarString(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// messageString reads message as a string or an array (the strings joined with "; ").
func messageString(raw json.RawMessage) string {
	if s := scalarString(raw); s != "" {
		return s
	}
	var list []json.RawMessage
	if json.Unmarshal(bytes.TrimSpace(raw), &list) != nil {
		return ""
	}
	parts := make([]string, 0, len(list))
	for _, item := range list {
		if s := scalarString(item); s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, "; ")
}

// clean drops control characters and caps the length at maxMessageLen bytes on a rune
// boundary.
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) <= maxMessageLen {
		return s
	}
	cut := maxMessageLen
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// maxRetryAfter bounds a Retry-After value; anything larger is treated as this.
const maxRetryAfter = 24 * time.Hour

// parseRetryAfter reads Retry-After as delay-seconds or an HTTP date (RFC 9110 §10.2.3).
// Unparseable or past values give 0.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	if d < 0 {
		return 0
	}
	return min(d, maxRetryAfter)
}
