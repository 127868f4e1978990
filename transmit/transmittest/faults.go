package transmittest

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// Fault is a scripted answer that replaces an endpoint's normal behaviour; see
// [Emulator.Force]. The helper constructors below produce each error shape Transmit documents.
type Fault struct {
	// Status is the HTTP status. Default: 500.
	Status int
	// Body is sent verbatim. Content-Type defaults to application/json when Body is not empty.
	Body string
	// Header is added to the answer.
	Header http.Header
	// Times is how many requests get the fault before normal behaviour resumes; 0 means every
	// request until [Emulator.ClearForced].
	Times int
}

type forced struct {
	fault     Fault
	remaining int // < 0: forever
}

func (f Fault) write(w *recorder) {
	for k, v := range f.Header {
		w.header[k] = append([]string(nil), v...)
	}
	if f.Body != "" && w.header.Get("Content-Type") == "" {
		w.header.Set("Content-Type", "application/json; charset=utf-8")
	}
	w.status = f.Status
	if w.status == 0 {
		w.status = http.StatusInternalServerError
	}
	w.buf.WriteString(f.Body)
}

// Force makes endpoint answer with f (f.Times times, or until [Emulator.ClearForced]). The
// request is still counted by [Emulator.Calls]; no state changes.
func (e *Emulator) Force(endpoint Endpoint, f Fault) {
	e.mu.Lock()
	defer e.mu.Unlock()
	rem := f.Times
	if rem <= 0 {
		rem = -1
	}
	e.faults[endpoint] = &forced{fault: f, remaining: rem}
}

// ClearForced removes every forced fault.
func (e *Emulator) ClearForced() {
	e.mu.Lock()
	e.faults = map[Endpoint]*forced{}
	e.mu.Unlock()
}

// takeFault returns the fault to apply to one request, or nil. e.mu must be held.
func (e *Emulator) takeFault(ep Endpoint) *Fault {
	fd := e.faults[ep]
	if fd == nil {
		return nil
	}
	f := fd.fault
	if fd.remaining > 0 {
		fd.remaining--
		if fd.remaining == 0 {
			delete(e.faults, ep)
		}
	}
	return &f
}

func jsonFault(status int, v any) Fault {
	b, _ := json.Marshal(v)
	return Fault{Status: status, Body: string(b)}
}

// FaultNumericCode is the NestJS shape with a numeric code: {"message": msg, "error_code": status}
// (token endpoint, users 409, frontend 401).
func FaultNumericCode(status int, message string) Fault {
	return jsonFault(status, map[string]any{"message": message, "error_code": status})
}

// FaultStringCode is the magic-link shape: {"error_code": "<status>", "message": msg}.
func FaultStringCode(status int, message string) Fault {
	return jsonFault(status, map[string]any{"error_code": strconv.Itoa(status), "message": message})
}

// FaultSymbolic is the OTP shape: {"error_code": code, "message": msg}, e.g.
// FaultSymbolic(400, "auth_invalid_credentials", "Invalid credentials").
func FaultSymbolic(status int, code, message string) Fault {
	return jsonFault(status, map[string]any{"error_code": code, "message": message})
}

// FaultMessageArray is the older BadRequestHttpError shape:
// {"message": [messages...], "error_code": status}.
func FaultMessageArray(status int, messages ...string) Fault {
	if messages == nil {
		messages = []string{}
	}
	return jsonFault(status, map[string]any{"message": messages, "error_code": status})
}

// FaultEmptyBody answers status with no body at all.
func FaultEmptyBody(status int) Fault { return Fault{Status: status} }

// FaultHTML answers status with an HTML page, as a proxy or CDN in front of Mosaic would.
func FaultHTML(status int) Fault {
	return Fault{
		Status: status,
		Header: http.Header{"Content-Type": {"text/html; charset=utf-8"}},
		Body:   "<html><head><title>" + strconv.Itoa(status) + "</title></head><body><h1>" + http.StatusText(status) + "</h1></body></html>",
	}
}

// FaultRateLimited answers 429 with a Retry-After header (whole seconds; omitted when
// retryAfter <= 0) and {"message": "Too Many Requests", "error_code": 429}.
func FaultRateLimited(retryAfter time.Duration) Fault {
	f := FaultNumericCode(http.StatusTooManyRequests, "Too Many Requests")
	if retryAfter > 0 {
		f.Header = http.Header{"Retry-After": {strconv.Itoa(int((retryAfter + time.Second - 1) / time.Second))}}
	}
	return f
}

// FaultInternal answers 500 with the documented InternalServerHttpError body.
func FaultInternal() Fault {
	return FaultNumericCode(http.StatusInternalServerError, "Something went wrong - Internal server error")
}

// FaultUnavailable answers 503 with {"message": "Service Unavailable", "error_code": 503}.
func FaultUnavailable() Fault {
	return FaultNumericCode(http.StatusServiceUnavailable, "Service Unavailable")
}
