package transmittest

// DisableUser sets the user's status to Disabled, as an administrator does in Mosaic's
// console: the user's sessions stay, but refreshing their tokens fails (400, as Mosaic
// answers a refresh token it no longer honours) and the user can no longer sign in. It
// reports whether the user exists.
func (e *Emulator) DisableUser(userID string) bool {
	return e.SetUserStatus(userID, StatusDisabled)
}

// DeleteUser removes the user with their sessions and refresh tokens, as deleting a user in
// Mosaic does: a refresh of their tokens fails (400). It reports whether the user existed.
func (e *Emulator) DeleteUser(userID string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.users[userID] == nil {
		return false
	}
	delete(e.users, userID)
	for id, s := range e.sessions {
		if s.userID == userID {
			delete(e.sessions, id)
		}
	}
	for t, rt := range e.refresh {
		if rt.userID == userID {
			delete(e.refresh, t)
		}
	}
	return true
}
