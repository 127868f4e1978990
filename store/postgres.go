package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PostgreSQL defaults, applied when the URL does not set the option.
const (
	pgConnectTimeout  = 5 * time.Second
	pgMaxConns        = 10
	pgCleanupInterval = 5 * time.Minute
	// pgSetupLockID is the pg_advisory_xact_lock key that serialises table creation between
	// instances starting at once ("otlogin" in ASCII).
	pgSetupLockID int64 = 0x6f746c6f67696e
)

// pgSetupSQL creates the tables when missing. The sessions table is the one scs's pgxstore
// documents, so either can read the other's sessions.
var pgSetupSQL = []string{
	`CREATE TABLE IF NOT EXISTS sessions (
		token TEXT PRIMARY KEY,
		data BYTEA NOT NULL,
		expiry TIMESTAMPTZ NOT NULL
	)`,
	`CREATE INDEX IF NOT EXISTS sessions_expiry_idx ON sessions (expiry)`,
	`CREATE TABLE IF NOT EXISTS otlogin_rate_limits (
		key TEXT PRIMARY KEY,
		count BIGINT NOT NULL,
		window_end TIMESTAMPTZ NOT NULL
	)`,
	`CREATE INDEX IF NOT EXISTS otlogin_rate_limits_window_end_idx ON otlogin_rate_limits (window_end)`,
}

// postgresBackend runs the queries of scs's pgxstore, but with the caller's context: pgxstore
// (the version this module pins) has no context-aware methods, so a slow database would hold a
// request past its deadline, and its StopCleanup races with its cleanup goroutine.
type postgresBackend struct {
	pool *pgxpool.Pool
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

func openPostgres(ctx context.Context, u *url.URL, secrets []string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(u.String())
	if err != nil {
		return nil, fmt.Errorf("store: invalid postgres URL: %w", redact(err, secrets))
	}
	q := u.Query()
	if !q.Has("connect_timeout") {
		cfg.ConnConfig.ConnectTimeout = pgConnectTimeout
	}
	if !q.Has("pool_max_conns") {
		cfg.MaxConns = pgMaxConns
	}
	addr := fmt.Sprintf("%s:%d", cfg.ConnConfig.Host, cfg.ConnConfig.Port)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: cannot reach postgres at %s: %w", addr, redact(err, secrets))
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: cannot reach postgres at %s: %w", addr, redact(err, secrets))
	}
	if err := pgSetup(ctx, pool, cfg.ConnConfig.RuntimeParams["search_path"]); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: setting up postgres tables at %s: %w", addr, redact(err, secrets))
	}
	b := &postgresBackend{pool: pool, stop: make(chan struct{}), done: make(chan struct{})}
	go b.cleanup(pgCleanupInterval)
	return &Store{kind: KindPostgres, b: b, limiter: &PostgresLimiter{pool: pool}}, nil
}

// pgSetup creates the schema named first in searchPath (when given) and the tables, in one
// transaction holding an advisory lock, so instances starting together do not race on
// CREATE ... IF NOT EXISTS (which can fail with a unique violation on the catalog).
func pgSetup(ctx context.Context, pool *pgxpool.Pool, searchPath string) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, pgSetupLockID); err != nil {
			return err
		}
		if schema := firstSchema(searchPath); schema != "" {
			if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{schema}.Sanitize()); err != nil {
				return err
			}
		}
		for _, stmt := range pgSetupSQL {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return err
			}
		}
		return nil
	})
}

// firstSchema returns the first schema of a search_path setting, or "" when there is none or
// it is a special entry such as "$user".
func firstSchema(searchPath string) string {
	first, _, _ := strings.Cut(searchPath, ",")
	first = strings.Trim(strings.TrimSpace(first), `"`)
	if first == "" || strings.HasPrefix(first, "$") || first == "public" || strings.HasPrefix(first, "pg_") {
		return ""
	}
	return first
}

func (p *postgresBackend) cleanup(interval time.Duration) {
	defer close(p.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			// Best effort: a failed sweep is retried at the next tick, and expired rows are
			// never returned by Find anyway.
			_, _ = p.pool.Exec(ctx, `DELETE FROM sessions WHERE expiry < current_timestamp`)
			cancel()
		}
	}
}

func (p *postgresBackend) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	var b []byte
	err := p.pool.QueryRow(ctx, `SELECT data FROM sessions WHERE token = $1 AND current_timestamp < expiry`, token).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return b, true, nil
}

func (p *postgresBackend) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	_, err := p.pool.Exec(ctx, `INSERT INTO sessions (token, data, expiry) VALUES ($1, $2, $3)
		ON CONFLICT (token) DO UPDATE SET data = EXCLUDED.data, expiry = EXCLUDED.expiry`, token, b, expiry)
	return err
}

// UpdateCtx writes with UPDATE ... WHERE token = $1: the row count tells whether the
// session still existed, and a row deleted by a logout is never written back.
func (p *postgresBackend) UpdateCtx(ctx context.Context, token string, b []byte, expiry time.Time) (bool, error) {
	if !time.Now().Before(expiry) {
		tag, err := p.pool.Exec(ctx, `DELETE FROM sessions WHERE token = $1 AND current_timestamp < expiry`, token)
		return err == nil && tag.RowsAffected() > 0, err
	}
	tag, err := p.pool.Exec(ctx, `UPDATE sessions SET data = $2, expiry = $3 WHERE token = $1 AND current_timestamp < expiry`, token, b, expiry)
	return err == nil && tag.RowsAffected() > 0, err
}

// AllCtx selects the unexpired rows of the sessions table (pgxstore's All, with the
// caller's context).
func (p *postgresBackend) AllCtx(ctx context.Context) (map[string][]byte, error) {
	rows, err := p.pool.Query(ctx, `SELECT token, data FROM sessions WHERE current_timestamp < expiry`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[string][]byte)
	for rows.Next() {
		var token string
		var data []byte
		if err := rows.Scan(&token, &data); err != nil {
			return nil, err
		}
		out[token] = data
	}
	return out, rows.Err()
}

func (p *postgresBackend) DeleteCtx(ctx context.Context, token string) error {
	_, err := p.pool.Exec(ctx, `DELETE FROM sessions WHERE token = $1`, token)
	return err
}

func (p *postgresBackend) Close() error {
	p.once.Do(func() {
		close(p.stop)
		<-p.done
		p.pool.Close()
	})
	return nil
}
