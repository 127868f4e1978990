// Package store provides session stores for github.com/alexedwards/scs/v2, chosen by URL, and
// rate limiters shared through the same backend, so that several instances of an app behind a
// load balancer see the same sessions and the same counts.
//
// [Open] takes "memory" (or ""), a Redis URL ("redis://", "rediss://") or a PostgreSQL URL
// ("postgres://", "postgresql://"). The returned [*Store] implements [scs.Store] and
// [scs.CtxStore]; scs calls the context-aware methods, so a request's deadline bounds every
// store call, and a backend failure is always an error, never "session not found". It also
// implements [otlogin.UpdateStore] ([Store.UpdateCtx]): an atomic "update only if it still
// exists" write, which otlogin uses for every save of a session it loaded, so a request that
// loaded a session before a logout cannot write it back (Redis: SET ... XX PX; PostgreSQL:
// UPDATE ... WHERE token = $1, the row count telling whether it existed; memory: under the
// store's lock). Every backend iterates ([scs.IterableCtxStore], for sm.Iterate: see
// [Store.AllCtx]): Redis scans the keys under its own prefix only, PostgreSQL reads the
// sessions table of its search_path.
//
// # Backends
//
//   - Memory: one process only; sessions are lost on restart. It is [otlogin.MemoryStore],
//     the store otlogin.New uses by default: it behaves like scs's memstore (expired sessions
//     are never found) but starts no goroutine (commits drop expired sessions incrementally,
//     one part of the store at a time, a whole pass a minute), so [Store.Close] has nothing to
//     stop for it.
//   - Redis: go-redis with scs's goredisstore, used as is (keys "scs:session:<token>";
//     TestInteropGoredisstore shows a separate goredisstore reads what this one writes). Only
//     Commit with an expiry already past is intercepted: goredisstore would store the key with
//     no TTL, so it is deleted instead. A command that meets a connection broken by a Redis
//     restart is retried on a fresh connection (go-redis also checks idle connections before
//     reuse). While Redis is down a call fails after its retries (tens of milliseconds when
//     connections are refused); once go-redis has failed to dial pool-size times it probes
//     Redis once a second, so calls made in the second after Redis returns may still fail.
//     A Redis without persistence loses its sessions, which signs users out.
//   - PostgreSQL: a pgx pool, and the table of scs's pgxstore (token, data, expiry). The three
//     session statements are pgxstore's (same SQL, same table), but run by this package with
//     the caller's context: the pgxstore version this module pins has no context-aware methods
//     (it uses context.Background(), so a slow database would hold a request past its
//     deadline), and its StopCleanup races with its cleanup goroutine. The data is the same:
//     pgxstore.New on the same table reads and writes the same sessions (TestInteropPgxstore).
//     Expired sessions are swept every 5 minutes.
//
// # PostgreSQL tables
//
// Open creates, when missing, the tables "sessions" (with index on expiry) and
// "otlogin_rate_limits" (key, count, window_end), in one transaction that holds
// pg_advisory_xact_lock, so instances starting at once do not race. The database user needs
// the right to create them, or they can be created beforehand with the same definitions. A
// search_path URL parameter (e.g. ?search_path=myapp) puts them in that schema, which Open
// creates when missing.
//
// # Rate limits
//
// [Store.Limiter] returns a fixed-window [otlogin.Limiter] ([*RedisLimiter]: one Lua script
// call per check, keys "otlogin:rl:<key>" that expire with their window; [*PostgresLimiter]:
// one INSERT ... ON CONFLICT statement per check, old rows deleted lazily), or nil for the
// memory store. A *Store is an [otlogin.LimiterProvider], so passing it as
// otlogin.Config.SessionStore (with Config.Limiter nil) makes every instance share its rate
// limits with no further code. Backend errors are returned; otlogin then fails closed (503).
//
// # Errors
//
// Errors start with "store:", name the backend and address, and never contain the URL's
// password.
package store
