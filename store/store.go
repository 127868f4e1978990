package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/otlogin/otlogin"
)

// Kinds of [Store], as reported by [Store.Kind].
const (
	KindMemory   = "memory"
	KindRedis    = "redis"
	KindPostgres = "postgres"
)

// ErrClosed is returned by the methods of a [Store] after [Store.Close].
var ErrClosed = errors.New("store: closed")

// backend is what each kind of store implements.
type backend interface {
	FindCtx(ctx context.Context, token string) ([]byte, bool, error)
	CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error
	DeleteCtx(ctx context.Context, token string) error
	UpdateCtx(ctx context.Context, token string, b []byte, expiry time.Time) (bool, error)
	AllCtx(ctx context.Context) (map[string][]byte, error)
	Close() error
}

// Store is a session store for scs, chosen by URL in [Open]. It implements both [scs.Store]
// and [scs.CtxStore]; scs uses the context-aware methods, so a request's deadline bounds
// every store call. It also implements [otlogin.UpdateStore], the atomic "update only if it
// still exists" write otlogin saves loaded sessions with (Redis: SET ... XX; PostgreSQL:
// UPDATE ... WHERE token = $1; memory: under the store's lock), and iteration
// ([scs.IterableCtxStore], for sm.Iterate: see [Store.AllCtx]) on every backend. A Store is
// safe for concurrent use.
type Store struct {
	kind      string
	b         backend
	limiter   otlogin.Limiter // nil for memory
	closeOnce sync.Once
	closeErr  error
	mu        sync.RWMutex
	closed    bool
}

var (
	_ scs.Store               = (*Store)(nil)
	_ scs.CtxStore            = (*Store)(nil)
	_ scs.IterableStore       = (*Store)(nil)
	_ scs.IterableCtxStore    = (*Store)(nil)
	_ otlogin.UpdateStore     = (*Store)(nil)
	_ otlogin.LimiterProvider = (*Store)(nil)
	_ otlogin.Limiter         = (*RedisLimiter)(nil)
	_ otlogin.Limiter         = (*PostgresLimiter)(nil)
)

// Open returns the session store described by rawURL:
//
//   - "" or "memory": an in-process store, [otlogin.NewMemoryStore] (one instance only;
//     sessions are lost on restart).
//   - "redis://[user:password@]host:port/db?options" or "rediss://..." (TLS): Redis, through
//     go-redis and scs's goredisstore. Options are go-redis's URL options (dial_timeout,
//     read_timeout, write_timeout, pool_size, max_retries, ...) plus key_prefix (default: session
//     keys "scs:session:<token>", rate-limit keys "otlogin:rl:<key>"; with key_prefix=P they are
//     "P" + "session:<token>" and "P" + "rl:<key>").
//   - "postgres://user:password@host:port/db?options" or "postgresql://...": PostgreSQL through a
//     pgx pool. Options are pgx's and pgxpool's (connect_timeout, sslmode, pool_max_conns,
//     search_path, ...). The tables are created when missing (see the package documentation).
//
// Defaults when the URL does not set them: Redis dial timeout 5s, read and write timeouts 3s,
// pool size 10 per CPU, 3 retries (max_retries; each retry dials at most once); PostgreSQL
// connect timeout 5s, 10 connections at most. A store call also ends with its context, so a
// request's deadline bounds it.
//
// Open checks that the server answers, within ctx's deadline. Errors name the kind and the
// address, never the password. Call [Store.Close] when done.
func Open(ctx context.Context, rawURL string) (*Store, error) {
	if rawURL == "" || rawURL == KindMemory {
		return &Store{kind: KindMemory, b: memoryBackend{otlogin.NewMemoryStore()}}, nil
	}
	secrets := urlSecrets(rawURL)
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Parse errors quote the whole URL, password included: keep only a redacted copy.
		return nil, fmt.Errorf("store: invalid store URL: %w", redact(err, secrets))
	}
	var s *Store
	switch strings.ToLower(u.Scheme) {
	case "redis", "rediss":
		s, err = openRedis(ctx, u, secrets)
	case "postgres", "postgresql":
		s, err = openPostgres(ctx, u, secrets)
	default:
		return nil, fmt.Errorf("store: unsupported store URL scheme %q (want memory, redis, rediss, postgres or postgresql)", u.Scheme)
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// memoryBackend is the memory kind: otlogin's [otlogin.MemoryStore], which starts no
// goroutine, so Close has nothing to stop. A call whose context is done fails like it does
// on the other backends.
type memoryBackend struct{ m *otlogin.MemoryStore }

func (b memoryBackend) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	return b.m.Find(token)
}

func (b memoryBackend) CommitCtx(ctx context.Context, token string, data []byte, expiry time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return b.m.Commit(token, data, expiry)
}

func (b memoryBackend) DeleteCtx(ctx context.Context, token string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return b.m.Delete(token)
}

func (b memoryBackend) UpdateCtx(ctx context.Context, token string, data []byte, expiry time.Time) (bool, error) {
	return b.m.UpdateCtx(ctx, token, data, expiry)
}

func (b memoryBackend) AllCtx(ctx context.Context) (map[string][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return b.m.All()
}

func (memoryBackend) Close() error { return nil }

// Kind reports the backend: "memory", "redis" or "postgres".
func (s *Store) Kind() string { return s.kind }

// Limiter returns a rate limiter that shares its counts through the store's backend
// ([*RedisLimiter] or [*PostgresLimiter]), so every instance using the same server sees the
// same counts. It implements [otlogin.LimiterProvider]: [otlogin.New] uses it when
// Config.Limiter is nil. For the memory store it returns a nil interface (counts would not be
// shared anyway), and otlogin.New then falls back to its in-memory limiter.
func (s *Store) Limiter() otlogin.Limiter {
	if s.limiter == nil {
		return nil // an untyped nil, so the caller's nil check sees it
	}
	return s.limiter
}

// Close stops the store's background goroutines and closes its connection pool (the memory
// store has neither, so there is nothing to stop). It is safe to
// call more than once; later calls return the first call's result. Calls to the other methods
// after Close return [ErrClosed].
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.closeErr = s.b.Close()
	})
	return s.closeErr
}

func (s *Store) isClosed() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.closed
}

// FindCtx returns the data of the session token. found is false, with a nil error, when the
// token is unknown or expired; a non-nil error means the backend failed (it is never reported
// as "not found").
func (s *Store) FindCtx(ctx context.Context, token string) (b []byte, found bool, err error) {
	if s.isClosed() {
		return nil, false, ErrClosed
	}
	b, found, err = s.b.FindCtx(ctx, token)
	if err != nil {
		return nil, false, fmt.Errorf("store: %s find: %w", s.kind, err)
	}
	return b, found, nil
}

// CommitCtx stores data under the session token until expiry, replacing what was there.
// An expiry that is not in the future deletes the token.
func (s *Store) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	if s.isClosed() {
		return ErrClosed
	}
	if err := s.b.CommitCtx(ctx, token, b, expiry); err != nil {
		return fmt.Errorf("store: %s commit: %w", s.kind, err)
	}
	return nil
}

// DeleteCtx removes the session token; deleting an unknown token is not an error.
func (s *Store) DeleteCtx(ctx context.Context, token string) error {
	if s.isClosed() {
		return ErrClosed
	}
	if err := s.b.DeleteCtx(ctx, token); err != nil {
		return fmt.Errorf("store: %s delete: %w", s.kind, err)
	}
	return nil
}

// UpdateCtx replaces the data and expiry of the session token only if it exists (and has
// not expired), atomically, and reports whether it did ([otlogin.UpdateStore]). It never
// creates a token; an expiry that is not in the future deletes it.
func (s *Store) UpdateCtx(ctx context.Context, token string, b []byte, expiry time.Time) (bool, error) {
	if s.isClosed() {
		return false, ErrClosed
	}
	updated, err := s.b.UpdateCtx(ctx, token, b, expiry)
	if err != nil {
		return false, fmt.Errorf("store: %s update: %w", s.kind, err)
	}
	return updated, nil
}

// AllCtx returns every unexpired record of the store, keyed by token: what sm.Iterate
// visits ([scs.IterableCtxStore]). Every backend iterates: memory walks its parts, Redis
// scans the keys under the store's session key prefix (SCAN, then MGET in batches: keys of
// another key_prefix are never read), PostgreSQL selects the unexpired rows of its sessions
// table (in the schema of search_path). It is not one snapshot: a session written or
// deleted while it runs may be missed or included.
//
// The records otlogin keeps in the session store besides sessions (keys starting
// "otlogin-") are included: sm.Iterate on a manager given to otlogin.New as Config.Sessions
// skips them (otlogin's guard in front of the manager's store filters them out).
func (s *Store) AllCtx(ctx context.Context) (map[string][]byte, error) {
	if s.isClosed() {
		return nil, ErrClosed
	}
	all, err := s.b.AllCtx(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: %s all: %w", s.kind, err)
	}
	return all, nil
}

// All is [Store.AllCtx] with context.Background(); scs calls AllCtx instead.
func (s *Store) All() (map[string][]byte, error) {
	return s.AllCtx(context.Background())
}

// Find is [Store.FindCtx] with context.Background(); scs calls FindCtx instead.
func (s *Store) Find(token string) ([]byte, bool, error) {
	return s.FindCtx(context.Background(), token)
}

// Commit is [Store.CommitCtx] with context.Background(); scs calls CommitCtx instead.
func (s *Store) Commit(token string, b []byte, expiry time.Time) error {
	return s.CommitCtx(context.Background(), token, b, expiry)
}

// Delete is [Store.DeleteCtx] with context.Background(); scs calls DeleteCtx instead.
func (s *Store) Delete(token string) error {
	return s.DeleteCtx(context.Background(), token)
}
