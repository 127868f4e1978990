package transmit

import (
	"errors"
	"net/http"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzDecodeError feeds arbitrary error answers to the decoder: it must never panic, must keep
// Message within its cap, and must map to at most one sentinel.
func FuzzDecodeError(f *testing.F) {
	seeds := []string{
		`{"message":"Bad request","error_code":400}`,
		`{"error_code":"400","message":"Invalid magic link code"}`,
		`{"error_code":"auth_invalid_credentials","message":"x"}`,
		`{"message":["a","b"],"error_code":400}`,
		`{"message":[1,{"x":2},null,"c"],"error_code":[400]}`,
		`{"message":"Identifier is taken","error_code":409,"ts_error_code":"identifier_taken"}`,
		`{"error_code":1e400}`,
		`<html>Bad Gateway</html>`,
		``, `null`, `[]`, `"str"`, `{"message":"\u0000\n\t"}`,
	}
	for i, s := range seeds {
		f.Add(400+i%6*10, "7", []byte(s))
	}
	f.Add(429, "Wed, 21 Oct 2015 07:28:00 GMT", []byte(`{}`))
	f.Fuzz(func(t *testing.T, status int, retryAfter string, body []byte) {
		h := http.Header{}
		h.Set("Retry-After", retryAfter)
		e := decodeAPIError(status, h, body, time.Unix(1_700_000_000, 0))
		if e.Status != status {
			t.Fatalf("status %d became %d", status, e.Status)
		}
		if len(e.Message) > maxMessageLen+len("…") || len(e.Code) > maxMessageLen+len("…") {
			t.Fatalf("message not capped: %d bytes", len(e.Message))
		}
		if !utf8.ValidString(e.Message) {
			t.Fatalf("message is not valid UTF-8")
		}
		if e.RetryAfter < 0 || e.RetryAfter > maxRetryAfter {
			t.Fatalf("retry-after out of range: %v", e.RetryAfter)
		}
		_ = e.Error()
		n := 0
		for _, s := range allSentinels {
			if errors.Is(e, s) {
				n++
			}
		}
		if n > 1 {
			t.Fatalf("%v maps to %d sentinels", e, n)
		}
	})
}

// FuzzTokenResponse feeds arbitrary 200 bodies to the ApiTokenResponse decoder: it must never
// panic, and whatever it accepts must carry every required field.
func FuzzTokenResponse(f *testing.F) {
	seeds := []string{
		`{"access_token":"a","id_token":"i","refresh_token":"r","token_type":"Bearer","expires_in":3600,"session_id":"s"}`,
		`{"access_token":"a","token_type":"Bearer","expires_in":3600}`,
		`{"access_token":"a","token_type":"Bearer","expires_in":"3600","session_id":"s"}`,
		`{"access_token":"a","token_type":"Bearer","expires_in":-1,"session_id":"s"}`,
		`{"access_token":null,"token_type":"Bearer","expires_in":1e308,"session_id":"s"}`,
		`{"error_code":"auth_invalid_credentials","message":"x"}`,
		`{"access_token":"a","token_type":"Bea`, `null`, `[]`, ``, `<html>`,
	}
	for _, s := range seeds {
		f.Add([]byte(s), true)
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, body []byte, needSession bool) {
		w := tokenWire{needSession: needSession}
		err := decodeSuccess(call{op: "fuzz", out: &w}, body)
		if err != nil {
			if !errors.Is(err, ErrInvalidResponse) || !errors.Is(err, ErrUnavailable) {
				t.Fatalf("error %v does not fail closed", err)
			}
			return
		}
		r := w.response()
		if r.AccessToken == "" || r.TokenType == "" || r.ExpiresIn <= 0 || (needSession && r.SessionID == "") {
			t.Fatalf("accepted an incomplete token answer: %+v", r)
		}
	})
}
