package otlogin

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/mail"
	"net/url"
	"strings"
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

// parseInput reads a form or JSON body of at most max bytes. The errors are 400, 413 or
// 415 answers a person can act on.
func parseInput(w http.ResponseWriter, r *http.Request, max int64) (input, *Error) {
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
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return input{}, newError(http.StatusRequestEntityTooLarge, "too_large", "The request is too large.")
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

// wantsJSON reports whether the answer should be JSON: JSON in, or Accept names it.
func wantsJSON(r *http.Request) bool {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil && mt == "application/json" {
		return true
	}
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}

// normalizeEmail trims and validates an email address; the result is lower-case.
func normalizeEmail(s string) (string, *Error) {
	s = strings.TrimSpace(s)
	bad := newError(http.StatusBadRequest, "invalid_email", "Enter a valid email address, like name@example.com.")
	if s == "" {
		return "", newError(http.StatusBadRequest, "invalid_email", "Enter your email address.")
	}
	if len(s) > maxEmailLen || strings.ContainsAny(s, " \t\r\n<>\"(),;:\\[]") {
		return "", bad
	}
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Address != s || addr.Name != "" {
		return "", bad
	}
	at := strings.LastIndexByte(s, '@')
	local, domain := s[:at], s[at+1:]
	if local == "" || len(local) > 64 || !strings.Contains(domain, ".") ||
		strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return "", bad
	}
	return strings.ToLower(s), nil
}

// normalizePhone turns common ways of writing an international number into E.164:
// spaces, dots, dashes and parentheses are removed and a leading 00 becomes +.
func normalizePhone(s string) (string, *Error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", newError(http.StatusBadRequest, "invalid_phone", "Enter your phone number.")
	}
	var b strings.Builder
	for _, c := range s {
		switch {
		case c == ' ' || c == '.' || c == '-' || c == '(' || c == ')' || c == '\u00a0':
		case c == '+' && b.Len() == 0:
			b.WriteRune(c)
		case c >= '0' && c <= '9':
			b.WriteRune(c)
		default:
			return "", errPhoneFormat()
		}
	}
	p := b.String()
	if strings.HasPrefix(p, "00") {
		p = "+" + p[2:]
	}
	if len(p) < 8 || len(p) > 16 || p[0] != '+' || p[1] == '0' {
		return "", errPhoneFormat()
	}
	return p, nil
}

func errPhoneFormat() *Error {
	return newError(http.StatusBadRequest, "invalid_phone",
		"Enter the phone number in international format: + then the country code and number, for example +14155550123.")
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
