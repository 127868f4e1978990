package transmittest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Endpoint names one emulated operation, for [Emulator.Calls] and [Emulator.Force].
type Endpoint string

// The emulated endpoints.
const (
	EndpointToken                 Endpoint = "token"                   // POST /oidc/token and /cis/oidc/token
	EndpointDiscovery             Endpoint = "discovery"               // GET /cis/oidc/.well-known/openid-configuration
	EndpointJWKS                  Endpoint = "jwks"                    // GET /cis/oidc/jwks
	EndpointSendMagicLink         Endpoint = "sendMagicLinkEmail"      // POST /cis/v1/auth/link/email/send
	EndpointAuthenticateMagicLink Endpoint = "authenticateMagicLink"   // POST /cis/v1/auth/link/email/authenticate
	EndpointSendOTP               Endpoint = "sendOTP"                 // POST /cis/v1/auth/otp/send
	EndpointAuthenticateOTP       Endpoint = "authenticateOTP"         // POST /cis/v1/auth/otp/authenticate
	EndpointCreateUser            Endpoint = "createUser"              // POST /cis/v1/users
	EndpointLogout                Endpoint = "logout"                  // POST /cis/v1/auth/session/logout
	EndpointRefresh               Endpoint = "refreshBackendAuthToken" // POST /cis/v1/auth/token/refresh
)

// maxBody caps request bodies.
const maxBody = 1 << 20

type handlerFunc func(e *Emulator, w *recorder, r *http.Request, body []byte)

type routeEntry struct {
	method   string
	endpoint Endpoint
	auth     bool // needs a client access token
	handle   handlerFunc
}

func routes() map[string]routeEntry {
	return map[string]routeEntry{
		"/oidc/token":     {http.MethodPost, EndpointToken, false, (*Emulator).handleToken},
		"/cis/oidc/token": {http.MethodPost, EndpointToken, false, (*Emulator).handleToken},
		"/cis/oidc/.well-known/openid-configuration": {http.MethodGet, EndpointDiscovery, false, (*Emulator).handleDiscovery},
		"/cis/oidc/jwks":                       {http.MethodGet, EndpointJWKS, false, (*Emulator).handleJWKS},
		"/cis/v1/auth/link/email/send":         {http.MethodPost, EndpointSendMagicLink, true, (*Emulator).handleSendLink},
		"/cis/v1/auth/link/email/authenticate": {http.MethodPost, EndpointAuthenticateMagicLink, true, (*Emulator).handleAuthenticateLink},
		"/cis/v1/auth/otp/send":                {http.MethodPost, EndpointSendOTP, true, (*Emulator).handleSendOTP},
		"/cis/v1/auth/otp/authenticate":        {http.MethodPost, EndpointAuthenticateOTP, true, (*Emulator).handleAuthenticateOTP},
		"/cis/v1/users":                        {http.MethodPost, EndpointCreateUser, true, (*Emulator).handleCreateUser},
		"/cis/v1/auth/session/logout":          {http.MethodPost, EndpointLogout, true, (*Emulator).handleLogout},
		"/cis/v1/auth/token/refresh":           {http.MethodPost, EndpointRefresh, true, (*Emulator).handleRefresh},
	}
}

// Emulator is an in-process Mosaic: an http.Handler serving the endpoints listed at
// [Endpoint]. All methods are safe for concurrent use.
type Emulator struct {
	opts   Options
	routes map[string]routeEntry

	mu           sync.Mutex
	offset       time.Duration
	latency      time.Duration
	faults       map[Endpoint]*forced
	calls        map[Endpoint]int
	keys         []*signingKey
	appKey       *signingKey // Options.AppIssuer's own key
	clientTokens map[string]time.Time
	users        map[string]*user
	links        map[string]*magicLink
	otps         map[otpKey]*otpState
	locks        map[otpKey]time.Time
	sessions     map[string]*session
	refresh      map[string]*refreshToken
	outbox       []Message
	outboxCount  map[string]int // messages in outbox per lower-cased To
}

// New returns an emulator configured by opts (see [Options] for defaults).
func New(opts Options) *Emulator {
	e := &Emulator{
		opts:         opts.withDefaults(),
		routes:       routes(),
		faults:       map[Endpoint]*forced{},
		calls:        map[Endpoint]int{},
		clientTokens: map[string]time.Time{},
		users:        map[string]*user{},
		links:        map[string]*magicLink{},
		otps:         map[otpKey]*otpState{},
		locks:        map[otpKey]time.Time{},
		sessions:     map[string]*session{},
		refresh:      map[string]*refreshToken{},
	}
	return e
}

// ClientID returns the client id the emulator accepts.
func (e *Emulator) ClientID() string { return e.opts.ClientID }

// ClientSecret returns the client secret the emulator accepts.
func (e *Emulator) ClientSecret() string { return e.opts.ClientSecret }

// Issuer returns the iss of the tokens the emulator signs.
func (e *Emulator) Issuer() string { return e.opts.Issuer }

// TenantID returns the tid claim of the tokens the emulator signs.
func (e *Emulator) TenantID() string { return e.opts.TenantID }

// ServeHTTP implements http.Handler.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeRaw(w, http.StatusRequestEntityTooLarge, `{"message":"Payload too large","error_code":413}`)
		return
	}
	rt, ok := e.routes[r.URL.Path]
	if !ok || r.Method != rt.method {
		// Undocumented here: the checker counts the exchange as unmatched (or, for a path
		// Mosaic documents but the emulator does not serve, validates it).
		rec := newRecorder()
		rec.byDesign = true
		if !ok {
			writeJSON(rec, http.StatusNotFound, map[string]any{"message": "Not found", "error_code": 404})
		} else {
			rec.header.Set("Allow", rt.method)
			writeJSON(rec, http.StatusMethodNotAllowed, map[string]any{"message": "Method not allowed", "error_code": 405})
		}
		e.finish(w, r, body, rec)
		return
	}

	e.mu.Lock()
	e.calls[rt.endpoint]++
	latency := e.latency
	fault := e.takeFault(rt.endpoint)
	e.mu.Unlock()

	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}

	rec := newRecorder()
	switch {
	case fault != nil:
		fault.write(rec)
		rec.byDesign = true
	case rt.auth && !e.validClientToken(r):
		rec.byDesign = true
		writeJSON(rec, http.StatusUnauthorized, map[string]any{"message": "Invalid token", "error_code": 401})
	default:
		rt.handle(e, rec, r, body)
	}

	e.finish(w, r, body, rec)
}

// finish shows the exchange to Options.Observer and sends the buffered answer.
func (e *Emulator) finish(w http.ResponseWriter, r *http.Request, body []byte, rec *recorder) {
	if e.opts.Observer != nil {
		e.opts.Observer(Exchange{
			Request: r, RequestBody: body,
			Status: rec.status, Header: rec.header, Body: rec.buf.Bytes(),
			ByDesign: rec.byDesign,
		})
	}
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.status)
	_, _ = w.Write(rec.buf.Bytes())
}

// recorder buffers a response so it can be validated before it is sent.
type recorder struct {
	header   http.Header
	status   int
	buf      bytes.Buffer
	byDesign bool
}

func newRecorder() *recorder { return &recorder{header: http.Header{}, status: http.StatusOK} }

// markOutOfSpec flags an answer the documents do not describe but the emulator must give
// (errors of operations that document none); see the package docs.
func (w *recorder) markOutOfSpec() { w.byDesign = true }

func writeJSON(w *recorder, status int, v any) {
	w.header.Set("Content-Type", "application/json; charset=utf-8")
	w.status = status
	_ = json.NewEncoder(&w.buf).Encode(v)
}

func writeRaw(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// now returns the emulator's current time.
func (e *Emulator) now() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.nowLocked()
}

func (e *Emulator) nowLocked() time.Time { return e.opts.Now().Add(e.offset) }

// Advance moves the emulator's clock forward by d.
func (e *Emulator) Advance(d time.Duration) {
	e.mu.Lock()
	e.offset += d
	e.mu.Unlock()
}

// SetNow sets the emulator's clock to t; it keeps running from there at the pace of
// Options.Now.
func (e *Emulator) SetNow(t time.Time) {
	e.mu.Lock()
	e.offset = t.Sub(e.opts.Now())
	e.mu.Unlock()
}

// Now returns the emulator's current time.
func (e *Emulator) Now() time.Time { return e.now() }

// SetLatency delays every answer by d (0 turns it off). A request whose context ends first gets
// no answer.
func (e *Emulator) SetLatency(d time.Duration) {
	e.mu.Lock()
	e.latency = d
	e.mu.Unlock()
}

// Calls returns how many requests endpoint has received (including rejected and forced ones).
func (e *Emulator) Calls(endpoint Endpoint) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.calls[endpoint]
}

// bearer returns the bearer token of r, or "".
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
		return ""
	}
	return strings.TrimSpace(h[7:])
}

func (e *Emulator) validClientToken(r *http.Request) bool {
	tok := bearer(r)
	if tok == "" {
		return false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	exp, ok := e.clientTokens[tok]
	return ok && e.nowLocked().Before(exp)
}
