package transmit

import (
	"context"
	"errors"
	"net/http"
	"net/url"
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
	c.discoMu.Lock()
	defer c.discoMu.Unlock()
	if c.disco != nil {
		d := *c.disco
		return &d, nil
	}
	var out discoveryWire
	if err := c.do(ctx, call{op: "discover", method: http.MethodGet, path: pathDiscovery,
		want: http.StatusOK, out: &out}); err != nil {
		return nil, err
	}
	d := Discovery(out)
	c.disco = &d
	cp := d
	return &cp, nil
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
	return nil
}
