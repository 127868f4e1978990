package otlogin

import (
	"context"
	"strings"

	"github.com/alexedwards/scs/v2"
)

// This file gives the app's session manager (Config.Sessions) sm.Iterate over real
// sessions. Besides sessions, otlogin keeps records of its own in the session store (see
// recordKeyPrefix); iteration through the guard New puts in front of the manager's store
// leaves them out. The guard claims iteration ([scs.IterableStore], [scs.IterableCtxStore])
// only when the store behind it can iterate, as scs's own stores do: sm.Iterate on a store
// that cannot panics in scs, as it would without otlogin.

// recordKeyPrefix starts the store key of every record otlogin keeps in the session store
// besides sessions: the latest code flow of an address (latestOTPKey), the address a link
// was sent to (linkRecordKey), the newest tokens of a Mosaic session (rotatedKey). Each is
// the prefix, a kind and hex digits: longer than scs's 43-character tokens, so none is a
// session's key.
const recordKeyPrefix = "otlogin-"

// isRecordKey reports whether a store key is one of otlogin's records, not a session.
func isRecordKey(key string) bool { return strings.HasPrefix(key, recordKeyPrefix) }

// sessionsOnly removes otlogin's records from the result of a store's iteration.
func sessionsOnly(all map[string][]byte, err error) (map[string][]byte, error) {
	if err != nil {
		return nil, err
	}
	for k := range all {
		if isRecordKey(k) {
			delete(all, k)
		}
	}
	return all, nil
}

// guardIteration is the iteration of a guard over a store that can iterate.
type guardIteration struct{ g *guardStore }

// AllCtx implements [scs.IterableCtxStore] for sm.Iterate: the store's sessions, without
// otlogin's records.
func (i guardIteration) AllCtx(ctx context.Context) (map[string][]byte, error) {
	if is, ok := i.g.s.(scs.IterableCtxStore); ok {
		return sessionsOnly(is.AllCtx(ctx))
	}
	return sessionsOnly(i.g.s.(scs.IterableStore).All())
}

// All implements [scs.IterableStore]: AllCtx with context.Background().
func (i guardIteration) All() (map[string][]byte, error) {
	return i.AllCtx(context.Background())
}

// The guard variants of guard.go, with iteration.
type (
	iterGuardStore struct {
		*guardStore
		guardIteration
	}
	iterGuardUpdateStore struct {
		guardUpdateStore
		guardIteration
	}
	iterGuardLimiterStore struct {
		guardLimiterStore
		guardIteration
	}
	iterGuardUpdateLimiterStore struct {
		guardUpdateLimiterStore
		guardIteration
	}
)

// withIteration returns g with iteration when the store behind it can iterate, else g.
func withIteration(g guarded) guarded {
	s := g.base().s
	_, ctxIter := s.(scs.IterableCtxStore)
	_, iter := s.(scs.IterableStore)
	if !ctxIter && !iter {
		return g
	}
	it := guardIteration{g.base()}
	switch v := g.(type) {
	case *guardStore:
		return iterGuardStore{v, it}
	case guardUpdateStore:
		return iterGuardUpdateStore{v, it}
	case guardLimiterStore:
		return iterGuardLimiterStore{v, it}
	case guardUpdateLimiterStore:
		return iterGuardUpdateLimiterStore{v, it}
	}
	return g // a variant this switch does not know: TestGuardKeepsStoreAbilities fails
}
