package transmittest

import (
	"net/http/httptest"
)

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

// TB is the part of testing.TB that [NewTestServer] uses; *testing.T and *testing.B satisfy
// it. (The package does not import testing, so an app that embeds the emulator in a dev
// binary does not link the test framework.)
type TB interface {
	Helper()
	Cleanup(func())
}

// NewTestServer starts an emulator for one test and closes it on t.Cleanup.
func NewTestServer(t TB, opts Options) *Server {
	t.Helper()
	s := NewServer(opts)
	t.Cleanup(s.Close)
	return s
}
