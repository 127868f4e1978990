package otlogin

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/alexedwards/scs/v2"
)

// sessionWriter commits the session and writes its cookie before the first byte of the
// answer, and at the end when nothing was written.
type sessionWriter struct {
	http.ResponseWriter
	a      *Auth
	r      *http.Request
	st     *reqState  // always &state
	state  reqState   // allocated with the writer
	ctx    sessionCtx // the request's context, allocated with the writer
	done   bool       // commit attempted
	failed bool       // commit failed: a 503 was written and the handler's output is dropped
}

func (w *sessionWriter) WriteHeader(code int) {
	if !w.done {
		w.commit()
	}
	if w.dropping() {
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *sessionWriter) Write(b []byte) (int, error) {
	if !w.done {
		w.commit()
	}
	if w.dropping() {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// Flush commits the session, then flushes the underlying writer if it can.
func (w *sessionWriter) Flush() {
	if !w.done {
		w.commit()
	}
	if w.failed {
		return
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// dropping reports whether output is dropped: the commit failed and another answer was
// written, or a save through the app's session manager was refused after the answer had
// started (the error page scs's LoadAndSave writes then would land in the middle of it).
func (w *sessionWriter) dropping() bool { return w.failed || w.st.commitRefused.Load() }

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *sessionWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// finish commits when the handler wrote nothing, and saves late changes otherwise.
func (w *sessionWriter) finish() {
	if !w.done {
		w.commit()
		return
	}
	if w.st.commitRefused.Load() && !w.failed {
		// Refused after otlogin's own save (an sm.LoadAndSave inside that commits at the end).
		w.a.log(w.r.Context(), "session", "", "refused", "", "error", "stacked_load_and_save")
	}
	if w.st.late.Load() && !w.failed && !w.st.unavailable {
		ctx := w.r.Context()
		token := w.a.sm.Token(ctx)
		if w.st.keepLoaded {
			token = w.st.loadedToken
		}
		if token != "" {
			_, _, _ = w.a.saveLoaded(ctx, w.st, token) // the answer is gone: best effort
		}
	}
}

// commit saves the session if it changed. A session loaded from the store is saved only
// while its token still exists there (see [UpdateStore]), so a slow request cannot
// resurrect a session that a logout destroyed meanwhile.
func (w *sessionWriter) commit() {
	w.done = true
	a, st := w.a, w.st
	st.late.Store(false) // what changed so far (an AccessToken refresh, say) is saved now, once
	if st.deletes.Swap(deleteClosed) == deleteHeld && !w.settleDelete() {
		return
	}
	if st.commitRefused.Load() {
		// The app's manager tried to save the session (sm.LoadAndSave inside Middleware, or
		// sm.Commit): refused, and this answer is refused too, like a failed save.
		w.replace(errUnavailable(nil), "unavailable", "stacked_load_and_save")
		return
	}
	if setsCookie(w.ResponseWriter.Header(), a.sm.Cookie.Name) {
		a.cookieClash() // the guard refuses Config.Sessions's saves: another manager wrote it
	}
	if st.unavailable {
		return
	}
	if w.ctx.untouched() {
		return // scs's session was never decoded, so nothing changed it
	}
	ctx := w.r.Context()
	switch a.sm.Status(ctx) {
	case scs.Modified:
		a.endPreLogin(ctx) // values besides a pending flow: the full lifetime (limits.go)
		token := a.sm.Token(ctx)
		if st.keepLoaded {
			token = st.loadedToken // see settleDelete
		}
		var expiry time.Time
		if token != "" && token == st.loadedToken {
			// Loaded from the store: an update, never an insert, so a session a logout
			// deleted meanwhile stays deleted.
			var saved bool
			var err error
			expiry, saved, err = a.saveLoaded(ctx, st, token)
			if err != nil {
				w.fail(err)
				return
			}
			if !saved {
				if st.flowSaved {
					// A logout deleted the session while this request started a sign-in:
					// the flow cannot be kept, so the person must not be told to enter a code.
					w.replace(errSessionEnded(), "session_ended", "")
				}
				return
			}
		} else {
			// A new session (first save, or a renewed token after a sign-in): an insert.
			var err error
			token, expiry, err = a.sm.Commit(ctx)
			if err != nil {
				w.fail(err)
				return
			}
		}
		w.writeCookie(ctx, token, expiry)
		if hook := st.afterSave; hook != nil {
			st.afterSave = nil
			hook(ctx)
		}
	case scs.Destroyed:
		w.writeCookie(ctx, "", time.Time{})
	}
}

// settleDelete runs when the app's manager deleted the loaded token during the request
// (sm.RenewToken or sm.Destroy of Config.Sessions), a delete held back until now (see
// reqState.holdDelete). A session that was loaded signed in and is still signed in under a
// new token was renewed by the app: it keeps its loaded token instead (st.keepLoaded), so
// its save is the update of a session that must still exist, and a logout meanwhile stays
// done. (Moving the session to the new token would be an insert, which a racing logout of
// the old token cannot stop.) otlogin renews the token at sign-in; an app's renew of a
// signed-in session is logged once and ignored. Otherwise (a destroyed session, a renewed
// anonymous one, a sign-in in this request, whose new token otlogin's own RenewToken made,
// a delete by sm.Iterate) the held delete runs now, before the save. It reports false when
// the delete failed: the answer is then otlogin's 503.
func (w *sessionWriter) settleDelete() bool {
	a, st := w.a, w.st
	ctx := w.r.Context()
	token := a.sm.Token(ctx)
	renewed := token != "" && token != st.loadedToken
	if renewed && st.loadedAuth != nil && !st.signedIn && a.sm.GetBytes(ctx, keyAuth) != nil {
		st.keepLoaded = true
		a.renewIgnored()
		return true
	}
	// The app asked for this delete: a browser that gave up does not cancel it.
	if err := a.storeDelete(context.WithoutCancel(ctx), st.loadedToken); err != nil {
		w.fail(err)
		return false
	}
	// A signed-in session ended by the app (sm.Destroy): its record of rotated tokens too.
	a.deleteRotated(context.WithoutCancel(ctx), mosaicSessionOf(st.loadedAuth))
	return true
}

// writeCookie writes the session cookie, keeping Cache-Control: no-store when the answer
// already had it (scs adds a weaker no-cache="Set-Cookie").
func (w *sessionWriter) writeCookie(ctx context.Context, token string, expiry time.Time) {
	h := w.ResponseWriter.Header()
	noStore := strings.Contains(h.Get("Cache-Control"), "no-store")
	w.a.sm.WriteSessionCookie(ctx, w.ResponseWriter, token, expiry)
	if noStore {
		h.Set("Cache-Control", "no-store")
	}
}

// fail replaces the answer with a 503 when the session could not be saved.
func (w *sessionWriter) fail(err error) {
	w.replace(errUnavailable(err), "unavailable", errKind(err))
}

// replace answers e instead of the handler's answer (nothing of it was written yet), logs
// outcome, and runs the sign-in's failure hook.
func (w *sessionWriter) replace(e *Error, outcome, kind string) {
	w.failed = true
	if kind != "" {
		w.a.log(w.r.Context(), "session", "", outcome, "", "error", kind)
	} else {
		w.a.log(w.r.Context(), "session", "", outcome, "")
	}
	if hook := w.st.onFailure; hook != nil {
		w.st.onFailure = nil
		hook(w.r.Context())
	}
	h := w.ResponseWriter.Header()
	h.Del("Location")
	h.Del("Set-Cookie")
	h.Del("Clear-Site-Data")
	h.Del("Content-Length")
	setSecurityHeaders(h)
	if wantsJSON(w.r) {
		writeJSON(w.ResponseWriter, e.Status, map[string]string{"error": e.Code, "message": e.Message})
		return
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	w.ResponseWriter.WriteHeader(e.Status)
	_, _ = w.ResponseWriter.Write([]byte(e.Message + "\n"))
}

// reconcile runs before a session loaded from the store is saved again. It reports false
// when the session is gone from the store (a logout meanwhile: saving would resurrect it).
// When this request did not change the signed-in state but the store's copy did change
// (another instance refreshed the tokens), the store's state is kept, so this save cannot
// bring back a refresh token Mosaic has already rotated away.
func (a *Auth) reconcile(ctx context.Context, st *reqState, token string) (bool, error) {
	stored, found, err := a.storedAuthBytes(ctx, token)
	if err != nil || !found {
		return found, err
	}
	mine := a.sm.GetBytes(ctx, keyAuth)
	if bytes.Equal(mine, st.loadedAuth) && !bytes.Equal(mine, stored) && stored != nil && mine != nil {
		a.sm.Put(ctx, keyAuth, stored)
	}
	return true, nil
}

// UpdateStore is an optional ability of a session store (found by type assertion, like
// [scs.CtxStore]): an atomic "update only if it still exists" write. otlogin saves every
// session it loaded from the store with it, so a request that loaded a session before a
// logout (on this or another instance) deleted it cannot write it back. New sessions (a
// first save, or a sign-in after the token was renewed) are inserts through Commit.
// [MemoryStore] and package store's stores implement it.
type UpdateStore interface {
	// UpdateCtx replaces the data and expiry of token only if token exists (and has not
	// expired), in one atomic step, and reports whether it did. An expiry that is not in
	// the future deletes the token if it exists. It never creates a token.
	UpdateCtx(ctx context.Context, token string, b []byte, expiry time.Time) (updated bool, err error)
}

// saveLoaded saves the session of ctx, which was loaded from the store under token, only
// while token still exists there. It reports false, saving nothing, when the session is
// gone (a logout meanwhile). With an [UpdateStore] the check and the write are one atomic
// store operation; with another store they are two calls, and a logout between them is
// undone (the residual window the README describes).
func (a *Auth) saveLoaded(ctx context.Context, st *reqState, token string) (time.Time, bool, error) {
	if st.loadedAuth != nil {
		// Keep tokens another instance rotated meanwhile; this also reports a session
		// already gone, sparing the write.
		found, err := a.reconcile(ctx, st, token)
		if err != nil || !found {
			return time.Time{}, false, err
		}
	}
	us, update := a.sm.Store.(UpdateStore)
	if !update && st.loadedAuth == nil {
		found, err := a.storeHas(ctx, token)
		if err != nil || !found {
			return time.Time{}, false, err
		}
	}
	// Encoded here rather than by sm.Commit, which writes under scs's token: token may be
	// the loaded one that a renewed session keeps (see settleDelete).
	expiry := a.sm.Deadline(ctx)
	keys := a.sm.Keys(ctx)
	values := make(map[string]any, len(keys))
	for _, k := range keys {
		values[k] = a.sm.Get(ctx, k)
	}
	b, err := a.sm.Codec.Encode(expiry, values)
	if err != nil {
		return time.Time{}, false, err
	}
	if !update {
		err := a.storeCommit(ctx, a.storeKey(token), b, expiry)
		return expiry, err == nil, err
	}
	updated, err := us.UpdateCtx(ctx, a.storeKey(token), b, expiry)
	return expiry, updated, err
}
