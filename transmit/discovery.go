package transmit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/otlogin/otlogin/internal/devhost"
)

// pathDiscovery is the OpenID configuration, under BaseURL.
const pathDiscovery = "/oidc/.well-known/openid-configuration"

// Discover fetches Mosaic's OpenID configuration ({BaseURL}/oidc/.well-known/openid-configuration)
// and returns its issuer and jwks_uri as published. Mosaic's issuer (e.g.
// https://userid.security) differs from the discovery URL; that is expected, so callers must
// verify tokens against the returned issuer, not one derived from BaseURL. Both fields must be
// present and jwks_uri absolute. The first success is cached for the Client's lifetime;
// failures are not cached.
func (c *Client) Discover(ctx context.Context) (*Discovery, error) {
	if d, ok := c.cachedDiscovery(); ok {
		return d, nil
	}
	// One fetch at a time; it runs under its own deadline so a caller that gives up does not
	// fail the others.
	ch := c.discoGroup.DoChan("discovery", func() (any, error) {
		if d, ok := c.cachedDiscovery(); ok {
			return d, nil
		}
		var out discoveryWire
		if err := c.do(context.WithoutCancel(ctx), call{op: "discover", method: http.MethodGet,
			path: pathDiscovery, want: http.StatusOK, out: &out}); err != nil {
			return nil, err
		}
		d := Discovery(out)
		c.discoMu.Lock()
		c.disco = &d
		c.discoMu.Unlock()
		return &d, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		d, _ := res.Val.(*Discovery)
		cp := *d
		return &cp, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("transmit: discover: %w: %w", ErrUnavailable, ctx.Err())
	}
}

// cachedDiscovery returns a copy of the cached document.
func (c *Client) cachedDiscovery() (*Discovery, bool) {
	c.discoMu.Lock()
	defer c.discoMu.Unlock()
	if c.disco == nil {
		return nil, false
	}
	d := *c.disco
	return &d, true
}

// discoveryWire is Discovery with the required-field check.
type discoveryWire Discovery

func (w *discoveryWire) check() error {
	if w.Issuer == "" {
		return errors.New("issuer missing")
	}
	u, err := url.Parse(w.JWKSURL)
	if w.JWKSURL == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.New("jwks_uri missing or not an absolute URL")
	}
	if u.Scheme == "http" && !devhost.LoopbackForDial(u.Hostname()) {
		// Keys fetched in clear text could be swapped on the way: a forged ID token would verify.
		return errors.New("jwks_uri is http on a host that is not loopback; https is required")
	}
	return nil
}
