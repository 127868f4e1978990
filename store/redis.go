package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/alexedwards/scs/goredisstore"
	"github.com/redis/go-redis/v9"
)

// Redis defaults, applied when the URL does not set the option.
const (
	redisDialTimeout  = 5 * time.Second
	redisReadTimeout  = 3 * time.Second
	redisWriteTimeout = 3 * time.Second
	redisMaxRetries   = 3
	redisSessionKeys  = "scs:session:"
	redisLimiterKeys  = "otlogin:rl:"
)

type redisBackend struct {
	client *redis.Client
	store  *goredisstore.RedisStore
	prefix string // of session keys, as given to goredisstore
}

func openRedis(ctx context.Context, u *url.URL, secrets []string) (*Store, error) {
	// key_prefix is ours: go-redis rejects options it does not know.
	q := u.Query()
	sessionKeys, limiterKeys := redisSessionKeys, redisLimiterKeys
	if q.Has("key_prefix") {
		p := q.Get("key_prefix")
		sessionKeys, limiterKeys = p+"session:", p+"rl:"
		q.Del("key_prefix")
	}
	clean := *u
	clean.RawQuery = q.Encode()
	opt, err := redis.ParseURL(clean.String())
	if err != nil {
		return nil, fmt.Errorf("store: invalid redis URL: %w", redact(err, secrets))
	}
	if !q.Has("dial_timeout") {
		opt.DialTimeout = redisDialTimeout
	}
	if !q.Has("read_timeout") {
		opt.ReadTimeout = redisReadTimeout
	}
	if !q.Has("write_timeout") {
		opt.WriteTimeout = redisWriteTimeout
	}
	if !q.Has("pool_size") {
		opt.PoolSize = 10 * runtime.GOMAXPROCS(0)
	}
	if !q.Has("max_retries") {
		// A command that meets a connection broken by a Redis restart (EOF) is retried on a
		// fresh connection instead of failing the request.
		opt.MaxRetries = redisMaxRetries
	}
	// One dial per attempt: a command is already retried (MaxRetries) on a fresh connection,
	// and go-redis's default of 5 dials per attempt, each up to DialTimeout, would hold a
	// request for up to 4×5 dials while Redis is down. (No URL option sets this.)
	opt.DialerRetries = 1
	// Let a request's deadline cut a slow command short (docs/SECURITY.md S9).
	opt.ContextTimeoutEnabled = true

	client := redis.NewClient(opt)
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("store: cannot reach redis at %s: %w", opt.Addr, redact(err, secrets))
	}
	b := &redisBackend{client: client, store: goredisstore.NewWithPrefix(client, sessionKeys), prefix: sessionKeys}
	return &Store{kind: KindRedis, b: b, limiter: &RedisLimiter{client: client, prefix: limiterKeys}}, nil
}

func (r *redisBackend) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	return r.store.FindCtx(ctx, token)
}

func (r *redisBackend) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	// goredisstore passes expiry.Sub(now) to SET; zero or negative means "no expiry" to
	// go-redis, which would keep a dead session forever.
	if !time.Now().Before(expiry) {
		return r.store.DeleteCtx(ctx, token)
	}
	return r.store.CommitCtx(ctx, token, b, expiry)
}

// UpdateCtx writes with SET ... XX PX: Redis sets the key only if it exists, in one
// command, so a session deleted by a logout is never written back.
func (r *redisBackend) UpdateCtx(ctx context.Context, token string, b []byte, expiry time.Time) (bool, error) {
	key := r.prefix + token
	ttl := time.Until(expiry).Truncate(time.Millisecond)
	if ttl <= 0 {
		n, err := r.client.Del(ctx, key).Result()
		return n > 0, err
	}
	err := r.client.SetArgs(ctx, key, b, redis.SetArgs{Mode: "XX", TTL: ttl}).Err()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	return err == nil, err
}

// redisScanBatch is the COUNT hint of each SCAN of AllCtx, and so about the number of keys
// read by one MGET.
const redisScanBatch = 500

// AllCtx scans the keys under the session prefix and reads them with MGET, one batch per
// SCAN reply. A key that expired or was deleted between the two is skipped, as is a value
// that is not a string. The prefix is matched literally: its glob characters are escaped
// in the pattern, and each key is checked again.
func (r *redisBackend) AllCtx(ctx context.Context) (map[string][]byte, error) {
	out := make(map[string][]byte)
	pattern := redisGlobEscape(r.prefix) + "*"
	var cursor uint64
	for {
		keys, next, err := r.client.Scan(ctx, cursor, pattern, redisScanBatch).Result()
		if err != nil {
			return nil, err
		}
		mine := keys[:0]
		for _, k := range keys {
			if strings.HasPrefix(k, r.prefix) {
				mine = append(mine, k)
			}
		}
		if len(mine) > 0 {
			vals, err := r.client.MGet(ctx, mine...).Result()
			if err != nil {
				return nil, err
			}
			for i, v := range vals {
				if s, ok := v.(string); ok {
					out[mine[i][len(r.prefix):]] = []byte(s)
				}
			}
		}
		if next == 0 {
			return out, nil
		}
		cursor = next
	}
}

// redisGlobEscape escapes the characters Redis's MATCH patterns give a meaning to.
func redisGlobEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func (r *redisBackend) DeleteCtx(ctx context.Context, token string) error {
	return r.store.DeleteCtx(ctx, token)
}

func (r *redisBackend) Close() error {
	if err := r.client.Close(); err != nil {
		return fmt.Errorf("store: closing redis client: %w", err)
	}
	return nil
}
