package transmit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"golang.org/x/sync/singleflight"
)

// maxBodyBytes caps how much of any answer is read.
const maxBodyBytes = 1 << 20

// Client calls Mosaic's backend One-Time Login, sessions and users endpoints with a cached
// client access token. It is safe for concurrent use. Create it with [New].
type Client struct {
	cfg    Config
	tokens *tokenCache

	discoGroup singleflight.Group
	discoMu    sync.Mutex
	disco      *Discovery
}

// New validates cfg, applies defaults and returns a Client. It does no network I/O: the
// client token and the discovery document are fetched on first use.
func New(cfg Config) (*Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	hc := cfg.HTTPClient
	c := &Client{cfg: cfg}
	c.tokens = &tokenCache{
		cc: clientcredentials.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			TokenURL:     cfg.TokenURL,
			AuthStyle:    oauth2.AuthStyleInParams,
		},
		ctxHTTP: func(ctx context.Context) context.Context {
			return context.WithValue(ctx, oauth2.HTTPClient, hc)
		},
		now:     cfg.Now,
		delta:   cfg.TokenExpiryDelta,
		timeout: cfg.Timeout,
	}
	return c, nil
}

// ClientID returns the configured client ID (the aud of Mosaic's ID tokens).
func (c *Client) ClientID() string { return c.cfg.ClientID }

// BaseURL returns the configured base URL, without a trailing slash.
func (c *Client) BaseURL() string { return c.cfg.BaseURL }

// String describes the Client without the client secret.
func (c *Client) String() string { return "transmit.Client{" + c.cfg.String() + "}" }

// GoString is String: %#v must not show the secret either.
func (c *Client) GoString() string { return c.String() }

// LogValue implements slog.LogValuer without the client secret.
func (c *Client) LogValue() slog.Value { return c.cfg.LogValue() }

// call is one business request: POST (or GET) path with an optional JSON body, decoding a
// success answer into out (nil to ignore the body).
type call struct {
	op     string // names the call in errors, e.g. "send otp"
	method string
	path   string // under BaseURL
	body   any
	want   int  // expected success status
	any2xx bool // any 2xx is success; an empty body then leaves out as it is
	out    any
	auth   bool // send the client access token
}

// do runs a call under the per-call deadline. With auth, a 401 answer drops the cached
// token and the call is repeated once with a fresh token: a 401 means Mosaic rejected the
// token before acting, so the repeat cannot send a second email or burn a code. Nothing
// else is ever retried.
func (c *Client) do(ctx context.Context, k call) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()

	var payload []byte
	if k.body != nil {
		var err error
		if payload, err = json.Marshal(k.body); err != nil {
			return fmt.Errorf("transmit: %s: encode request: %w", k.op, err)
		}
	}
	for attempt := 0; ; attempt++ {
		token := ""
		if k.auth {
			var err error
			if token, err = c.tokens.get(ctx); err != nil {
				return err
			}
		}
		status, header, body, err := c.send(ctx, k, payload, token)
		if err != nil {
			return err
		}
		if status == http.StatusUnauthorized && k.auth && attempt == 0 {
			c.tokens.invalidate(token)
			continue
		}
		if status == k.want || (k.want == http.StatusNoContent && status == http.StatusOK) ||
			(k.any2xx && status >= 200 && status < 300) {
			if k.any2xx && len(bytes.TrimSpace(body)) == 0 {
				return nil
			}
			return decodeSuccess(k, body)
		}
		if status < 400 {
			return fmt.Errorf("transmit: %s: unexpected status %d: %w: %w", k.op, status, ErrInvalidResponse, ErrUnavailable)
		}
		ae := decodeAPIError(status, header, body, c.cfg.Now())
		ae.call = k.op
		return ae
	}
}

// send performs one HTTP exchange and reads at most maxBodyBytes of the answer.
func (c *Client) send(ctx context.Context, k call, payload []byte, token string) (int, http.Header, []byte, error) {
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, k.method, c.cfg.BaseURL+k.path, rd)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("transmit: %s: build request: %w", k.op, err)
	}
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		// *url.Error names the method and URL (no secret: New refuses user info and queries).
		return 0, nil, nil, fmt.Errorf("transmit: %s: %w: %w", k.op, ErrUnavailable, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("transmit: %s: read answer: %w: %w", k.op, ErrUnavailable, err)
	}
	return resp.StatusCode, resp.Header, body, nil
}

// decodeSuccess decodes a success body into k.out and checks required fields.
func decodeSuccess(k call, body []byte) error {
	if k.out == nil {
		return nil
	}
	if err := json.Unmarshal(body, k.out); err != nil {
		return fmt.Errorf("transmit: %s: answer is not the expected JSON: %w: %w", k.op, ErrInvalidResponse, ErrUnavailable)
	}
	if v, ok := k.out.(interface{ check() error }); ok {
		if err := v.check(); err != nil {
			return fmt.Errorf("transmit: %s: %w: %w: %w", k.op, err, ErrInvalidResponse, ErrUnavailable)
		}
	}
	return nil
}
