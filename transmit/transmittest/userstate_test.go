package transmittest_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin/internal/emutest"
	"github.com/otlogin/otlogin/transmit/transmittest"
)

// TestDisableAndDeleteUser: after DisableUser or DeleteUser, refreshing the user's tokens
// fails with 400 as Mosaic's would; another user's refresh keeps working.
func TestDisableAndDeleteUser(t *testing.T) {
	t.Parallel()
	s := transmittest.NewTestServer(t, transmittest.Options{})
	tok := emutest.ClientToken(t, s)
	signIn := func(email string) (userID, refresh string) {
		userID = s.CreateUser(email, "")
		code := sendLink(t, s, tok, email)
		r := emutest.Call(t, s, tok, "/v1/auth/link/email/authenticate", map[string]any{"code": code})
		require.Equal(t, http.StatusOK, r.Status, r.Raw)
		refresh, _ = r.JSON["refresh_token"].(string)
		require.NotEmpty(t, refresh)
		return userID, refresh
	}
	refresh := func(rt string) emutest.Resp {
		return emutest.Call(t, s, tok, "/v1/auth/token/refresh", map[string]any{"refresh_token": rt})
	}
	disabled, rtDisabled := signIn("disabled@example.com")
	deleted, rtDeleted := signIn("deleted@example.com")
	_, rtActive := signIn("active@example.com")

	require.True(t, s.DisableUser(disabled))
	require.True(t, s.DeleteUser(deleted))
	assert.False(t, s.DeleteUser(deleted), "deleting twice reports the user is gone")
	assert.False(t, s.DisableUser("no-such-user"))

	assert.Equal(t, http.StatusBadRequest, refresh(rtDisabled).Status)
	assert.Equal(t, http.StatusBadRequest, refresh(rtDeleted).Status)
	r := refresh(rtActive)
	assert.Equal(t, http.StatusOK, r.Status, r.Raw)
	assert.NotEmpty(t, r.JSON["access_token"])
}
