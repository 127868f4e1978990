package transmittest

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
	"time"
)

// User statuses, as Mosaic's users API names them.
const (
	StatusActive   = "Active"
	StatusDisabled = "Disabled"
	StatusPending  = "Pending"
)

type user struct {
	id, email, phone, username, status string
	emailVerified, phoneVerified       bool
	created, updated, lastAuth         time.Time
}

func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// CreateUser adds an active user with the given email and/or phone number and returns its
// user_id. If a user already holds the email or phone, that user's id is returned.
func (e *Emulator) CreateUser(email, phone string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if u := e.findTakenLocked(email, phone, ""); u != nil {
		return u.id
	}
	return e.createUserLocked(email, phone, "").id
}

// SetUserStatus sets a user's status (StatusActive, StatusDisabled, StatusPending); it
// reports whether the user exists.
func (e *Emulator) SetUserStatus(userID, status string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	u := e.users[userID]
	if u == nil {
		return false
	}
	u.status = status
	return true
}

func (e *Emulator) createUserLocked(email, phone, username string) *user {
	now := e.nowLocked()
	u := &user{id: randomID(12), email: email, phone: phone, username: username, status: StatusActive, created: now, updated: now}
	e.users[u.id] = u
	return u
}

func (e *Emulator) findTakenLocked(email, phone, username string) *user {
	for _, u := range e.users {
		if (email != "" && strings.EqualFold(u.email, email)) || (phone != "" && u.phone == phone) ||
			(username != "" && u.username == username) {
			return u
		}
	}
	return nil
}

// findUserLocked looks a user up by identifier type and value. e.mu must be held.
func (e *Emulator) findUserLocked(idType, id string) *user {
	if id == "" {
		return nil
	}
	switch idType {
	case "user_id":
		return e.users[id]
	case "email":
		return e.findTakenLocked(id, "", "")
	case "phone_number":
		return e.findTakenLocked("", id, "")
	case "username":
		return e.findTakenLocked("", "", id)
	}
	return nil
}

func (u *user) api() map[string]any {
	out := map[string]any{
		"user_id":    u.id,
		"status":     u.status,
		"created_at": float64(u.created.UnixMilli()),
		"updated_at": float64(u.updated.UnixMilli()),
	}
	if u.email != "" {
		out["email"] = map[string]any{"value": u.email, "email_verified": u.emailVerified}
	}
	if u.phone != "" {
		out["phone_number"] = map[string]any{"value": u.phone, "phone_number_verified": u.phoneVerified}
	}
	if u.username != "" {
		out["username"] = u.username
	}
	return out
}

func badRequestArray(msg string) map[string]any {
	return map[string]any{"message": []string{msg}, "error_code": 400}
}

func (e *Emulator) handleCreateUser(w *recorder, r *http.Request, body []byte) {
	m, err := decodeObject(r, body, []field{
		{name: "email", kind: kString},
		{name: "phone_number", kind: kString},
		{name: "username", kind: kString},
		{name: "secondary_emails", kind: kArray},
		{name: "secondary_phone_numbers", kind: kArray},
		{name: "birthday", kind: kString},
		{name: "address", kind: kObject},
		{name: "name", kind: kObject},
		{name: "external_account_id", kind: kString},
		{name: "custom_app_data", kind: kObject},
		{name: "picture", kind: kString},
		{name: "language", kind: kString},
		{name: "custom_data", kind: kObject},
		{name: "external_user_id", kind: kString},
		{name: "credentials", kind: kObject},
		{name: "delegated_access", kind: kObject},
	})
	if err != nil {
		writeJSON(w, http.StatusBadRequest, badRequestArray(err.Error()))
		return
	}
	email, phone, username := str(m, "email"), str(m, "phone_number"), str(m, "username")
	if email == "" && phone == "" {
		writeJSON(w, http.StatusBadRequest, badRequestArray("email or phone_number is required"))
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.findTakenLocked(email, phone, username) != nil {
		writeJSON(w, http.StatusConflict, map[string]any{
			"message": "Identifier is taken", "error_code": 409, "ts_error_code": "identifier_taken",
		})
		return
	}
	u := e.createUserLocked(email, phone, username)
	writeJSON(w, http.StatusCreated, map[string]any{"result": u.api()})
}
