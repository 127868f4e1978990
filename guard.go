package otlogin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/alexedwards/scs/v2"
)

// This file keeps an app's own saves of the session out of the requests otlogin serves.
// Middleware saves each session with its checks (see commit.go: a session loaded from the
// store is written back only while it still exists there). The app's session manager
// (Config.Sessions) can save too: sm.Commit, which sm.LoadAndSave calls, writes
// unconditionally, so an sm.LoadAndSave mounted inside Middleware would write back a
// session that a logout deleted while the request ran. New therefore splits the manager:
// otlogin works on its own copy (same cookie, codec and context key, so sm.Get and sm.Put
// see the one session) over the store itself, and the app's manager gets a guardStore in
// front of the same store, which refuses every save made inside a request that otlogin
// serves (see guardStore.CommitCtx).

// errCommitRefused is what the app's sm.Commit returns inside a request that otlogin's
// Middleware (or RequireAuth) serves. It names the fix and nothing of the session.
var errCommitRefused = errors.New(`otlogin: session not saved: inside otlogin's Middleware only otlogin saves the session; ` +
	`remove sm.LoadAndSave (and sm.Commit) from the handlers Middleware serves (see README, "Apps that already use scs")`)

// errCommitOtherRefused is what the app's sm.Commit returns, inside a request otlogin
// serves, for a session other than the one the request loaded: a commit inside sm.Iterate
// (or of a session sm.Load loaded) given the request's context.
var errCommitOtherRefused = errors.New(`otlogin: session not saved: it was saved with the context of a request otlogin's Middleware serves; ` +
	`run sm.Iterate (and sm.Load and sm.Commit of other sessions) with a context of its own, such as context.Background() ` +
	`(context.WithoutCancel keeps the request's values and is refused too; see README, "Apps that already use scs")`)

// guardStore is the store New puts in the app's session manager (Config.Sessions) in front
// of its own store s. It passes every call through to s, except a save (CommitCtx) whose
// context belongs to a request that an Auth guarded by it serves: that one is refused with
// errCommitRefused, writes nothing, and is reported (see Auth.commitRefused). A save with
// any other context (a background job's context.Background()) goes through.
//
// It implements [scs.Store] and [scs.CtxStore]; the variants below add s's [UpdateStore]
// and [LimiterProvider] abilities, and withIteration (iterate.go) s's iteration, so a type
// assertion on the app's sm.Store finds what s has. otlogin itself never works through it
// (see ownSessions).
type guardStore struct {
	s     scs.Store
	cs    scs.CtxStore // nil when s has no context-aware methods
	codec scs.Codec    // the app's manager's, to tell a save that holds otlogin's signed-in state (see holdsAuth)
	// lifetime is the app's manager's Lifetime: a pre-login session saved here with values
	// of the app's gets it back (see endPreLogin).
	lifetime time.Duration

	logger      *slog.Logger // the first guarded Auth's (Config.Logger, else slog's default)
	droppedOnce sync.Once    // the Warn log of a save dropped by commitOutside
}

// guarded is implemented by guardStore and its variants.
type guarded interface {
	scs.CtxStore
	base() *guardStore
}

func (g *guardStore) base() *guardStore { return g }

// guardUpdateStore is a guardStore over a store with the [UpdateStore] ability. An update
// only replaces a session that still exists, so it cannot write back a deleted one: it
// passes through.
type guardUpdateStore struct {
	*guardStore
	us UpdateStore
}

func (g guardUpdateStore) UpdateCtx(ctx context.Context, token string, b []byte, expiry time.Time) (bool, error) {
	return g.us.UpdateCtx(ctx, token, b, expiry)
}

// guardLimiterStore is a guardStore over a store that brings a [Limiter].
type guardLimiterStore struct {
	*guardStore
	lp LimiterProvider
}

func (g guardLimiterStore) Limiter() Limiter { return g.lp.Limiter() }

// guardUpdateLimiterStore is a guardStore over a store with both abilities.
type guardUpdateLimiterStore struct {
	guardUpdateStore
	lp LimiterProvider
}

func (g guardUpdateLimiterStore) Limiter() Limiter { return g.lp.Limiter() }

// newGuard returns a guard over s, with s's optional abilities, for a manager whose codec
// is codec.
func newGuard(s scs.Store, codec scs.Codec) guarded {
	g := &guardStore{s: s, codec: codec}
	g.cs, _ = s.(scs.CtxStore)
	us, update := s.(UpdateStore)
	lp, limiter := s.(LimiterProvider)
	switch {
	case update && limiter:
		return guardUpdateLimiterStore{guardUpdateStore{g, us}, lp}
	case update:
		return guardUpdateStore{g, us}
	case limiter:
		return guardLimiterStore{g, lp}
	}
	return g
}

// unguarded returns the store behind a guard, or s itself.
func unguarded(s scs.Store) scs.Store {
	if g, ok := s.(guarded); ok {
		return g.base().s
	}
	return s
}

// ownSessions returns otlogin's copy of the app's session manager: the same settings and
// context key, over the app's store without the guard (which New installs, last, with
// guardSessions).
func ownSessions(app *scs.SessionManager) *scs.SessionManager {
	sm := *app
	sm.Store = unguarded(app.Store)
	return &sm
}

// guardSessions puts a guard in front of the app's store (once: a manager shared by two
// Auths keeps the first guard) and makes a refuse the app's saves made inside its requests.
func (a *Auth) guardSessions(app *scs.SessionManager) {
	g, ok := app.Store.(guarded)
	if !ok {
		g = withIteration(newGuard(app.Store, app.Codec))
		g.base().logger = a.logger()
		g.base().lifetime = app.Lifetime
		app.Store = g
	}
	a.stack.guard = g.base()
}

// refuses reports whether ctx belongs to a request that an Auth guarded by g serves.
func (g *guardStore) refuses(ctx context.Context) (*reqState, bool) {
	st := stateFrom(ctx)
	if st == nil || st.auth == nil || st.auth.stack.guard != g {
		return nil, false
	}
	return st, true
}

// CommitCtx refuses a save whose ctx is a request otlogin serves; any other save is
// commitOutside's.
func (g *guardStore) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	if st, refuse := g.refuses(ctx); refuse {
		if st.sessions != nil && ctx.Value(st.auth.scsKey()) != st.sessions.Value(st.auth.scsKey()) {
			// scs's session in ctx is not the request's: sm.Iterate's, or one sm.Load loaded.
			st.auth.commitOtherRefused(st)
			return errCommitOtherRefused
		}
		st.auth.commitRefused(st)
		return errCommitRefused
	}
	return g.commitOutside(ctx, token, b, expiry)
}

// Commit has no context to tell a request by: it is a save outside them (scs calls
// CommitCtx).
func (g *guardStore) Commit(token string, b []byte, expiry time.Time) error {
	return g.commitOutside(context.Background(), token, b, expiry)
}

// commitOutside writes a save of the app's manager made outside otlogin's requests: an
// sm.LoadAndSave mounted beside Middleware, a background job's sm.Commit with a context of
// its own, a commit inside sm.Iterate. A session that holds otlogin's signed-in state is
// written only while it still exists in the store, as otlogin's own saves are: otherwise a
// save of a session loaded before a logout would undo it. With an [UpdateStore] that is one
// atomic update; with another store the session is looked up, then written (the window the
// README describes). A save that finds the session gone writes nothing and returns nil (the
// session ended; there is nothing to retry), and the first one is logged at Warn. Any other
// session (the app's own values only, a new one) is written as before.
func (g *guardStore) commitOutside(ctx context.Context, token string, b []byte, expiry time.Time) error {
	if !g.holdsAuth(b) {
		b, expiry = g.endPreLogin(b, expiry)
		return g.commit(ctx, token, b, expiry)
	}
	var exists bool
	var err error
	if us, ok := g.s.(UpdateStore); ok {
		exists, err = us.UpdateCtx(ctx, token, b, expiry)
	} else if _, exists, err = g.FindCtx(ctx, token); err == nil && exists {
		err = g.commit(ctx, token, b, expiry)
	}
	if err != nil {
		return err
	}
	if !exists {
		g.dropped()
	}
	return nil
}

// commit writes through to the store.
func (g *guardStore) commit(ctx context.Context, token string, b []byte, expiry time.Time) error {
	if g.cs != nil {
		return g.cs.CommitCtx(ctx, token, b, expiry)
	}
	return g.s.Commit(token, b, expiry)
}

// endPreLogin returns the session b to save, and its expiry: b itself, unless b is a
// pre-login session (see Auth.limitPreLogin) that holds values besides its pending flow,
// saved here with the flow's deadline. That one is saved with the full lifetime from now,
// as Auth.endPreLogin does inside Middleware; it keeps its mark, so the next request
// through Middleware saves it again and sets the cookie, whose Max-Age is still the flow's.
// Only sessions with the mark are decoded and encoded again.
func (g *guardStore) endPreLogin(b []byte, expiry time.Time) ([]byte, time.Time) {
	if g.codec == nil || g.lifetime <= 0 {
		return b, expiry
	}
	if _, ours := g.codec.(Codec); ours {
		if sc, ok := scanSession(b); ok && !sc.preLogin {
			return b, expiry
		}
	}
	_, values, err := g.codec.Decode(b)
	if err != nil {
		return b, expiry
	}
	if _, marked := values[keyPreLogin]; !marked {
		return b, expiry
	}
	others := false
	for k := range values {
		others = others || !preLoginKey(k)
	}
	deadline := time.Now().Add(g.lifetime).UTC()
	if !others || !deadline.After(expiry) {
		return b, expiry
	}
	nb, err := g.codec.Encode(deadline, values)
	if err != nil {
		return b, expiry
	}
	return nb, deadline
}

// holdsAuth reports whether the encoded session b holds otlogin's signed-in state. With
// [Codec] it is read in place (scanSession), otherwise decoded: the cost falls on the
// app's own saves, never on otlogin's read path. A session the codec cannot decode holds
// nothing anyone could be signed in with.
func (g *guardStore) holdsAuth(b []byte) bool { return g.authIn(b) != nil }

// authIn returns otlogin's encoded signed-in state in the encoded session b, or nil.
func (g *guardStore) authIn(b []byte) []byte {
	if _, ours := g.codec.(Codec); ours {
		if sc, ok := scanSession(b); ok {
			return sc.auth
		}
	}
	if g.codec == nil {
		return nil
	}
	_, values, err := g.codec.Decode(b)
	if err != nil {
		return nil
	}
	auth, _ := values[keyAuth].([]byte)
	return auth
}

// dropped reports, at Warn the first time, a save of a signed-in session that
// commitOutside dropped.
func (g *guardStore) dropped() {
	g.droppedOnce.Do(func() {
		logger := g.logger
		if logger == nil {
			logger = slog.Default()
		}
		logger.Warn(`otlogin: a save of a signed-in session through Config.Sessions's manager outside otlogin's Middleware `+
			`(an sm.LoadAndSave mounted beside it, or sm.Commit with a context of its own, such as a background job's) `+
			`was dropped: the session was no longer in the store (signed out meanwhile, or renewed by sm.RenewToken, `+
			`which deletes the old token), and writing it would have undone a logout. sm.Commit returned nil and wrote `+
			`nothing. Serve such handlers through otlogin's Middleware instead of sm.LoadAndSave, and let background `+
			`jobs expect the changes to a signed-out session to be dropped; see README, "Apps that already use scs"`,
			"event", "session", "outcome", "save_after_logout_dropped")
	})
}

func (g *guardStore) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	if g.cs != nil {
		return g.cs.FindCtx(ctx, token)
	}
	return g.s.Find(token)
}

func (g *guardStore) Find(token string) ([]byte, bool, error) { return g.s.Find(token) }

// DeleteCtx deletes through to the store (see deleteThrough), except, inside a request
// otlogin serves and before its save, a delete of the session the request loaded (scs's
// RenewToken and Destroy both make one): that one is held back and the save settles it
// (see reqState.holdDelete).
func (g *guardStore) DeleteCtx(ctx context.Context, token string) error {
	if st, ours := g.refuses(ctx); ours && st.holdDelete(token) {
		return nil
	}
	return g.deleteThrough(ctx, token)
}

// Delete has no context: a delete outside otlogin's requests.
func (g *guardStore) Delete(token string) error { return g.deleteThrough(context.Background(), token) }

// deleteThrough deletes token from the store for the app's manager (an sm.Destroy or
// sm.RenewToken in a background job, in sm.Iterate, or in an sm.LoadAndSave beside
// Middleware). When the session held otlogin's signed-in state, the record of its rotated
// tokens (see Auth.saveRotated) is deleted after it, as a logout does: the session is
// looked up first, one read more per delete of the app's manager outside the request's own
// session. (A renewed signed-in session is not written back outside Middleware either: see
// commitOutside.) The record's delete is best effort.
func (g *guardStore) deleteThrough(ctx context.Context, token string) error {
	b, found, findErr := g.FindCtx(ctx, token)
	var err error
	if g.cs != nil {
		err = g.cs.DeleteCtx(ctx, token)
	} else {
		err = g.s.Delete(token)
	}
	if err != nil || findErr != nil || !found {
		return err
	}
	if id := mosaicSessionOf(g.authIn(b)); id != "" {
		key := rotatedKey(id)
		if g.cs != nil {
			_ = g.cs.DeleteCtx(ctx, key)
		} else {
			_ = g.s.Delete(key)
		}
	}
	return nil
}

// stackChecks is what an Auth keeps to detect and report another session layer in its
// requests: an sm.LoadAndSave around Middleware, or another Auth's Middleware on the same
// manager (stacked), a save through the app's manager inside it (refused by guard), a
// second manager with the same cookie name (cookieClash).
type stackChecks struct {
	guard       *guardStore // in front of Config.Sessions's store; nil when New built the manager
	stackedOnce sync.Once   // the Error log of a Middleware inside sm.LoadAndSave
	nestedOnce  sync.Once   // the Error log of a Middleware inside another Auth's on the same manager
	renewOnce   sync.Once   // the Warn log of the app's sm.RenewToken on a signed-in session
	refusedOnce sync.Once   // the Error log of a save refused by guard
	otherOnce   sync.Once   // the Error log of a save of another session refused by guard
	clashOnce   sync.Once   // the Error log of another manager's cookie
}

// commitRefused records, for the request of st, a save of the app's manager that guard
// refused: the request's answer becomes a 503 if nothing of it was written yet (see
// sessionWriter.commit), and an Error names the fix, once.
func (a *Auth) commitRefused(st *reqState) {
	st.commitRefused.Store(true)
	a.stack.refusedOnce.Do(func() {
		a.logger().Error(`otlogin: a save of the session through Config.Sessions's manager (sm.Commit, which sm.LoadAndSave calls) `+
			`was refused: it ran inside otlogin's Middleware, which saves the session itself and would have been bypassed `+
			`(an unconditional save can write back a session a logout deleted). Remove sm.LoadAndSave, and any sm.Commit, `+
			`from the handlers Middleware serves: Middleware loads and saves the session for the app (sm.Get and sm.Put keep `+
			`working inside it); see README, "Apps that already use scs"`,
			"event", "session", "outcome", "stacked_load_and_save")
	})
}

// commitOtherRefused is commitRefused for a save whose context carries an scs session other
// than the request's: a commit inside sm.Iterate, or of a session sm.Load loaded, given
// the request's context. The request's
// answer becomes the same 503; the Error, once, names that fix instead.
func (a *Auth) commitOtherRefused(st *reqState) {
	st.commitRefused.Store(true)
	a.stack.otherOnce.Do(func() {
		a.logger().Error(`otlogin: a save through Config.Sessions's manager (sm.Commit) of a session other than the request's was refused: `+
			`it was given the context of a request otlogin's Middleware serves (sm.Iterate(r.Context(), ...) with a commit inside, `+
			`or sm.Load(r.Context(), token) then sm.Commit), and such saves could write back a session a logout deleted. `+
			`The request is answered 503 "temporarily unavailable". Run sm.Iterate, and sm.Load and sm.Commit of other sessions, `+
			`with a context of their own, such as context.Background() (context.WithoutCancel keeps the request's values and is `+
			`refused too); sm.Destroy inside sm.Iterate works with either; see README, "Apps that already use scs"`,
			"event", "session", "outcome", "commit_with_request_context")
	})
}

// renewIgnored reports, at Warn the first time, that the app's sm.RenewToken of a
// signed-in session was ignored: the session keeps its token (see sessionWriter.settleDelete).
func (a *Auth) renewIgnored() {
	a.stack.renewOnce.Do(func() {
		a.logger().Warn(`otlogin: sm.RenewToken of Config.Sessions was called on a signed-in session inside otlogin's Middleware. `+
			`otlogin renews the session token at sign-in itself and ignores RenewToken on a signed-in session: the session keeps `+
			`its token, and the app's changes are saved under it (a new token could bring back a session that a logout ends `+
			`meanwhile). Remove the call, or make it before the sign-in; see README, "Apps that already use scs"`,
			"event", "session", "outcome", "renew_ignored")
	})
}

// cookieClash reports, at Error the first time, that a handler inside Middleware set the
// session cookie through another session manager.
func (a *Auth) cookieClash() {
	a.stack.clashOnce.Do(func() {
		a.logger().Error(fmt.Sprintf(`otlogin: a handler inside otlogin's Middleware set the cookie %q, otlogin's session cookie, `+
			`through another session manager (or a copy of Config.Sessions made before New), so the browser's session is replaced `+
			`without otlogin's checks. Give the other session manager a different cookie name (its Cookie.Name), or use `+
			`Config.Sessions, which Middleware loads and saves; see README, "Apps that already use scs"`, a.sm.Cookie.Name),
			"event", "session", "outcome", "cookie_name_clash")
	})
}
