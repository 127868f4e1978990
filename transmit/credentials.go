package transmit

import "context"

// CheckCredentials makes sure the client holds a client access token: it returns nil at once
// when a fresh one is cached, else it requests one from the token endpoint (one request,
// plus the usual retries of an unavailable endpoint) and returns that request's error, an
// [*APIError] matching [ErrUnauthorized] when Mosaic refused the credentials. It is meant for
// start-up checks (otlogin's Auth.Check); business calls fetch tokens by themselves.
func (c *Client) CheckCredentials(ctx context.Context) error {
	_, err := c.tokens.get(ctx)
	return err
}
