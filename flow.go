package otlogin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/alexedwards/scs/v2"
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

// keyLinkRecord is the value name in a link record (see saveLinkRecord).
const keyLinkRecord = "otlogin.link"

// linkRecordKey is the store key of the record naming the address a link with this state
// was sent to. It cannot collide with scs's 43-character session tokens, and the state
// appears in it only hashed.
func linkRecordKey(state string) string {
	sum := sha256.Sum256([]byte("otlogin-link\x00" + state))
	return "otlogin-link-" + hex.EncodeToString(sum[:16])
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

// keyLatestOTP is the value name in a latest-code record (see saveLatestOTP).
const keyLatestOTP = "otlogin.otp"

// latestOTPKey is the store key of the record naming the newest code flow started for an
// identifier (on any instance). The identifier appears in it only hashed with the limiter
// key, which every instance of an app shares.
func (a *Auth) latestOTPKey(idType, identifier string) string {
	return "otlogin-otp-" + a.limitKey("latest-otp\x00"+idType+"\x00"+identifier)
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
