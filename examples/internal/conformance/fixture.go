package conformance

import (
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin"
	"github.com/otlogin/otlogin/examples/internal/contract"
	"github.com/otlogin/otlogin/internal/apptest/safe"
	"github.com/otlogin/otlogin/transmit"
	"github.com/otlogin/otlogin/transmit/transmittest"
)

// Fixture is an [otlogin.Auth] over its own Mosaic emulator, for an app served at a fresh
// loopback address (the Auth's PublicURL) once [Fixture.Start] is called.
type Fixture struct {
	// Emu is the Mosaic emulator the Auth calls.
	Emu *transmittest.Server
	// Auth is configured with CreateUsers on, as in the examples.
	Auth *otlogin.Auth
	// URL is the app's address and PublicURL, without a trailing slash.
	URL string
	// Server is the app's server; nil until Start.
	Server *httptest.Server

	ln    net.Listener
	https bool
}

// NewFixture starts the emulator, reserves the app's address (https when https is true) and
// builds the Auth; mods adjust the Config.
func NewFixture(t *testing.T, https bool, mods ...func(*otlogin.Config)) *Fixture {
	t.Helper()
	emu, _ := contract.NewTestServer(t, transmittest.Options{}) // every exchange held to the OpenAPI documents
	f := &Fixture{Emu: emu, https: https}
	client, err := transmit.New(transmit.Config{BaseURL: f.Emu.BaseURL(), ClientID: f.Emu.ClientID, ClientSecret: f.Emu.ClientSecret})
	require.NoError(t, err)
	f.ln, err = net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.ln.Close() }) // when Start was never called
	f.URL = "http://" + f.ln.Addr().String()
	if https {
		f.URL = "https://" + f.ln.Addr().String()
	}
	cfg := otlogin.Config{Client: client, PublicURL: f.URL, CreateUsers: true,
		Logger: slog.New(slog.DiscardHandler)} // quiet tests: nil would log to slog.Default()
	for _, m := range mods {
		m(&cfg)
	}
	f.Auth, err = otlogin.New(cfg)
	require.NoError(t, err)
	return f
}

// Start serves h at f.URL until the end of the test, which fails if the server logs a
// superfluous WriteHeader (an answer written twice).
func (f *Fixture) Start(t *testing.T, h http.Handler) {
	t.Helper()
	var serverLog safe.Buffer
	t.Cleanup(func() { // runs after the server closed
		assert.NotContains(t, serverLog.String(), "superfluous", "every answer is written once")
	})
	f.Server = httptest.NewUnstartedServer(h)
	f.Server.Config.ErrorLog = log.New(&serverLog, "", 0)
	require.NoError(t, f.Server.Listener.Close())
	f.Server.Listener = f.ln
	if f.https {
		f.Server.StartTLS()
	} else {
		f.Server.Start()
	}
	t.Cleanup(f.Server.Close)
}
