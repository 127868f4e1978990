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
	"unsafe"

	"github.com/alexedwards/scs/v2"
	"github.com/otlogin/otlogin/internal/wire"
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
	// keyPreLogin (true) marks a session whose deadline is its pending flow's (see
	// limitPreLogin and endPreLogin).
	keyPreLogin = "otlogin.prelogin"
)

// newSessionManager is the one place the default session manager is built.
func newSessionManager(cfg Config, https bool) *scs.SessionManager {
	sm := scs.New()
	sm.Store = cfg.SessionStore
	if sm.Store == nil {
		sm.Store = NewMemoryStore()
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
	user            User
	accessToken     string
	accessExpiry    time.Time
	refreshToken    string
	mosaicSessionID string
	checked         time.Time // last revalidation with Mosaic; zero: never (the auth time counts)
}

// authVersion is the first byte of the encoding.
const authVersion = 1

// encodeAuth writes s as: version, then length-prefixed fields. The user part comes first
// so decodeUser can stop there.
func encodeAuth(s *authState) []byte {
	u := &s.user
	b := make([]byte, 0, 256+len(u.claims)+len(s.accessToken)+len(s.refreshToken))
	b = append(b, authVersion)
	b = wire.AppendBytes(b, u.Subject)
	b = wire.AppendBytes(b, u.Email)
	b = wire.AppendBytes(b, u.PhoneNumber)
	b = wire.AppendBytes(b, u.Method)
	b = binary.AppendUvarint(b, uint64(len(u.AMR)))
	for _, m := range u.AMR {
		b = wire.AppendBytes(b, m)
	}
	b = binary.AppendVarint(b, u.AuthTime.Unix())
	b = binary.AppendVarint(b, u.ExpiresAt.Unix())
	b = wire.AppendBytes(b, string(u.claims))
	b = wire.AppendBytes(b, s.accessToken)
	b = binary.AppendVarint(b, s.accessExpiry.Unix())
	b = wire.AppendBytes(b, s.refreshToken)
	b = wire.AppendBytes(b, s.mosaicSessionID)
	var checked int64
	if !s.checked.IsZero() {
		checked = s.checked.Unix()
	}
	b = binary.AppendVarint(b, checked) // optional: states written before it end here
	return b
}

// errBadAuth: the signed-in state is not in encodeAuth's layout.
var errBadAuth = errors.New("otlogin: malformed session state")

// userLayout is where the fields of the user part of an encoded state are (see readUser).
type userLayout struct {
	f                 [4][2]int   // Subject, Email, PhoneNumber, Method: start and end
	nAMR              uint64      // number of AMR values
	amrAt             wire.Reader // positioned at the first AMR value
	end               int         // the strings end here
	authTime, expires int64       // unix seconds
	cs, ce            int         // the raw claims
}

// readUser checks the user part of the encoded state b and returns where its fields are,
// and the reader positioned at the tokens. It allocates nothing.
func readUser(b []byte) (l userLayout, r wire.Reader, _ error) {
	if len(b) == 0 || b[0] != authVersion {
		return l, wire.Reader{}, errBadAuth
	}
	r = wire.NewReader(b, 1, errBadAuth)
	for i := range l.f {
		l.f[i][0], l.f[i][1] = r.Span()
	}
	l.nAMR = r.Uvarint()
	if l.nAMR > 64 {
		return l, wire.Reader{}, errBadAuth
	}
	l.amrAt = r
	for i := uint64(0); i < l.nAMR; i++ {
		r.Span()
	}
	l.end = r.Pos
	l.authTime, l.expires = r.Varint(), r.Varint()
	l.cs, l.ce = r.Span()
	if r.Err != nil {
		return l, wire.Reader{}, r.Err
	}
	return l, r, nil
}

// decodeUserInto decodes only the user part of the state into u, appending the AMR values
// to amr (pass a small array's slice to avoid an allocation). It runs on every signed-in
// request, so it allocates nothing: the user's strings and the raw claims alias b (a
// session value, which nothing mutates). It returns the reader
// positioned at the tokens.
func decodeUserInto(u *User, amr []string, b []byte) (wire.Reader, error) {
	l, r, err := readUser(b)
	if err != nil {
		return wire.Reader{}, err
	}
	f, start := &l.f, l.f[0][0]
	// The strings share b's memory instead of copying it: b is a session value, which
	// nothing modifies (see Codec), so they stay valid and constant after the request.
	var strs string
	if l.end > start {
		strs = unsafe.String(&b[start], l.end-start)
	}
	str := func(s, e int) string { return strs[s-start : e-start] }
	u.Subject, u.Email = str(f[0][0], f[0][1]), str(f[1][0], f[1][1])
	u.PhoneNumber, u.Method = str(f[2][0], f[2][1]), str(f[3][0], f[3][1])
	u.AMR = amr[:0]
	for i := uint64(0); i < l.nAMR; i++ {
		u.AMR = append(u.AMR, str(l.amrAt.Span()))
	}
	if u.AMR == nil {
		u.AMR = []string{}
	}
	u.AuthTime = time.Unix(l.authTime, 0)
	u.ExpiresAt = time.Unix(l.expires, 0)
	u.claims = nil
	if l.ce > l.cs {
		u.claims = json.RawMessage(b[l.cs:l.ce:l.ce])
	}
	return r, nil
}

// decodeAuth decodes the whole state, tokens included.
func decodeAuth(b []byte) (*authState, error) {
	s := &authState{}
	r, err := decodeUserInto(&s.user, nil, b)
	if err != nil {
		return nil, err
	}
	s.accessToken = r.Str()
	s.accessExpiry = time.Unix(r.Varint(), 0)
	s.refreshToken = r.Str()
	s.mosaicSessionID = r.Str()
	if checked := readChecked(&r); checked != 0 {
		s.checked = time.Unix(checked, 0)
	}
	if r.Err != nil {
		return nil, r.Err
	}
	return s, nil
}

// accessTokenOf returns the access token and its expiry (unix seconds) in the encoded state
// b, which it checks as decodeAuth does. It allocates nothing (AccessToken calls it on every
// request that wants the token): the token aliases b, a session value which nothing
// modifies, like the strings of decodeUserInto.
func accessTokenOf(b []byte) (tok string, expiry int64, _ error) {
	_, r, err := readUser(b)
	if err != nil {
		return "", 0, err
	}
	start, end := r.Span()
	expiry = r.Varint()
	r.Span() // refresh token
	r.Span() // Mosaic session id
	readChecked(&r)
	if r.Err != nil {
		return "", 0, r.Err
	}
	if end > start {
		tok = unsafe.String(&b[start], end-start)
	}
	return tok, expiry, nil
}

// readChecked reads the optional last field, the unix seconds of the last revalidation (0
// when absent).
func readChecked(r *wire.Reader) int64 {
	if r.Err != nil || r.Remaining() == 0 {
		return 0
	}
	return r.Varint()
}

// checkedAt returns the time of the last revalidation recorded in the encoded state,
// given the reader decodeUserInto returned, or zero. It allocates nothing (it runs on every
// signed-in request).
func checkedAt(r wire.Reader) int64 {
	r.Span() // access token
	r.Varint()
	r.Span() // refresh token
	r.Span() // Mosaic session id
	return readChecked(&r)
}

// storeFind reads a session's encoded data straight from the store, bypassing the
// request's copy.
func (a *Auth) storeFind(ctx context.Context, token string) ([]byte, bool, error) {
	return a.storeFindKey(ctx, a.storeKey(token))
}

// storeFindKey reads the record stored under key.
func (a *Auth) storeFindKey(ctx context.Context, key string) ([]byte, bool, error) {
	if cs, ok := a.sm.Store.(scs.CtxStore); ok {
		return cs.FindCtx(ctx, key)
	}
	return a.sm.Store.Find(key)
}

// storeDelete deletes token's session from the store.
func (a *Auth) storeDelete(ctx context.Context, token string) error {
	key := a.storeKey(token)
	if cs, ok := a.sm.Store.(scs.CtxStore); ok {
		return cs.DeleteCtx(ctx, key)
	}
	return a.sm.Store.Delete(key)
}

// storeCommit writes b under the store key key.
func (a *Auth) storeCommit(ctx context.Context, key string, b []byte, expiry time.Time) error {
	if cs, ok := a.sm.Store.(scs.CtxStore); ok {
		return cs.CommitCtx(ctx, key, b, expiry)
	}
	return a.sm.Store.Commit(key, b, expiry)
}

// storeHas reports whether token still has data in the session store.
func (a *Auth) storeHas(ctx context.Context, token string) (bool, error) {
	_, found, err := a.storeFind(ctx, token)
	return found, err
}

// storedAuthBytes returns the signed-in state the store currently holds for token.
func (a *Auth) storedAuthBytes(ctx context.Context, token string) (b []byte, found bool, err error) {
	data, found, err := a.storeFind(ctx, token)
	return a.authOf(data, found, err)
}

// authOf extracts the signed-in state from an encoded session.
func (a *Auth) authOf(data []byte, found bool, err error) (b []byte, _ bool, _ error) {
	if err != nil || !found {
		return nil, found, err
	}
	if _, ours := a.sm.Codec.(Codec); ours {
		if sc, ok := scanSession(data); ok { // in place, as a request reads it
			return sc.auth, true, nil
		}
	}
	_, values, err := a.sm.Codec.Decode(data)
	if err != nil {
		return nil, true, err
	}
	b, _ = values[keyAuth].([]byte)
	return b, true, nil
}

// storeKey is the key under which scs stores token.
func (a *Auth) storeKey(token string) string {
	if a.sm.HashTokenInStore {
		sum := sha256.Sum256([]byte(token))
		return base64.RawURLEncoding.EncodeToString(sum[:])
	}
	return token
}

// goBackground runs call in a goroutine of its own with a context detached from ctx's
// cancellation (it keeps its values) and bounded by Config.Timeout, so the call outlives
// the request that started it but never runs longer than one Mosaic call may.
// [Auth.Shutdown] waits for these goroutines.
func (a *Auth) goBackground(ctx context.Context, call func(ctx context.Context)) {
	a.background.Add(1)
	go func() {
		defer a.background.Done()
		cctx, cancel := a.callCtx(context.WithoutCancel(ctx))
		defer cancel()
		call(cctx)
	}()
}

// Shutdown waits until the Mosaic calls otlogin runs in the background have ended, or ctx
// is done (it then returns ctx's error). Such a call is the revocation of a Mosaic session
// after a logout, which answers without waiting for it; each is bounded by Config.Timeout.
// Call it after http.Server.Shutdown, before the process exits.
func (a *Auth) Shutdown(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		a.background.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
