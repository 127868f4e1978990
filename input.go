package otlogin

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// Channels accepted by POST /otp/send.
const (
	channelEmail = "email"
	channelSMS   = "sms"
)

// Field limits.
const (
	maxFieldLen    = 1024
	maxEmailLen    = 254
	maxPasscodeLen = 16
	minPasscodeLen = 4
	maxCodeLen     = 512
	maxStateLen    = 128
)

// input is a parsed request body: the known fields, and whether it came as JSON.
type input struct {
	json   bool
	fields map[string]string
}

func (in input) get(k string) string { return in.fields[k] }

// jsonBody lists the fields the auth routes read; each must be a string when present.
type jsonBody struct {
	Email      *string `json:"email"`
	Next       *string `json:"next"`
	Channel    *string `json:"channel"`
	Identifier *string `json:"identifier"`
	Passcode   *string `json:"passcode"`
	Code       *string `json:"code"`
	State      *string `json:"state"`
}

// parseInput reads a form or JSON body of at most Config.MaxBodyBytes. The errors are 400,
// 408, 413 or 415 answers a person can act on.
func (a *Auth) parseInput(w http.ResponseWriter, r *http.Request) (input, *Error) {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil {
		mt = ""
	}
	switch mt {
	case "application/x-www-form-urlencoded", "application/json":
	default:
		return input{}, newError(http.StatusUnsupportedMediaType, "unsupported_media_type",
			"Send the request as a form (application/x-www-form-urlencoded) or as JSON (application/json).")
	}
	body, err := a.readBody(w, r)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return input{}, newError(http.StatusRequestEntityTooLarge, "too_large", "The request is too large.")
		}
		if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
			w.Header().Set("Connection", "close")
			return input{}, newError(http.StatusRequestTimeout, "request_timeout",
				"The request took too long to arrive. Check your connection and try again.")
		}
		return input{}, newError(http.StatusBadRequest, "bad_request", "The request body could not be read.")
	}
	in := input{json: mt == "application/json", fields: map[string]string{}}
	if in.json {
		var jb jsonBody
		dec := json.NewDecoder(bytes.NewReader(body))
		if err := dec.Decode(&jb); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) && te.Field != "" {
				return input{}, newError(http.StatusBadRequest, "invalid_json", "The field \""+te.Field+"\" must be a string.")
			}
			return input{}, newError(http.StatusBadRequest, "invalid_json", "The request body is not valid JSON.")
		}
		if dec.More() {
			return input{}, newError(http.StatusBadRequest, "invalid_json", "The request body must hold a single JSON object.")
		}
		for k, v := range map[string]*string{"email": jb.Email, "next": jb.Next, "channel": jb.Channel,
			"identifier": jb.Identifier, "passcode": jb.Passcode, "code": jb.Code, "state": jb.State} {
			if v != nil {
				in.fields[k] = *v
			}
		}
	} else {
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return input{}, newError(http.StatusBadRequest, "bad_request", "The form could not be read.")
		}
		for k, v := range vals {
			if len(v) > 0 {
				in.fields[k] = v[0]
			}
		}
	}
	for k, v := range in.fields {
		if len(v) > maxFieldLen || !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
			return input{}, newError(http.StatusBadRequest, "invalid_field", "The field \""+k+"\" is too long or not valid text.")
		}
	}
	return in, nil
}

// readBody reads the body of r, at most Config.MaxBodyBytes, within Config.BodyTimeout of
// a (the Auth whose handler serves r): a read deadline on the connection
// (http.ResponseController) cuts a client that sends its body too slowly, so it cannot hold
// the handler and its connection indefinitely. The deadline is lifted once the whole body
// is read, so it does not outlive the body; after a failed read it stays, so the server does
// not wait for the rest of the body before it closes the connection. When the server's
// ResponseWriter does not support read deadlines, the server's own ReadTimeout is the only
// bound.
func (a *Auth) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	timeout, max := a.cfg.BodyTimeout, a.cfg.MaxBodyBytes
	if timeout > 0 {
		rc := http.NewResponseController(w)
		if rc.SetReadDeadline(time.Now().Add(timeout)) == nil {
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
			if err == nil {
				_ = rc.SetReadDeadline(time.Time{})
			}
			return body, err
		}
	}
	return io.ReadAll(http.MaxBytesReader(w, r.Body, max))
}

// wantsJSON reports whether the answer should be JSON: JSON in, or Accept names it.
func wantsJSON(r *http.Request) bool {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil && mt == "application/json" {
		return true
	}
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}

// checkPasscode validates a passcode's shape (letters and digits, 4 to 16 characters).
func checkPasscode(s string) (string, *Error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", newError(http.StatusBadRequest, "invalid_passcode", "Enter the code we sent you.")
	}
	if len(s) > maxPasscodeLen {
		return "", newError(http.StatusBadRequest, "invalid_passcode", "That code is too long. Enter the code from your message.")
	}
	if len(s) < minPasscodeLen || !isAlnum(s) {
		return "", newError(http.StatusBadRequest, "invalid_passcode", "The code should be the digits from your message.")
	}
	return s, nil
}

// checkLinkParams validates a magic-link code and state.
func checkLinkParams(code, state string) *Error {
	if code == "" || len(code) > maxCodeLen || !isToken(code) || len(state) > maxStateLen || !isToken(state) {
		return newError(http.StatusBadRequest, "invalid_link", "This sign-in link is incomplete or damaged. Request a new one.")
	}
	return nil
}

func isAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// isToken accepts URL-safe token characters.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_' || c == '.' || c == '~' || c == '=' || c == '+' || c == '/') {
			return false
		}
	}
	return true
}
