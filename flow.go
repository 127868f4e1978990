package otlogin

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"path"
	"strings"
	"time"
)

// Kinds of pending flow.
const (
	flowLink = "link"
	flowOTP  = "otp"
)

// flow is a pending login kept in the (pre-login) session between a send and the matching
// authenticate. A new send replaces it; success or expiry ends it (a link flow whose code
// was redeemed is kept, expired: see redeemLink).
type flow struct {
	Kind           string `json:"kind"`
	State          string `json:"state"`
	Channel        string `json:"channel"`
	Identifier     string `json:"identifier"`
	IdentifierType string `json:"identifier_type"`
	Next           string `json:"next"`
	Created        int64  `json:"created"`
	Expires        int64  `json:"expires"`
	// Attempt counts the passcode checks this flow has sent to Mosaic; it names the
	// single in-flight slot of the next one (see Auth.claimAttempt).
	Attempt int `json:"attempt,omitempty"`

	// country is an SMS number's country (see normalizePhone), for the send's per-country
	// budget. Unexported: it is not stored with the flow.
	country string
}

// newState returns 32 random bytes, base64url-encoded.
func newState() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// expired reports whether the flow's code lifetime has passed.
func (f *flow) expired(now time.Time) bool {
	return now.Unix() >= f.Expires
}

// spent returns a copy of f that has expired: the flow of a link whose code went to the
// single-use guard, kept so that another click in the same browser gets the generic
// invalid-code answer.
func (f *flow) spent() *flow {
	g := *f
	g.Expires = 0
	return &g
}

// matchesState compares state with the flow's in constant time.
func (f *flow) matchesState(state string) bool {
	return f.State != "" && subtle.ConstantTimeCompare([]byte(f.State), []byte(state)) == 1
}

// method is the User.Method a successful flow yields.
func (f *flow) method() string {
	switch {
	case f.Kind == flowLink:
		return MethodMagicLink
	case f.Channel == channelSMS:
		return MethodSMSOTP
	default:
		return MethodEmailOTP
	}
}

// maxNextLen bounds the next parameter.
const maxNextLen = 2048

// sanitizeNext returns raw when it is a same-origin path (with an optional query), else "/".
// It refuses schemes, hosts, protocol-relative forms ("//x", "/\x"), control characters,
// backslashes and their percent-encoded forms, and removes dot segments so the browser
// cannot turn the result into "//host". The fragment is dropped.
func sanitizeNext(raw string) string {
	if raw == "" || len(raw) > maxNextLen || raw[0] != '/' {
		return "/"
	}
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c < 0x21 || c == 0x7f || c == '\\' {
			return "/"
		}
	}
	if strings.HasPrefix(raw, "//") {
		return "/"
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "/"
	}
	p := u.Path
	for i := 0; i < len(p); i++ {
		if c := p[i]; c < 0x21 || c == 0x7f || c == '\\' {
			return "/"
		}
	}
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") {
		return "/"
	}
	clean := path.Clean(p)
	if strings.HasSuffix(p, "/") && clean != "/" {
		clean += "/"
	}
	out := (&url.URL{Path: clean}).EscapedPath()
	if !strings.HasPrefix(out, "/") || strings.HasPrefix(out, "//") || strings.HasPrefix(out, "/\\") {
		return "/"
	}
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			return "/"
		}
		if enc := q.Encode(); enc != "" {
			out += "?" + enc
		}
	}
	if len(out) > maxNextLen {
		return "/"
	}
	return out
}

// loadFlow returns the pending flow of the session, or nil.
func (a *Auth) loadFlow(ctx context.Context) *flow {
	b := a.sm.GetBytes(ctx, keyFlow)
	if len(b) == 0 {
		return nil
	}
	var f flow
	if json.Unmarshal(b, &f) != nil {
		return nil
	}
	return &f
}

// saveFlow stores f as the pending flow, replacing any earlier one.
func (a *Auth) saveFlow(ctx context.Context, f *flow) {
	b, _ := json.Marshal(f) // a struct of strings and ints cannot fail
	a.sm.Put(ctx, keyFlow, b)
	if st := stateFrom(ctx); st != nil {
		st.flowSaved = true
	}
}
