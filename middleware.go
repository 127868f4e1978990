package otlogin

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// reqState is the per-request state, the one context value otlogin adds.
type reqState struct {
	auth        *Auth                 // nil for a state made by WithUser
	user        *User                 // signed-in user, nil when anonymous
	loadedToken string                // token looked up in the store at load ("" if none); scs's token equals it only if found
	loadedAuth  []byte                // the signed-in state as loaded, to detect changes made elsewhere
	afterSave   func(context.Context) // run once after the session is saved (set by a sign-in)
	onFailure   func(context.Context) // run once when the session could not be saved (set by a sign-in)

	// The flags and counters sit together, so the state (allocated with the session writer
	// on every request) stays small.
	unavailable bool // the session store failed on load: nothing is known, nothing is saved
	flowSaved   bool // a pending flow was put in the session: losing its save must be told
	keepLoaded  bool // the app renewed a signed-in session's token: it is saved under loadedToken
	signedIn    bool // a sign-in in this request renewed the token (otlogin's own RenewToken)

	// late: the session changed after the response was committed. Atomic: a handler may
	// call AccessToken from goroutines of its own.
	late atomic.Bool

	commitRefused atomic.Bool // the app's manager tried to save the session and was refused (see guardStore)

	// deletes is where a delete of the loaded token by the app's manager stands (sm.RenewToken
	// or sm.Destroy of Config.Sessions): deleteOpen, deleteHeld until the save settles it (see
	// guardStore.DeleteCtx and sessionWriter.settleDelete), deleteClosed once the save ran.
	deletes atomic.Int32

	sessions *sessionCtx // the request's context, which carries its scs session (set by begin)

	mosaicDeadline time.Time // end of this request's budget for Mosaic calls (see mosaicCtx); zero until the first

	userBuf User      // storage for user, saving an allocation per signed-in request
	amrBuf  [4]string // storage for userBuf.AMR
}

// The states of reqState.deletes.
const (
	deleteOpen   int32 = iota // nothing held; the request's save has not run yet
	deleteHeld                // the app's manager deleted the loaded token: held back until the save
	deleteClosed              // the save ran: later deletes go through to the store
)

// holdDelete reports whether a delete of the store key key through the app's manager,
// made in this request, is held back instead of reaching the store: key is that of the
// session the request loaded, and the request's save has not run yet. sm.RenewToken and
// sm.Destroy both delete the loaded token first, and only the save can tell which one it
// was: it settles the delete then (see sessionWriter.settleDelete). Held back, the session
// stays in the store meanwhile, so a logout finds it (and ends its Mosaic session), and the
// save still sees whether a logout deleted it.
func (st *reqState) holdDelete(key string) bool {
	if st.unavailable || st.loadedToken == "" || key != st.auth.storeKey(st.loadedToken) {
		return false
	}
	return st.deletes.CompareAndSwap(deleteOpen, deleteHeld) || st.deletes.Load() == deleteHeld
}

func stateFrom(ctx context.Context) *reqState {
	st, _ := ctx.Value(ctxKey{}).(*reqState)
	return st
}

// Middleware loads the session of each request, attaches the signed-in user (see
// [UserFromContext]) and saves the session before the first byte of the answer is written.
// Inside a request whose session this Auth already loaded it does nothing more, so it can
// wrap handlers that an outer Middleware also covers ([Auth.Handler] uses it that way).
// If the session store fails, the request continues anonymous: [Auth.RequireAuth] answers
// 503 and login routes refuse to start, while public routes keep working.
func (a *Auth) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if st := stateFrom(r.Context()); st != nil && st.auth == a {
			next.ServeHTTP(w, r)
			return
		}
		r, sw := a.begin(w, r)
		defer sw.finish()
		next.ServeHTTP(sw, r)
	})
}

// stacked reports a Middleware mounted inside another layer that already loaded the same
// manager's session: sm.LoadAndSave of it, or the Middleware of another Auth given the
// same manager (its request state is in ctx). At Error the first time (through
// Config.Logger, else slog's default logger), then as a session event of each request.
func (a *Auth) stacked(ctx context.Context) {
	kind := "stacked_load_and_save"
	if o := stateFrom(ctx); o != nil && o.auth != nil && o.auth != a {
		kind = "nested_middleware"
	}
	once := &a.stack.stackedOnce
	if kind == "nested_middleware" {
		once = &a.stack.nestedOnce
	}
	once.Do(func() {
		if kind == "nested_middleware" {
			a.logger().Error("otlogin: this Middleware runs inside another otlogin Middleware on the same session manager (two Auths given one Config.Sessions, one mounted inside the other), "+
				"so the session would be saved twice and this Auth treats the session store as unavailable (its sign-in and protected routes answer 503). "+
				"Mount each Auth's Middleware on its own routes, not one inside the other (route \"/admin/\" to auth2.Middleware(admin) beside auth1.Middleware(app)), "+
				"or give the second Auth a session manager of its own with another cookie name; see README, \"Apps that already use scs\"",
				"event", "session", "outcome", kind)
			return
		}
		a.logger().Error("otlogin: Middleware runs inside sm.LoadAndSave of the same session manager, so otlogin cannot save sessions safely and treats the session store as unavailable (sign-in and protected routes answer 503). Remove sm.LoadAndSave around otlogin: otlogin's Middleware loads and saves the session for the app too (sm.Get and sm.Put keep working inside it); see README, \"Apps that already use scs\"",
			"event", "session", "outcome", kind)
	})
	a.log(ctx, "session", "", "unavailable", "", "error", kind)
}

// setsCookie reports whether h already sets the cookie called name to a value (a cookie
// that deletes it, with an empty value, does not count: scs's LoadAndSave of Config.Sessions
// writes one when the session was destroyed, as otlogin does).
func setsCookie(h http.Header, name string) bool {
	for _, c := range h["Set-Cookie"] {
		if len(c) > len(name)+1 && c[len(name)] == '=' && c[:len(name)] == name && c[len(name)+1] != ';' {
			return true
		}
	}
	return false
}

// sameContext reports whether x and y are the same context. Contexts are pointers in
// practice; one of a type that cannot be compared is reported as different.
func sameContext(x, y context.Context) (same bool) {
	defer func() { _ = recover() }()
	return x == y
}

// sessionTokenLen is the length of an scs session token: 32 random bytes, base64url
// without padding.
const sessionTokenLen = 43

// begin loads the session and returns the request carrying it and the committing writer.
//
// With [Codec] (the default) a session found in the store is read in place (see
// scanSession): the signed-in user and the idle time come straight from the store's bytes,
// and scs's values map is built only when something asks scs for this session, such as a
// handler calling sm.GetString or otlogin recording activity (see sessionCtx). A request
// that never touches the app's session values does not pay for decoding them.
func (a *Auth) begin(w http.ResponseWriter, r *http.Request) (*http.Request, *sessionWriter) {
	addVaryCookie(w.Header())
	sw := &sessionWriter{ResponseWriter: w, a: a}
	st := &sw.state
	st.auth = a
	token := sessionToken(r.Header, a.sm.Cookie.Name)
	parent := r.Context()
	st.loadedToken = token // a session that was not found has scs token "", never this
	sc, scanned, ctx, err := a.load(parent, token, &sw.ctx)
	if err != nil {
		st.unavailable = true
		a.log(parent, "session", "", "unavailable", "")
		ctx, _ = a.sm.Load(parent, "") // an empty session: no store call
	} else if !scanned && sameContext(ctx, parent) {
		// scs's Load returns the context as it is when it already holds this manager's
		// session: sm.LoadAndSave (or sm.Load) of the same manager runs around otlogin, or
		// the Middleware of another Auth given the same manager. Both would save the
		// session, so otlogin takes no part: the request is served like one whose store is
		// down. (A session read in place, scanned, keeps the parent context on purpose: not
		// this case.)
		a.stacked(parent)
		st.unavailable = true
	}
	sw.ctx.Context, sw.ctx.st = ctx, st
	st.sessions = &sw.ctx
	if !st.unavailable {
		// A logout ends the session whatever Mosaic would say: it never waits for a
		// revalidation.
		revalidate := !(r.Method == http.MethodPost && r.URL.Path == a.prefix+"/logout")
		var scp *sessionScan
		if scanned {
			scp = &sc
		}
		a.attachUser(&sw.ctx, st, scp, revalidate)
		if st.user == nil && (!scanned && token != "" || sc.preLogin) {
			a.endPreLogin(&sw.ctx) // values saved outside Middleware (limits.go)
		}
	}
	r = r.WithContext(&sw.ctx)
	sw.r, sw.st = r, st
	return r, sw
}

// load returns the context scs's session of token lives in. When the session was found and
// scanSession could read it, that is parent itself, scanned is true, sc holds otlogin's
// values, and sctx is set up to decode the session for scs on first use; otherwise scs has
// loaded it (from the bytes already read: the store is read once).
func (a *Auth) load(parent context.Context, token string, sctx *sessionCtx) (sc sessionScan, scanned bool, _ context.Context, _ error) {
	if _, ours := a.sm.Codec.(Codec); !ours || token == "" || parent.Value(a.scsKey()) != nil {
		// Another codec, no cookie, or an outer scs middleware already loaded the session.
		ctx, err := a.sm.Load(parent, token)
		return sc, false, ctx, err
	}
	data, found, err := a.storeFind(parent, token)
	if err != nil {
		return sc, false, nil, err
	}
	if !found {
		ctx, err := a.sm.Load(parent, "") // what scs does for a token it does not find
		return sc, false, ctx, err
	}
	if sc, ok := scanSession(data); ok {
		sctx.data, sctx.lazy = data, true
		return sc, true, parent, nil
	}
	ctx, err := a.loadFrom(parent, token, data)
	return sc, false, ctx, err
}

// loadFrom has scs load the session of token from data, the bytes the store returned for
// it, without reading the store again: a copy of the session manager (same codec and
// context key) whose store returns data.
func (a *Auth) loadFrom(parent context.Context, token string, data []byte) (context.Context, error) {
	sm := *a.sm
	sm.Store = readStore{data: data}
	return sm.Load(parent, token)
}

// readStore is a store that holds one record, already read: loadFrom's.
type readStore struct{ data []byte }

func (s readStore) Find(string) ([]byte, bool, error) { return s.data, true, nil }

func (readStore) Commit(string, []byte, time.Time) error {
	return errors.New("otlogin: internal: readStore is read-only")
}

func (readStore) Delete(string) error {
	return errors.New("otlogin: internal: readStore is read-only")
}

// sessionCtx is the context of a request Middleware or RequireAuth loaded: it carries the
// request state (ctxKey) and scs's session. When lazy is set, scs's session is not decoded
// yet: the first lookup of the session manager's context key (any sm.Get, sm.Put, ... on
// this context or one derived from it) decodes data, once, and later lookups return the
// same session.
type sessionCtx struct {
	context.Context // the parent; it also carries scs's session unless lazy
	st              *reqState
	lazy            bool
	data            []byte // the session as the store returned it (its token: st.loadedToken)

	once   sync.Once
	loaded atomic.Bool
	scsCtx context.Context // once loaded: the context carrying scs's session
}

// sessionCtxKey is the context key under which a sessionCtx answers with itself.
type sessionCtxKey struct{}

// Value implements context.Context.
func (c *sessionCtx) Value(key any) any {
	switch key {
	case ctxKey{}:
		return c.st
	case sessionCtxKey{}:
		return c
	}
	if c.lazy && key == c.st.auth.sessKey.key {
		return c.scs().Value(key)
	}
	return c.Context.Value(key)
}

// scs returns the context carrying scs's session, decoding it on first use.
func (c *sessionCtx) scs() context.Context {
	c.once.Do(func() {
		ctx, err := c.st.auth.loadFrom(c.Context, c.st.loadedToken, c.data)
		if err != nil {
			// Not reached: scanSession accepted data, so Decode does too. Should it
			// happen, the request gets an empty session, as for a token not found.
			ctx, _ = c.st.auth.sm.Load(c.Context, "")
		}
		c.scsCtx = ctx
		c.loaded.Store(true)
	})
	return c.scsCtx
}

// untouched reports whether scs's session was never decoded: nothing can have changed it.
func (c *sessionCtx) untouched() bool { return c.lazy && !c.loaded.Load() }

// varyCookie is the Vary value every answer gets. It is shared: its capacity equals its
// length, so a later Header.Add copies it rather than writing into it.
var varyCookie = []string{"Cookie"}

// addVaryCookie adds "Vary: Cookie" to h, without allocating when h has no Vary yet.
func addVaryCookie(h http.Header) {
	if _, ok := h["Vary"]; !ok {
		h["Vary"] = varyCookie[:1:1]
		return
	}
	h.Add("Vary", "Cookie")
}

// scsKey returns the session manager's context key, boxed once. scs does not export it:
// Load reveals it by looking it up in the context it is given.
func (a *Auth) scsKey() any {
	a.sessKey.once.Do(func() {
		p := &keyProbe{Context: context.Background()}
		_, _ = a.sm.Load(p, "") // token "": no store call
		a.sessKey.key = p.key
	})
	return a.sessKey.key
}

// sessionKey holds the session manager's context key once found (see Auth.scsKey).
type sessionKey struct {
	once sync.Once
	key  any
}

// keyProbe records the first key looked up in it.
type keyProbe struct {
	context.Context
	key any
}

func (p *keyProbe) Value(key any) any {
	if p.key == nil {
		p.key = key
	}
	return p.Context.Value(key)
}

// sessionToken returns the value of the first cookie called name in the request's Cookie
// headers whose value could be a session token (see isSessionToken; the double quotes RFC
// 6265 allows removed), or "". It scans the headers in place: unlike r.Cookie it parses no
// other cookie and allocates nothing.
func sessionToken(h http.Header, name string) string {
	for _, line := range h["Cookie"] {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok || k != name {
				continue
			}
			if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			if isSessionToken(v) {
				return v
			}
		}
	}
	return ""
}

// isSessionToken reports whether v has the shape of an scs token: exactly sessionTokenLen
// base64url characters. Anything else is never looked up, so a cookie cannot name another
// record of the store (such as rotatedKey's).
func isSessionToken(v string) bool {
	if len(v) != sessionTokenLen {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// attachUser decodes the signed-in user and enforces the idle and absolute timeouts (a
// session they end is destroyed, with the record of its rotated tokens). Once per
// Config.RevalidateEvery it asks Mosaic whether the user still may be signed in (see
// revalidate) and ends the session when Mosaic says no. Activity is recorded only when the
// last record is older than idleStep, so most signed-in reads write nothing to the store.
func (a *Auth) attachUser(ctx context.Context, st *reqState, sc *sessionScan, revalidate bool) {
	var b []byte
	var seen int64
	if sc != nil { // read in place by scanSession: no scs call
		b, seen = sc.auth, sc.seen
	} else {
		b, seen = a.sm.GetBytes(ctx, keyAuth), a.sm.GetInt64(ctx, keySeen)
	}
	if b == nil {
		return
	}
	st.loadedAuth = b
	now := a.cfg.Now()
	u := &st.userBuf
	rest, err := decodeUserInto(u, st.amrBuf[:0], b)
	idle := now.Sub(time.Unix(seen, 0))
	if err != nil || !now.Before(u.ExpiresAt) || idle > a.cfg.IdleTimeout {
		outcome := "expired"
		if err != nil {
			outcome = "invalid"
		} else if s, err := decodeAuth(b); err == nil {
			a.deleteRotated(ctx, s.mosaicSessionID) // once per expired session, best effort
		}
		a.log(ctx, "session", "", outcome, "")
		if err := a.sm.Destroy(ctx); err != nil {
			st.unavailable = true
		}
		return
	}
	if revalidate && a.revalidationDue(now, u, rest) && !a.revalidate(ctx, b) {
		if err := a.sm.Destroy(ctx); err != nil {
			st.unavailable = true
		}
		return
	}
	if idle >= a.idleStep {
		a.sm.Put(ctx, keySeen, now.Unix())
	}
	st.user = u
}

// RequireAuth lets signed-in requests through to next. A browser navigation (see
// isNavigation: Sec-Fetch-Mode: navigate or Sec-Fetch-Dest: document, or without those
// headers an Accept naming text/html) that is not signed in gets a 303 to the login page,
// with next set to the requested path; every other request (fetch(), curl, API clients)
// gets 401 JSON with a WWW-Authenticate header. If the session store is unavailable the
// answer is 503 (a page for navigations, JSON otherwise): never "signed in". Requests for
// the auth routes themselves (Prefix and below) pass through, so wrapping a whole router,
// auth routes included, does not loop. It makes no Mosaic call, except the revalidation of a session once per
// Config.RevalidateEvery (see [Config]).
func (a *Auth) RequireAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if st := stateFrom(r.Context()); st != nil {
			switch {
			case st.auth == a: // Middleware loaded the session
				a.requireAuth(w, r, st, next)
				return
			case st.auth == nil && st.user != nil: // WithUser
				next.ServeHTTP(w, r)
				return
			}
		}
		r, sw := a.begin(w, r)
		defer sw.finish()
		a.requireAuth(sw, r, sw.st, next)
	})
}

// noStore is the Cache-Control value of every signed-in answer that RequireAuth lets through
// (shared, never modified: a handler's Set replaces the slice, an Add copies it as its
// capacity is full).
var noStore = []string{"no-store"}[:1:1]

// requireAuth answers for RequireAuth once the session st is loaded.
func (a *Auth) requireAuth(w http.ResponseWriter, r *http.Request, st *reqState, next http.Handler) {
	if st.user != nil {
		// A signed-in answer carries the user's data: no cache may keep it (the Back button
		// after sign-out, a shared proxy). The handler may still set its own Cache-Control.
		w.Header()["Cache-Control"] = noStore
		next.ServeHTTP(w, r)
		return
	}
	if a.underPrefix(r) {
		next.ServeHTTP(w, r)
		return
	}
	setSecurityHeaders(w.Header())
	nav := isNavigation(r)
	switch {
	case st.unavailable && (nav || a.cfg.ErrorHandler != nil):
		a.fail(w, r, errUnavailable(nil))
	case st.unavailable:
		e := errUnavailable(nil)
		writeJSON(w, e.Status, map[string]string{"error": e.Code, "message": e.Message})
	case nav:
		target := a.prefix + "/login?next=" + url.QueryEscape(sanitizeNext(r.URL.RequestURI()))
		http.Redirect(w, r, target, http.StatusSeeOther)
	default:
		a.unauthenticated(w)
	}
}
