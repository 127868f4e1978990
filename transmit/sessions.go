package transmit

import (
	"context"
	"net/http"
)

// Paths of the backend sessions endpoints, under BaseURL.
const (
	pathLogout  = "/v1/auth/session/logout"
	pathRefresh = "/v1/auth/token/refresh"
)

// Logout ends a backend session and revokes its refresh tokens (logout; Mosaic answers 204).
func (c *Client) Logout(ctx context.Context, sessionID string) error {
	const op = "logout"
	v := checks{op: op}
	v.required("session_id", sessionID)
	if v.err != nil {
		return v.err
	}
	return c.do(ctx, call{op: op, method: http.MethodPost, path: pathLogout,
		body: LogoutRequest{SessionID: sessionID}, want: http.StatusNoContent, auth: true})
}

// RefreshToken exchanges a refresh token for new user tokens (refreshBackendAuthToken). The
// answer carries no session_id.
func (c *Client) RefreshToken(ctx context.Context, refreshToken string) (*TokenResponse, error) {
	const op = "refresh token"
	v := checks{op: op}
	v.required("refresh_token", refreshToken)
	if v.err != nil {
		return nil, v.err
	}
	var out tokenWire
	if err := c.do(ctx, call{op: op, method: http.MethodPost, path: pathRefresh,
		body: RefreshTokenRequest{RefreshToken: refreshToken}, want: http.StatusOK, out: &out, auth: true}); err != nil {
		return nil, err
	}
	return out.response(), nil
}
