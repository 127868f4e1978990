package idtoken

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestVerifyGoodToken(t *testing.T) {
	t.Parallel()
	keys := verifierTestKeys()
	p := newVerifierTestIdP(t, verifierTestJWK(keys[0], "k1"))
	clock := newVerifierTestClock()
	v := newVerifierForTest(t, p, clock, nil)

	now := clock.Now()
	raw := verifierTestMint(t, jose.RS256, keys[0], "k1", verifierTestClaims(now), nil)
	c, err := v.Verify(context.Background(), raw)
	require.NoError(t, err)
	assert.Equal(t, "user-1", c.Subject)
	assert.Equal(t, "alice@example.com", c.Email)
	assert.True(t, c.EmailVerified)
	assert.Equal(t, "+15555550100", c.PhoneNumber)
	assert.False(t, c.PhoneNumberVerified)
	assert.Equal(t, []string{"eml"}, c.AMR)
	assert.True(t, c.AuthTime.Equal(now))
	assert.True(t, c.IssuedAt.Equal(now))
	assert.True(t, c.Expiry.Equal(now.Add(time.Hour)))
	assert.Equal(t, verifierTestIssuer, c.Issuer)
	assert.Equal(t, []string{verifierTestClientID}, c.Audience)
	var raws map[string]any
	require.NoError(t, json.Unmarshal(c.Raw, &raws))
	assert.Equal(t, "user-1", raws["sub"])

	// Second verification uses the cached discovery and keys.
	_, err = v.Verify(context.Background(), raw)
	require.NoError(t, err)
	assert.Equal(t, int64(1), p.discoveryFetches.Load(), "discovery is cached")
	assert.Equal(t, int64(1), p.jwksFetches.Load(), "JWKS is cached")
}

func TestVerifyRejectsAndAccepts(t *testing.T) {
	t.Parallel()
	keys := verifierTestKeys()
	p := newVerifierTestIdP(t, verifierTestJWK(keys[0], "k1"))
	clock := newVerifierTestClock()
	v := newVerifierForTest(t, p, clock, nil) // default leeway 1m
	now := clock.Now()

	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	pubDER, err := x509.MarshalPKIXPublicKey(&keys[0].PublicKey)
	require.NoError(t, err)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})

	rs := func(edit func(map[string]any)) string {
		c := verifierTestClaims(now)
		if edit != nil {
			edit(c)
		}
		return verifierTestMint(t, jose.RS256, keys[0], "k1", c, nil)
	}
	enc := base64.RawURLEncoding.EncodeToString
	claimsJSON, err := json.Marshal(verifierTestClaims(now))
	require.NoError(t, err)

	tests := []struct {
		name   string
		token  string
		accept bool
	}{
		{"good", rs(nil), true},
		{"wrong issuer eu vs us", rs(func(c map[string]any) { c["iss"] = "https://eu.userid.security" }), false},
		{"issuer trailing slash", rs(func(c map[string]any) { c["iss"] = verifierTestIssuer + "/" }), false},
		{"issuer missing", rs(func(c map[string]any) { delete(c, "iss") }), false},
		{"aud mismatch", rs(func(c map[string]any) { c["aud"] = "other-client" }), false},
		{"access token aud", rs(func(c map[string]any) { c["aud"] = "userid-api" }), false},
		{"multiple aud containing ours, no azp", rs(func(c map[string]any) { c["aud"] = []string{"other", verifierTestClientID} }), false},
		{"multiple aud without ours", rs(func(c map[string]any) { c["aud"] = []string{"other", "third"} }), false},
		{"azp not ours", rs(func(c map[string]any) { c["azp"] = "other" }), false},
		{"no sub", rs(func(c map[string]any) { delete(c, "sub") }), false},
		{"no exp", rs(func(c map[string]any) { delete(c, "exp") }), false},
		{"exp huge", rs(func(c map[string]any) { c["exp"] = 1e300 }), false},
		{"exp string", rs(func(c map[string]any) { c["exp"] = "tomorrow" }), false},
		{"exp negative", rs(func(c map[string]any) { c["exp"] = -5 }), false},
		{"expired beyond leeway (now-1m-1s)", rs(func(c map[string]any) { c["exp"] = now.Add(-time.Minute - time.Second).Unix() }), false},
		{"expired within leeway (now-59s)", rs(func(c map[string]any) { c["exp"] = now.Add(-59 * time.Second).Unix() }), true},
		{"expired exactly leeway ago", rs(func(c map[string]any) { c["exp"] = now.Add(-time.Minute).Unix() }), true},
		{"exp as float", rs(func(c map[string]any) { c["exp"] = float64(now.Add(time.Hour).Unix()) + 0.5 }), true},
		{"nbf beyond leeway (now+1m+1s)", rs(func(c map[string]any) { c["nbf"] = now.Add(time.Minute + time.Second).Unix() }), false},
		{"nbf 4m in future (go-oidc would accept)", rs(func(c map[string]any) { c["nbf"] = now.Add(4 * time.Minute).Unix() }), false},
		{"nbf within leeway (now+59s)", rs(func(c map[string]any) { c["nbf"] = now.Add(59 * time.Second).Unix() }), true},
		{"nbf in past", rs(func(c map[string]any) { c["nbf"] = now.Add(-time.Hour).Unix() }), true},
		{"iat beyond leeway", rs(func(c map[string]any) { c["iat"] = now.Add(2 * time.Minute).Unix() }), false},
		{"iat within leeway", rs(func(c map[string]any) { c["iat"] = now.Add(30 * time.Second).Unix() }), true},
		{"email not a string", rs(func(c map[string]any) { c["email"] = 42 }), false},
		{"email_verified as string", rs(func(c map[string]any) { c["email_verified"] = "true" }), true},
		{"alg none", enc([]byte(`{"alg":"none","kid":"k1"}`)) + "." + enc(claimsJSON) + ".", false},
		{"HS256 with public key bytes", verifierTestMint(t, jose.HS256, pubPEM, "k1", verifierTestClaims(now), nil), false},
		{"HS256 with public key DER", verifierTestMint(t, jose.HS256, pubDER, "k1", verifierTestClaims(now), nil), false},
		{"ES256", verifierTestMint(t, jose.ES256, ecKey, "k1", verifierTestClaims(now), nil), false},
		{"RS256 wrong key same kid", verifierTestMint(t, jose.RS256, keys[1], "k1", verifierTestClaims(now), nil), false},
		{"PS256", verifierTestMint(t, jose.PS256, keys[0], "k1", verifierTestClaims(now), nil), false},
		{"RS512", verifierTestMint(t, jose.RS512, keys[0], "k1", verifierTestClaims(now), nil), false},
		{"tampered payload", func() string {
			parts := strings.Split(rs(nil), ".")
			c := verifierTestClaims(now)
			c["sub"] = "admin"
			b, _ := json.Marshal(c)
			return parts[0] + "." + enc(b) + "." + parts[2]
		}(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.Verify(context.Background(), tt.token)
			if tt.accept {
				require.NoError(t, err)
				assert.Equal(t, "user-1", c.Subject)
				return
			}
			require.Error(t, err)
			assert.Nil(t, c)
			assert.True(t, strings.HasPrefix(err.Error(), "otlogin:"), "error %q starts with otlogin:", err)
			assert.NotContains(t, err.Error(), tt.token, "error must not contain the token")
			for _, part := range strings.Split(tt.token, ".") {
				if len(part) > 16 {
					assert.NotContains(t, err.Error(), part, "error must not contain a token part")
				}
			}
		})
	}
	assert.Equal(t, int64(1), p.jwksFetches.Load(), "no case with the cached kid refetches the JWKS")
}

func TestVerifyLeewayConfigured(t *testing.T) {
	t.Parallel()
	keys := verifierTestKeys()
	p := newVerifierTestIdP(t, verifierTestJWK(keys[0], "k1"))
	clock := newVerifierTestClock()
	v := newVerifierForTest(t, p, clock, func(c *Config) { c.Leeway = 5 * time.Second })
	now := clock.Now()
	tests := []struct {
		name   string
		claim  string
		at     time.Time
		accept bool
	}{
		{"exp now-6s", "exp", now.Add(-6 * time.Second), false},
		{"exp now-4s", "exp", now.Add(-4 * time.Second), true},
		{"nbf now+6s", "nbf", now.Add(6 * time.Second), false},
		{"nbf now+4s", "nbf", now.Add(4 * time.Second), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := verifierTestClaims(now)
			c[tt.claim] = tt.at.Unix()
			_, err := v.Verify(context.Background(), verifierTestMint(t, jose.RS256, keys[0], "k1", c, nil))
			if tt.accept {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
			}
		})
	}
}

func TestVerifyIssuerSource(t *testing.T) {
	t.Parallel()
	keys := verifierTestKeys()
	tests := []struct {
		name         string
		discoveryIss string
		configIss    string
		tokenIss     string
		accept       bool
	}{
		{"discovery issuer used", "https://eu.userid.security", "", "https://eu.userid.security", true},
		{"discovery issuer enforced", "https://eu.userid.security", "", "https://userid.security", false},
		{"config issuer overrides discovery", "https://userid.security", "https://acme.app.transmitsecurity.io", "https://acme.app.transmitsecurity.io", true},
		{"config issuer enforced over discovery", "https://userid.security", "https://acme.app.transmitsecurity.io", "https://userid.security", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newVerifierTestIdP(t, verifierTestJWK(keys[0], "k1"))
			p.set(func(p *verifierTestIdP) { p.issuer = tt.discoveryIss })
			clock := newVerifierTestClock()
			v := newVerifierForTest(t, p, clock, func(c *Config) { c.Issuer = tt.configIss })
			c := verifierTestClaims(clock.Now())
			c["iss"] = tt.tokenIss
			got, err := v.Verify(context.Background(), verifierTestMint(t, jose.RS256, keys[0], "k1", c, nil))
			if tt.accept {
				require.NoError(t, err)
				assert.Equal(t, tt.tokenIss, got.Issuer)
			} else {
				require.Error(t, err)
			}
		})
	}
}

func TestVerifyDiscoveryRetriedAfterFailure(t *testing.T) {
	t.Parallel()
	keys := verifierTestKeys()
	p := newVerifierTestIdP(t, verifierTestJWK(keys[0], "k1"))
	clock := newVerifierTestClock()
	var calls atomic.Int64
	v := newVerifierForTest(t, p, clock, func(c *Config) {
		c.Discover = func(ctx context.Context) (Discovery, error) {
			if calls.Add(1) == 1 {
				return Discovery{}, errors.New("discovery down")
			}
			return p.discover(ctx)
		}
	})
	raw := verifierTestMint(t, jose.RS256, keys[0], "k1", verifierTestClaims(clock.Now()), nil)
	_, err := v.Verify(context.Background(), raw)
	require.ErrorIs(t, err, ErrUnavailable)
	_, err = v.Verify(context.Background(), raw)
	require.NoError(t, err, "discovery is retried after a failure")
	_, err = v.Verify(context.Background(), raw)
	require.NoError(t, err)
	assert.Equal(t, int64(2), calls.Load(), "a successful discovery is cached")
}

func TestVerifyMisconfigured(t *testing.T) {
	t.Parallel()
	keys := verifierTestKeys()
	p := newVerifierTestIdP(t, verifierTestJWK(keys[0], "k1"))
	clock := newVerifierTestClock()
	raw := verifierTestMint(t, jose.RS256, keys[0], "k1", verifierTestClaims(clock.Now()), nil)
	tests := []struct {
		name string
		edit func(*Config)
	}{
		{"no client id", func(c *Config) { c.ClientID = "" }},
		{"no discover", func(c *Config) { c.Discover = nil }},
		{"empty issuer", func(c *Config) {
			c.Discover = func(context.Context) (Discovery, error) {
				return Discovery{JWKSURL: p.srv.URL + "/jwks"}, nil
			}
		}},
		{"bad jwks url", func(c *Config) {
			c.Discover = func(context.Context) (Discovery, error) {
				return Discovery{Issuer: verifierTestIssuer, JWKSURL: "file:///etc/passwd"}, nil
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVerifierForTest(t, p, clock, tt.edit)
			_, err := v.Verify(context.Background(), raw)
			require.Error(t, err)
		})
	}
}

// TestVerifyHangs: a hanging discovery or JWKS endpoint makes verify fail after Timeout.
func TestVerifyHangs(t *testing.T) {
	t.Parallel()
	keys := verifierTestKeys()
	tests := []struct {
		name string
		edit func(p *verifierTestIdP, c *Config)
	}{
		{"discovery", func(_ *verifierTestIdP, c *Config) {
			c.Discover = func(ctx context.Context) (Discovery, error) {
				<-ctx.Done()
				return Discovery{}, ctx.Err()
			}
		}},
		{"discovery ignoring its context", func(_ *verifierTestIdP, c *Config) {
			c.Discover = func(ctx context.Context) (Discovery, error) {
				time.Sleep(time.Second)
				return Discovery{}, errors.New("late")
			}
		}},
		{"jwks", func(p *verifierTestIdP, _ *Config) { p.set(func(p *verifierTestIdP) { p.mode = "hang" }) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newVerifierTestIdP(t, verifierTestJWK(keys[0], "k1"))
			clock := newVerifierTestClock()
			v := newVerifierForTest(t, p, clock, func(c *Config) {
				c.Timeout = 50 * time.Millisecond
				tt.edit(p, c)
			})
			_, err := v.Verify(context.Background(), verifierTestMint(t, jose.RS256, keys[0], "k1", verifierTestClaims(clock.Now()), nil))
			require.ErrorIs(t, err, ErrUnavailable)
		})
	}
}

// TestVerifyCallerCancelled: a caller that gives up returns promptly; the shared fetch goes on
// and its result serves later verifications.
func TestVerifyCallerCancelled(t *testing.T) {
	t.Parallel()
	keys := verifierTestKeys()
	p := newVerifierTestIdP(t, verifierTestJWK(keys[0], "k1"))
	gate := make(chan struct{})
	p.set(func(p *verifierTestIdP) { p.gate = gate })
	clock := newVerifierTestClock()
	v := newVerifierForTest(t, p, clock, nil)
	raw := verifierTestMint(t, jose.RS256, keys[0], "k1", verifierTestClaims(clock.Now()), nil)

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := v.Verify(ctx, raw)
		errc <- err
	}()
	<-p.hit // the JWKS fetch is in progress
	cancel()
	err := <-errc
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, err, ErrUnavailable, "keys not fetched yet is an outage, not a bad token")

	close(gate)
	_, err = v.Verify(context.Background(), raw)
	require.NoError(t, err, "a later verify works")
	assert.Equal(t, int64(1), p.jwksFetches.Load(), "the detached fetch was reused, not repeated")
}

// TestVerifyCallerCancelledDuringDiscovery: a caller that gives up while discovery runs gets
// an error that reads as unavailable, not as an invalid token.
func TestVerifyCallerCancelledDuringDiscovery(t *testing.T) {
	t.Parallel()
	keys := verifierTestKeys()
	p := newVerifierTestIdP(t, verifierTestJWK(keys[0], "k1"))
	clock := newVerifierTestClock()
	started, release := make(chan struct{}), make(chan struct{})
	v := newVerifierForTest(t, p, clock, func(c *Config) {
		discover := c.Discover
		c.Discover = func(ctx context.Context) (Discovery, error) {
			close(started)
			<-release
			return discover(ctx)
		}
	})
	raw := verifierTestMint(t, jose.RS256, keys[0], "k1", verifierTestClaims(clock.Now()), nil)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := v.Verify(ctx, raw)
		errc <- err
	}()
	<-started
	cancel()
	err := <-errc
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, err, ErrUnavailable)
	close(release)
	_, err = v.Verify(context.Background(), raw)
	require.NoError(t, err)
}

// TestVerifyCancelledCallerDoesNotFailOthers: two callers share one discovery and one JWKS
// fetch; the one that started it gives up (ErrUnavailable), the other still gets its answer
// from that same fetch.
func TestVerifyCancelledCallerDoesNotFailOthers(t *testing.T) {
	t.Parallel()
	keys := verifierTestKeys()
	for _, stage := range []string{"discovery", "jwks"} {
		t.Run(stage, func(t *testing.T) {
			t.Parallel()
			p := newVerifierTestIdP(t, verifierTestJWK(keys[0], "k1"))
			clock := newVerifierTestClock()
			var discoveries atomic.Int64
			started, release := make(chan struct{}, 1), make(chan struct{})
			v := newVerifierForTest(t, p, clock, func(c *Config) {
				c.Discover = func(ctx context.Context) (Discovery, error) {
					discoveries.Add(1)
					if stage == "discovery" {
						started <- struct{}{}
						<-release
					}
					return p.discover(ctx)
				}
			})
			if stage == "jwks" {
				p.set(func(p *verifierTestIdP) { p.gate = release })
			}
			raw := verifierTestMint(t, jose.RS256, keys[0], "k1", verifierTestClaims(clock.Now()), nil)

			ctx, cancel := context.WithCancel(context.Background())
			first, second := make(chan error, 1), make(chan error, 1)
			go func() {
				_, err := v.Verify(ctx, raw)
				first <- err
			}()
			if stage == "discovery" {
				<-started
			} else {
				<-p.hit
			}
			go func() {
				_, err := v.Verify(context.Background(), raw)
				second <- err
			}()
			cancel()
			err := <-first
			require.ErrorIs(t, err, context.Canceled)
			require.ErrorIs(t, err, ErrUnavailable)
			close(release)
			require.NoError(t, <-second, "the other caller is not failed by the one that gave up")
			assert.Equal(t, int64(1), discoveries.Load(), "one discovery")
			assert.Equal(t, int64(1), p.jwksFetches.Load(), "one JWKS fetch")
		})
	}
}

func TestVerifyHostileTokens(t *testing.T) {
	t.Parallel()
	keys := verifierTestKeys()
	p := newVerifierTestIdP(t, verifierTestJWK(keys[0], "k1"))
	clock := newVerifierTestClock()
	v := newVerifierForTest(t, p, clock, nil)
	good := verifierTestMint(t, jose.RS256, keys[0], "k1", verifierTestClaims(clock.Now()), nil)
	parts := strings.Split(good, ".")
	tests := []struct {
		name     string
		token    string
		precheck bool // rejected before discovery or parsing
	}{
		{"empty", "", true},
		{"1 MiB", strings.Repeat("a", 1<<20), true},
		{"just over cap", strings.Repeat("a", maxTokenBytes-2) + ".a.a", true},
		{"100k dots", strings.Repeat(".", 100_000), true},
		{"20 dots", strings.Repeat("a.", 20) + "a", true},
		{"JWE shape (4 dots), no decryption key", "a.b.c.d.e", false},
		{"one dot", "a.b", true},
		{"bad base64 header", "!!!." + parts[1] + "." + parts[2], false},
		{"bad base64 payload", parts[0] + ".%%%." + parts[2], false},
		{"bad base64 signature", parts[0] + "." + parts[1] + ".***", false},
		{"non-UTF-8", parts[0] + "." + parts[1] + ".\xff\xfe", false},
		{"JSON serialization", `{"payload":"` + parts[1] + `","signatures":[]}` + "..", false},
		{"deeply nested header", base64.RawURLEncoding.EncodeToString([]byte(strings.Repeat("[", 5000))) + "." + parts[1] + "." + parts[2], false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), tt.token)
			require.Error(t, err)
			if tt.precheck {
				require.Error(t, precheck(tt.token))
				assert.Equal(t, int64(0), p.discoveryFetches.Load(), "rejected before any network call")
			}
			if len(tt.token) > 8 {
				assert.NotContains(t, err.Error(), tt.token)
			}
		})
	}
	_, err := v.Verify(context.Background(), good)
	require.NoError(t, err)
}
