package transmit

import (
	"context"
	"errors"
	"net/http"
)

// pathUsers is createUser's path, under BaseURL.
const pathUsers = "/v1/users"

// CreateUser creates a user, or associates an existing tenant user with the application
// (createUser). Email or PhoneNumber is required. A 409 answer (identifier taken) matches
// [ErrUserExists].
func (c *Client) CreateUser(ctx context.Context, req CreateUserRequest) (*User, error) {
	const op = "create user"
	v := checks{op: op}
	if req.Email == "" && req.PhoneNumber == "" {
		v.fail("email or phone_number is required")
	}
	if v.err != nil {
		return nil, v.err
	}
	var out createUserWire
	if err := c.do(ctx, call{op: op, method: http.MethodPost, path: pathUsers,
		body: req, want: http.StatusCreated, out: &out, auth: true}); err != nil {
		return nil, err
	}
	u := out.Result
	return &u, nil
}

// createUserWire is CreateUserResponse with the required-field check.
type createUserWire CreateUserResponse

func (w *createUserWire) check() error {
	if w.Result.UserID == "" {
		return errors.New("result.user_id missing")
	}
	return nil
}
