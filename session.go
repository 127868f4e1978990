package otlogin

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/alexedwards/scs/v2"
)

// Session keys. Only primitive values are stored (string, int64, []byte, bool), so any scs
// codec can encode them.
const (
	// keyAuth holds the signed-in state: encodeAuth's compact binary form.
	keyAuth = "otlogin.auth"
	// keySeen holds the unix seconds of the last activity (idle timeout).
	keySeen = "otlogin.seen"
	// keyFlow holds the pending login flow as JSON.
	keyFlow = "otlogin.flow"
)

// newSessionManager is the one place the default session manager is built.
func newSessionManager(cfg Config, https bool) *scs.SessionManager {
	sm := scs.New()
	sm.Store = cfg.SessionStore
	if sm.Store == nil {
		sm.Store = newMemStore()
	}
	sm.Codec = Codec{}
	sm.Lifetime = cfg.SessionLifetime
	sm.IdleTimeout = 0 // otlogin tracks idleness itself (keySeen) so reads write nothing
	sm.Cookie.Name = "otlogin"
	if https {
		sm.Cookie.Name = "__Host-otlogin"
		sm.Cookie.Secure = true
	}
	sm.Cookie.HttpOnly = true
	sm.Cookie.SameSite = http.SameSiteLaxMode
	sm.Cookie.Path = "/"
	sm.Cookie.Domain = ""
	sm.Cookie.Persist = true
	return sm
}

// authState is the signed-in state kept in the session: the user first, then the tokens.
type authState struct {
	user         User
	accessToken  string
	accessExpiry time.Time
	refreshToken string
	sessionID    string
}

// authVersion is the first byte of the encoding.
const authVersion = 1

// encodeAuth writes s as: version, then length-prefixed fields. The user part comes first
// so decodeUser can stop there.
func encodeAuth(s *authState) []byte {
	u := &s.user
	b := make([]byte, 0, 256+len(u.claims)+len(s.accessToken)+len(s.refreshToken))
	b = append(b, authVersion)
	b = appendString(b, u.Subject)
	b = appendString(b, u.Email)
	b = appendString(b, u.PhoneNumber)
	b = appendString(b, u.Method)
	b = binary.AppendUvarint(b, uint64(len(u.AMR)))
	for _, m := range u.AMR {
		b = appendString(b, m)
	}
	b = binary.AppendVarint(b, u.AuthTime.Unix())
	b = binary.AppendVarint(b, u.ExpiresAt.Unix())
	b = appendString(b, string(u.claims))
	b = appendString(b, s.accessToken)
	b = binary.AppendVarint(b, s.accessExpiry.Unix())
	b = appendString(b, s.refreshToken)
	b = appendString(b, s.sessionID)
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

var errBadAuth = errors.New("otlogin: malformed session state")

// authReader decodes encodeAuth's output.
type authReader struct {
	b   []byte
	err error
}

func (r *authReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errBadAuth
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *authReader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errBadAuth
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *authReader) str() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.b)) {
		r.err = errBadAuth
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// decodeUser decodes only the user part of the state.
func decodeUser(b []byte) (*User, *authReader, error) {
	if len(b) == 0 || b[0] != authVersion {
		return nil, nil, errBadAuth
	}
	r := &authReader{b: b[1:]}
	u := &User{}
	u.Subject = r.str()
	u.Email = r.str()
	u.PhoneNumber = r.str()
	u.Method = r.str()
	n := r.uvarint()
	if n > 64 {
		return nil, nil, errBadAuth
	}
	u.AMR = make([]string, 0, n)
	for i := uint64(0); i < n && r.err == nil; i++ {
		u.AMR = append(u.AMR, r.str())
	}
	u.AuthTime = time.Unix(r.varint(), 0)
	u.ExpiresAt = time.Unix(r.varint(), 0)
	if c := r.str(); c != "" {
		u.claims = json.RawMessage(c)
	}
	if r.err != nil {
		return nil, nil, r.err
	}
	return u, r, nil
}

// decodeAuth decodes the whole state, tokens included.
func decodeAuth(b []byte) (*authState, error) {
	u, r, err := decodeUser(b)
	if err != nil {
		return nil, err
	}
	s := &authState{user: *u}
	s.accessToken = r.str()
	s.accessExpiry = time.Unix(r.varint(), 0)
	s.refreshToken = r.str()
	s.sessionID = r.str()
	if r.err != nil {
		return nil, r.err
	}
	return s, nil
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
}

// storeHas reports whether token still has data in the session store.
func (a *Auth) storeHas(ctx context.Context, token string) (bool, error) {
	if a.sm.HashTokenInStore {
		sum := sha256.Sum256([]byte(token))
		token = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	if cs, ok := a.sm.Store.(scs.CtxStore); ok {
		_, found, err := cs.FindCtx(ctx, token)
		return found, err
	}
	_, found, err := a.sm.Store.Find(token)
	return found, err
}
