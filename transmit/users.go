package transmit

import (
	"context"
	"errors"
	"net/http"
)

// pathUsers is createUser's path, under BaseURL.
const pathUsers = "/v1/users"

// CreateUser creates a user, or associates an existing tenant user with the application
// (createUser). Email or PhoneNumber is required. Any 2xx answer is success (Mosaic answers 201
// for a new user; a user the tenant already has is added to the app instead): a body, when
// there is one, must be {"result": user} with a user_id; without a body the returned User is
// empty. A 409 answer (identifier taken) matches [ErrUserExists].
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
		body: req, want: http.StatusCreated, any2xx: true, out: &out, auth: true}); err != nil {
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
