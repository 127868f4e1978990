package transmittest

import (
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

// ContractStats counts the OpenAPI checks an emulator ran; see [Emulator.ContractStats].
type ContractStats struct {
	Enabled           bool // false when the spec directory was not found
	Requests          int  // requests validated
	Responses         int  // responses validated
	Unvalidated       int  // request or response bodies the documents give no schema for
	Violations        int  // requests or responses that broke the contract
	OutOfSpecByDesign int  // undocumented answers produced on purpose (Force, the 401 token rule, …)
	Unmatched         int  // requests to a path and method no document describes
}

// ContractStats returns the contract-check counters.
func (e *Emulator) ContractStats() ContractStats {
	if e.checker == nil {
		return ContractStats{}
	}
	s := e.checker.Stats()
	return ContractStats{Enabled: true, Requests: s.Requests, Responses: s.Responses, Unvalidated: s.Unvalidated,
		Violations: s.Violations, OutOfSpecByDesign: s.OutOfSpecByDesign, Unmatched: s.Unmatched}
}

// ContractViolations returns a description of every contract violation seen, oldest first.
func (e *Emulator) ContractViolations() []string {
	if e.checker == nil {
		return nil
	}
	return e.checker.Violations()
}

// Server is an [Emulator] listening on a local httptest server.
type Server struct {
	*Emulator
	// URL is the server's root, e.g. "http://127.0.0.1:41234" (the token endpoint is
	// URL+"/oidc/token"; everything else is under [Server.BaseURL]).
	URL string
	// ClientID and ClientSecret are the credentials the emulator accepts.
	ClientID     string
	ClientSecret string

	srv *httptest.Server
	app *httptest.Server // the application's own domain (Options.AppIssuer), or nil
}

// NewServer starts an emulator on 127.0.0.1. Call Close when done.
func NewServer(opts Options) *Server {
	e := New(opts)
	ts := httptest.NewServer(e)
	if e.opts.BaseURL == "" {
		e.opts.BaseURL = ts.URL
	}
	s := &Server{Emulator: e, URL: ts.URL, ClientID: e.opts.ClientID, ClientSecret: e.opts.ClientSecret, srv: ts}
	if e.opts.AppIssuer != "" {
		s.app = httptest.NewServer(e.AppJWKSHandler())
	}
	return s
}

// AppJWKSURL returns the URL of the application's own JWKS when Options.AppIssuer is set
// (served on a second listener, standing for the application's domain), else "".
func (s *Server) AppJWKSURL() string {
	if s.app == nil {
		return ""
	}
	return s.app.URL + AppJWKSPath
}

// BaseURL returns the API base, URL+"/cis" (what the transmit client takes as its base).
func (s *Server) BaseURL() string { return s.URL + "/cis" }

// TokenURL returns URL+"/oidc/token".
func (s *Server) TokenURL() string { return s.URL + "/oidc/token" }

// Close shuts the server down.
func (s *Server) Close() {
	s.srv.Close()
	if s.app != nil {
		s.app.Close()
	}
}

// EnvRequireServices is the environment variable that turns "not available" skips into
// failures (CI sets it to 1).
const EnvRequireServices = "OTLOGIN_REQUIRE_SERVICES"

// NewTestServer starts an emulator for one test and closes it on t.Cleanup. It checks every
// exchange against the OpenAPI documents: at cleanup the test fails listing any violation,
// and a summary line is appended to $OTLOGIN_CONTRACT_REPORT when that is set. Without the
// documents the checks are skipped with a log line, or the test fails when
// $OTLOGIN_REQUIRE_SERVICES=1.
func NewTestServer(t testing.TB, opts Options) *Server {
	t.Helper()
	s := NewServer(opts)
	if s.checker == nil {
		if os.Getenv(EnvRequireServices) == "1" {
			s.Close()
			t.Fatalf("transmittest: contract checks required but unavailable: %v", s.contractErr)
		}
		t.Log("contract checks skipped: spec not found; set OTLOGIN_SPEC_DIR")
	}
	t.Cleanup(func() {
		s.Close()
		s.CheckContract(t)
	})
	return s
}

// CheckContract fails t listing every OpenAPI contract violation the emulator has seen, and
// appends its counts to $OTLOGIN_CONTRACT_REPORT when that is set. [NewTestServer] calls it at
// cleanup; call it yourself for an emulator made with [New] or [NewServer] (the example apps'
// embedded emulator, for instance). Without the OpenAPI documents it does nothing.
func (e *Emulator) CheckContract(t testing.TB) {
	t.Helper()
	if e.checker == nil {
		return
	}
	if v := e.checker.Violations(); len(v) > 0 {
		t.Errorf("transmittest: %d OpenAPI contract violation(s):\n  %s", len(v), strings.Join(v, "\n  "))
	}
	if path := os.Getenv("OTLOGIN_CONTRACT_REPORT"); path != "" {
		if err := e.checker.AppendReport(path, t.Name()); err != nil {
			t.Errorf("transmittest: %v", err)
		}
	}
}
