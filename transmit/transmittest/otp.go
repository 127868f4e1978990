package transmittest

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

type otpKey struct{ idType, id string }

type otpState struct {
	code, userID, channel string
	expires               time.Time
	failures              int
	approval              map[string]any
}

func otpError(w *recorder, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error_code": code, "message": msg})
}

func randomDigits(n int) string {
	b := make([]byte, n)
	for i := range b {
		d, _ := rand.Int(rand.Reader, big.NewInt(10))
		b[i] = byte('0' + d.Int64())
	}
	return string(b)
}

func (e *Emulator) handleSendOTP(w *recorder, r *http.Request, body []byte) {
	m, err := decodeObject(r, body, []field{
		{name: "channel", kind: kString, required: true, enum: []string{"sms", "email", "direct"}},
		{name: "identifier_type", kind: kString, required: true},
		{name: "identifier", kind: kString, required: true},
		emailContentField(),
		// Limits Mosaic's One-Time Login API states for the SMS input: 140 characters with {otp} and
		// {app}; a sender id of at most 11.
		{name: "custom_sms_input", kind: kObject, nested: []field{
			{name: "custom_message", kind: kString, maxLen: maxSMSMessage},
			{name: "sender_id", kind: kString, maxLen: maxSenderID},
		}},
		{name: "approval_data", kind: kObject},
		{name: "custom_email", kind: kString},
		{name: "custom_phone_number", kind: kString},
		clientAttributesField(),
		{name: "expires_in", kind: kNumber},
		{name: "generate_request_id", kind: kBool},
		{name: "device_id", kind: kString, maxLen: 80},
	})
	if err == nil {
		err = checkSendOTPLimits(m)
	}
	if err != nil {
		otpError(w, http.StatusBadRequest, "system_invalid_input", err.Error())
		return
	}
	ttl := e.opts.OTPTTL
	if mins, ok := num(m, "expires_in"); ok {
		if mins <= 0 {
			otpError(w, http.StatusBadRequest, "system_invalid_input", "expires_in must be a positive number")
			return
		}
		ttl = time.Duration(mins * float64(time.Minute))
	}
	key := otpKey{str(m, "identifier_type"), str(m, "identifier")}
	channel := str(m, "channel")

	e.mu.Lock()
	defer e.mu.Unlock()
	u := e.findUserLocked(key.idType, key.id)
	if u == nil {
		otpError(w, http.StatusNotFound, "user_not_found", "User not found")
		return
	}
	if u.status != StatusActive {
		otpError(w, http.StatusForbidden, "user_not_active", "User is not active")
		return
	}
	to := key.id
	switch channel {
	case "email":
		if to = str(m, "custom_email"); to == "" {
			to = u.email
		}
		if to == "" {
			otpError(w, http.StatusNotFound, "user_email_address_missing", "User has no email address")
			return
		}
	case "sms":
		if to = str(m, "custom_phone_number"); to == "" {
			to = u.phone
		}
		if to == "" {
			otpError(w, http.StatusNotFound, "user_phone_number_missing", "User has no phone number")
			return
		}
	}
	now := e.nowLocked()
	approval, _ := m["approval_data"].(map[string]any)
	st := &otpState{code: randomDigits(e.opts.OTPLength), userID: u.id, channel: channel, expires: now.Add(ttl), approval: approval}
	e.otps[key] = st // a resend replaces the previous code
	e.recordLocked(Message{Channel: channel, To: to, Identifier: key.id, Kind: KindOTP, Code: st.code, Time: now})
	out := map[string]any{"message": "OTP sent"}
	if channel == "direct" {
		out["code"] = st.code
	}
	if approval != nil {
		out["approval_data"] = approval
	}
	writeJSON(w, http.StatusOK, out)
}

// Limits written in the descriptions of the OTP send request.
const (
	maxSMSMessage       = 140 // custom_sms_input.custom_message characters
	maxSenderID         = 11  // custom_sms_input.sender_id characters
	maxApprovalDataKeys = 10  // approval_data keys
)

// checkSendOTPLimits enforces what Mosaic's One-Time Login API states only in prose: a custom SMS text contains
// {otp} and {app}; approval_data is flat (no objects or arrays), has at most 10 keys, and its
// keys use only letters, digits, underscores, hyphens and periods.
func checkSendOTPLimits(m map[string]any) error {
	if sms, ok := m["custom_sms_input"].(map[string]any); ok {
		if msg, ok := sms["custom_message"].(string); ok && msg != "" &&
			(!strings.Contains(msg, "{otp}") || !strings.Contains(msg, "{app}")) {
			return errors.New("custom_sms_input.custom_message must contain the {otp} and {app} placeholders")
		}
	}
	ad, ok := m["approval_data"].(map[string]any)
	if !ok {
		return nil
	}
	if len(ad) > maxApprovalDataKeys {
		return fmt.Errorf("approval_data must contain at most %d keys", maxApprovalDataKeys)
	}
	for k, v := range ad {
		if k == "" || strings.TrimFunc(k, func(r rune) bool {
			return r < utf8.RuneSelf && (r == '_' || r == '-' || r == '.' || unicode.IsLetter(r) || unicode.IsDigit(r))
		}) != "" {
			return errors.New("approval_data keys may contain only letters, digits, underscores, hyphens and periods")
		}
		switch v.(type) {
		case map[string]any, []any:
			return errors.New("approval_data must be a flat object (no nested objects or arrays)")
		}
	}
	return nil
}

func (e *Emulator) handleAuthenticateOTP(w *recorder, r *http.Request, body []byte) {
	m, err := decodeObject(r, body, append(commonAuthFields(),
		field{name: "passcode", kind: kString, required: true},
		field{name: "identifier_type", kind: kString, required: true},
		field{name: "identifier", kind: kString, required: true},
	))
	if err != nil {
		otpError(w, http.StatusBadRequest, "system_invalid_input", err.Error())
		return
	}
	if err := e.ensureKey(); err != nil {
		writeJSON(w, http.StatusInternalServerError, internalError())
		return
	}
	key := otpKey{str(m, "identifier_type"), str(m, "identifier")}
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.nowLocked()
	if until, ok := e.locks[key]; ok {
		if now.Before(until) {
			otpError(w, http.StatusForbidden, "auth_locked", "Too many failed attempts")
			return
		}
		delete(e.locks, key)
	}
	st := e.otps[key]
	if st == nil {
		otpError(w, http.StatusBadRequest, "auth_invalid_credentials", "Invalid credentials")
		return
	}
	if !now.Before(st.expires) {
		delete(e.otps, key)
		otpError(w, http.StatusBadRequest, "auth_otp_passcode_expired", "Passcode expired")
		return
	}
	if subtle.ConstantTimeCompare([]byte(str(m, "passcode")), []byte(st.code)) != 1 {
		st.failures++
		if st.failures >= e.opts.MaxFailures {
			delete(e.otps, key)
			e.locks[key] = now.Add(e.opts.LockoutDuration)
			otpError(w, http.StatusForbidden, "auth_locked", "Too many failed attempts")
			return
		}
		otpError(w, http.StatusBadRequest, "auth_invalid_credentials", "Invalid credentials")
		return
	}
	u := e.users[st.userID]
	if u == nil || u.status != StatusActive {
		otpError(w, http.StatusBadRequest, "auth_invalid_credentials", "Invalid credentials")
		return
	}
	sid := str(m, "session_id")
	if sid != "" && e.sessionLocked(sid, u.id) == nil {
		// The OTP documents list no "Session not found"; system_invalid_input is the closest.
		otpError(w, http.StatusBadRequest, "system_invalid_input", "Session not found")
		return
	}
	delete(e.otps, key)
	method := "eotp"
	switch {
	case st.channel == "sms", st.channel == "direct" && key.idType == "phone_number":
		method = "sms"
		u.phoneVerified = true
	default:
		u.emailVerified = true
	}
	var extra map[string]any
	if st.approval != nil {
		extra = map[string]any{"approval_data": st.approval}
	}
	e.authenticateLocked(w, u, method, sid, str(m, "resource"), extra)
}
