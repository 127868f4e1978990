package transmittest

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

type magicLink struct {
	userID  string
	expires time.Time
}

// randomCode returns 32 random bytes as 43 base64url characters.
func randomCode() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// linkError is the magic-link error shape: {"error_code": "<status>", "message": msg}.
func linkError(w *recorder, status int, msg string) {
	writeJSON(w, status, map[string]any{"error_code": strconv.Itoa(status), "message": msg})
}

func (e *Emulator) handleSendLink(w *recorder, r *http.Request, body []byte) {
	m, err := decodeObject(r, body, []field{
		{name: "identifier", kind: kString},
		{name: "identifier_type", kind: kString},
		{name: "email", kind: kString},
		{name: "redirect_uri", kind: kString, required: true},
		{name: "state", kind: kString},
		{name: "email_expiration", kind: kNumber},
		{name: "channel", kind: kString, enum: []string{"email", "direct"}},
		clientAttributesField(),
		{name: "device_id", kind: kString, maxLen: 80},
		{name: "generate_request_id", kind: kBool},
		emailContentField(),
	})
	if err != nil {
		linkError(w, http.StatusBadRequest, err.Error())
		return
	}
	_, hasID := m["identifier"]
	_, hasType := m["identifier_type"]
	_, hasEmail := m["email"]
	idType, id := str(m, "identifier_type"), str(m, "identifier")
	switch {
	case hasEmail && (hasID || hasType):
		linkError(w, http.StatusBadRequest, "send either identifier and identifier_type or email, not both")
		return
	case hasEmail:
		idType, id = "email", str(m, "email")
		if id == "" {
			linkError(w, http.StatusBadRequest, "email should not be empty")
			return
		}
	case id == "" || idType == "":
		linkError(w, http.StatusBadRequest, "identifier and identifier_type should not be empty")
		return
	}
	redirect := str(m, "redirect_uri")
	target, err := url.Parse(redirect)
	if err != nil || !target.IsAbs() || !e.redirectAllowed(target, redirect) {
		linkError(w, http.StatusBadRequest, "redirect_uri is not one of the allowed redirect URIs configured for this app")
		return
	}
	ttl := e.opts.LinkTTL
	if mins, ok := num(m, "email_expiration"); ok {
		if mins <= 0 {
			linkError(w, http.StatusBadRequest, "email_expiration must be a positive number")
			return
		}
		ttl = time.Duration(mins * float64(time.Minute))
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	u := e.findUserLocked(idType, id)
	if u == nil {
		linkError(w, http.StatusNotFound, "User not found")
		return
	}
	if u.status != StatusActive {
		linkError(w, http.StatusForbidden, "User is not active")
		return
	}
	if u.email == "" {
		linkError(w, http.StatusBadRequest, "User has no email address")
		return
	}
	now := e.nowLocked()
	for c, l := range e.links { // prune
		if !now.Before(l.expires) {
			delete(e.links, c)
		}
	}
	code := randomCode()
	e.links[code] = &magicLink{userID: u.id, expires: now.Add(ttl)}
	q := target.Query()
	q.Set("code", code)
	if st := str(m, "state"); st != "" {
		q.Set("state", st)
	}
	target.RawQuery = q.Encode()
	channel := str(m, "channel")
	if channel == "" {
		channel = "email"
	}
	e.recordLocked(Message{Channel: channel, To: u.email, Identifier: id, Kind: KindLink, Link: target.String(), Code: code, Time: now})
	writeJSON(w, http.StatusOK, map[string]any{"message": "Email sent successfully"})
}

func (e *Emulator) handleAuthenticateLink(w *recorder, r *http.Request, body []byte) {
	m, err := decodeObject(r, body, append(commonAuthFields(), field{name: "code", kind: kString, required: true}))
	if err != nil {
		linkError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := e.ensureKey(); err != nil {
		writeJSON(w, http.StatusInternalServerError, internalError())
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	code := str(m, "code")
	l := e.links[code]
	if l == nil || !e.nowLocked().Before(l.expires) {
		delete(e.links, code)
		linkError(w, http.StatusBadRequest, "Invalid magic link code")
		return
	}
	u := e.users[l.userID]
	if u == nil || u.status != StatusActive {
		linkError(w, http.StatusBadRequest, "User not found")
		return
	}
	sid := str(m, "session_id")
	if sid != "" && e.sessionLocked(sid, u.id) == nil {
		linkError(w, http.StatusBadRequest, "Session not found")
		return
	}
	delete(e.links, code) // single use
	u.emailVerified = true
	e.authenticateLocked(w, u, "eml", sid, str(m, "resource"), nil)
}

// redirectAllowed applies the app's allow-list: Options.AllowedRedirectURIs exactly when set,
// otherwise any URI under one of Options.PublicURLs (same scheme, host and port), otherwise a
// loopback origin (what a test or a local example app uses).
func (e *Emulator) redirectAllowed(target *url.URL, raw string) bool {
	if len(e.opts.AllowedRedirectURIs) > 0 {
		return contains(e.opts.AllowedRedirectURIs, raw)
	}
	if target.Scheme != "http" && target.Scheme != "https" {
		return false
	}
	if len(e.opts.PublicURLs) == 0 {
		return isLoopbackHost(target.Hostname())
	}
	for _, p := range e.opts.PublicURLs {
		u, err := url.Parse(p)
		if err == nil && strings.EqualFold(u.Scheme, target.Scheme) && strings.EqualFold(u.Host, target.Host) &&
			strings.HasPrefix(target.Path, strings.TrimRight(u.Path, "/")+"/") {
			return true
		}
	}
	return false
}

// isLoopbackHost reports whether host is "localhost" or a loopback IP address.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
