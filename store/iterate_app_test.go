package store_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin"
	"github.com/otlogin/otlogin/internal/apptest"
	"github.com/otlogin/otlogin/internal/apptest/safe"
	"github.com/otlogin/otlogin/store"
	"github.com/otlogin/otlogin/transmit"
)

// iterableBackends are the session stores this repository ships, each as an app would give
// it to its scs manager: package store's Store over memory, Redis (with a key_prefix of its
// own) and PostgreSQL (with a search_path of its own), and otlogin's MemoryStore.
func iterableBackends() []struct {
	name string
	open func(t *testing.T) scs.Store
} {
	return []struct {
		name string
		open func(t *testing.T) scs.Store
	}{
		{"memory", func(t *testing.T) scs.Store { return store.OpenForTest(t, "memory") }},
		{"redis", func(t *testing.T) scs.Store { return store.OpenForTest(t, store.RedisURLForTest(t)) }},
		{"postgres", func(t *testing.T) scs.Store { return store.OpenForTest(t, store.PostgresURLForTest(t)) }},
		{"otlogin-memorystore", func(*testing.T) scs.Store { return otlogin.NewMemoryStore() }},
	}
}

// TestIterateDeactivatesUser: an app that gives otlogin its manager (Config.Sessions) can
// deactivate a user the way scs documents it: sm.Iterate over the sessions, check a value
// of its own, sm.Destroy. It works on every store this repository ships, from an admin
// request served by Middleware and from a background job, and visits the sessions only:
// the records otlogin keeps in the same store (the latest code flow of an address, the
// address of a cross-device link, the tokens after a refresh) are never visited, and the
// record of a destroyed session's rotated tokens is deleted with it.
func TestIterateDeactivatesUser(t *testing.T) {
	t.Parallel()
	for _, b := range iterableBackends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			st := b.open(t)
			sm := scs.New()
			sm.Store = st
			sm.Cookie.Name = "otlogin" // what apptest's browsers read
			clock := safe.NewClock()
			var mu sync.Mutex
			var visited []string // tokens sm.Iterate's last run visited
			// deactivate destroys the sessions whose "user" is email, and reports how many.
			deactivate := func(ctx context.Context, email string) (int, error) {
				mu.Lock()
				defer mu.Unlock()
				visited = visited[:0]
				n := 0
				err := sm.Iterate(ctx, func(ctx context.Context) error {
					visited = append(visited, sm.Token(ctx))
					if sm.GetString(ctx, "user") != email {
						return nil
					}
					n++
					return sm.Destroy(ctx)
				})
				return n, err
			}
			c := apptest.New(t, apptest.Options{Store: st, Instances: 1,
				Config: func(cfg *otlogin.Config) {
					cfg.SessionStore, cfg.Sessions = nil, sm
					cfg.Now = clock.Now
					cfg.IdleTimeout = 2 * time.Hour // the clock jumps to an access token's expiry
					cfg.RevalidateEvery = -1
					cfg.AllowCrossDevice = true // a link send writes its address record
				},
				Routes: func(_ int, a *otlogin.Auth, mux *http.ServeMux) {
					// The app keeps its own note of who is signed in.
					mux.Handle("GET /app/remember", a.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						u, _ := otlogin.UserFromContext(r.Context())
						sm.Put(r.Context(), "user", u.Email)
					})))
					mux.HandleFunc("GET /admin/deactivate", func(w http.ResponseWriter, r *http.Request) {
						n, err := deactivate(r.Context(), r.URL.Query().Get("user"))
						if err != nil {
							http.Error(w, err.Error(), http.StatusInternalServerError)
							return
						}
						_, _ = fmt.Fprintf(w, "destroyed %d", n)
					})
				},
			})
			ada, bob := "ada-"+b.name+"@example.com", "bob-"+b.name+"@example.com"
			c.Emu.CreateUser(ada, "")
			c.Emu.CreateUser(bob, "")
			browsers := map[string][]*apptest.Client{}
			for _, email := range []string{ada, ada, bob} {
				cl := c.SignedIn(0, 0, email)
				require.Equal(t, http.StatusOK, cl.Get(0, "/app/remember").Status)
				browsers[email] = append(browsers[email], cl)
			}
			visitor := c.NewClient() // a pending link: a session holding a flow, and a record
			require.Equal(t, http.StatusAccepted, visitor.PostJSON(0, "/auth/link/email/send", map[string]string{"email": ada}).Status)
			clock.Advance(59*time.Minute + 45*time.Second) // bob's access token is due
			require.Equal(t, http.StatusOK, browsers[bob][0].Get(0, "/api/token").Status)
			require.Equal(t, http.StatusOK, browsers[ada][0].Get(0, "/api/token").Status)
			rotated := func() int {
				all, err := st.(scs.IterableStore).All()
				require.NoError(t, err)
				n := 0
				for k := range all {
					if strings.HasPrefix(k, "otlogin-rotated-") {
						n++
					}
				}
				return n
			}
			require.Equal(t, 2, rotated(), "ada's and bob's refreshes each left a record of rotated tokens")

			raw, err := st.(scs.IterableStore).All()
			require.NoError(t, err)
			records := map[string]bool{}
			for k := range raw {
				for _, kind := range []string{"otp", "link", "rotated"} {
					if strings.HasPrefix(k, "otlogin-"+kind+"-") {
						records[kind] = true
					}
				}
			}
			require.Len(t, records, 3, "the store holds otlogin's records of every kind: %v", records)

			status := func(cl *apptest.Client) int { return cl.Get(0, "/api/me").Status }
			r := browsers[bob][0].Get(0, "/admin/deactivate?user="+ada)
			require.Equal(t, http.StatusOK, r.Status, r.Body)
			assert.Equal(t, "destroyed 2", r.Body, "both of ada's browsers")
			mu.Lock()
			assert.Len(t, visited, 4, "the 4 sessions (3 signed in, 1 pending), no record: %v", visited)
			for _, tok := range visited {
				assert.False(t, strings.HasPrefix(tok, "otlogin-"), "a record was visited: %s", tok)
			}
			mu.Unlock()
			for _, cl := range browsers[ada] {
				assert.Equal(t, http.StatusUnauthorized, status(cl), "ada is signed out everywhere")
			}
			assert.Equal(t, http.StatusOK, status(browsers[bob][0]), "bob is not")
			assert.Equal(t, 1, rotated(), "the record of ada's ended session went with it; bob's stays")

			// A background job, outside any request.
			n, err := deactivate(context.Background(), bob)
			require.NoError(t, err)
			assert.Equal(t, 1, n)
			assert.Equal(t, http.StatusUnauthorized, status(browsers[bob][0]), "bob is signed out")
			assert.Zero(t, rotated(), "and the record of his session's tokens is gone")
		})
	}
}

// TestIterableOnlyWhenTheStoreIs: after New, a type assertion on the app's sm.Store finds
// iteration exactly when the store behind otlogin's guard has it, as without otlogin:
// package store's Store and otlogin's MemoryStore do, a store without All does not (and
// scs's sm.Iterate then panics, as it does for that store without otlogin).
func TestIterableOnlyWhenTheStoreIs(t *testing.T) {
	t.Parallel()
	client, err := transmit.New(transmit.Config{BaseURL: "http://127.0.0.1:1/cis", ClientID: "id", ClientSecret: "secret"})
	require.NoError(t, err)
	for _, b := range append(iterableBackends(), struct {
		name string
		open func(t *testing.T) scs.Store
	}{"no iteration", func(t *testing.T) scs.Store { return findOnly{store.OpenForTest(t, "memory")} }}) {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			st := b.open(t)
			sm := scs.New()
			sm.Store = st
			_, err := otlogin.New(otlogin.Config{Client: client, PublicURL: "http://127.0.0.1", Sessions: sm, AllowLocalLimits: true,
				Logger: slog.New(slog.DiscardHandler)})
			require.NoError(t, err)
			_, ctxIter := st.(scs.IterableCtxStore)
			_, iter := st.(scs.IterableStore)
			want := ctxIter || iter
			_, iterates := sm.Store.(scs.IterableCtxStore)
			_, iteratesNoCtx := sm.Store.(scs.IterableStore)
			assert.Equal(t, want, iterates, "IterableCtxStore behind %T", sm.Store)
			assert.Equal(t, want, iteratesNoCtx, "IterableStore behind %T", sm.Store)
			if !want {
				assert.Panics(t, func() { _ = sm.Iterate(context.Background(), func(context.Context) error { return nil }) })
			}
		})
	}
}

// findOnly is a session store without iteration (nor context-aware methods).
type findOnly struct{ s *store.Store }

func (f findOnly) Find(token string) ([]byte, bool, error) { return f.s.Find(token) }
func (f findOnly) Commit(token string, b []byte, expiry time.Time) error {
	return f.s.Commit(token, b, expiry)
}
func (f findOnly) Delete(token string) error { return f.s.Delete(token) }
