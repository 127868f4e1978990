// Command gin is the otlogin example on the gin router, in one file to copy into your app: it
// imports only otlogin's public packages, its gin adapter, gin and the standard library, so
// in a module of your own `go mod tidy` is all it needs. Everything otlogin needs is written
// out in the order an app does it: the Mosaic client, the session store, the Config, Check at
// start-up, the routes with ginotl's Middleware, Mount and RequireAuth, and a server with
// timeouts and a graceful shutdown. It is examples/nethttp on gin: the same environment,
// routes, pages and behaviour (the conformance suite runs against all three).
//
//	go run ./examples/gin     # then open http://localhost:8080 and sign in
//
// Environment: ADDR (default 127.0.0.1:8080), PUBLIC_URL (default http://localhost on ADDR's
// port), TRANSMIT_CLIENT_ID, TRANSMIT_CLIENT_SECRET, TRANSMIT_BASE_URL (default the sandbox),
// SESSION_STORE (memory, redis://..., postgres://...).
//
// Development only: without TRANSMIT_CLIENT_ID it runs against the embedded Mosaic emulator
// (package transmittest), which sends no email or SMS, and shows the links and codes it
// "sends" at /dev/outbox (as JSON at /dev/outbox.json); ADDR must then be a loopback address.
// The parts that exist only for that are marked "Development only".
//
// The end of the file is this example's own, not otlogin: reading the environment, the
// PUBLIC_URL warnings and the demo pages. Replace them with your configuration and pages.
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/otlogin/otlogin"
	ginotl "github.com/otlogin/otlogin/adapters/gin"
	"github.com/otlogin/otlogin/store"
	"github.com/otlogin/otlogin/transmit"
	"github.com/otlogin/otlogin/transmit/transmittest"
)

func main() {
	gin.SetMode(gin.ReleaseMode) // no route dump at start-up
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, envFrom(os.Getenv), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "example:", err)
		os.Exit(1)
	}
}

// run sets otlogin up as env says, serves the app on env.Addr until ctx ends, then shuts
// down gracefully. It writes the start-up notes and otlogin's log to out.
func run(ctx context.Context, env environment, out io.Writer) error {
	// 1. The Mosaic client, with your tenant's app credentials.
	tc := transmit.Config{BaseURL: env.BaseURL, ClientID: env.ClientID, ClientSecret: env.ClientSecret}
	var outbox http.Handler // Development only: the emulator's outbox page; nil with a real tenant.
	if env.ClientID == "" {
		// Development only: without credentials the embedded Mosaic emulator stands in for
		// Mosaic. It sends no email or SMS and shows what it would send on its outbox page.
		// That page shows every sign-in code, so the app listens on loopback only
		// (LoopbackAddr) and the page answers only this machine (LoopbackOnly: 403 to other
		// machines, and to other web sites' pages through DNS rebinding).
		if !transmittest.LoopbackAddr(env.Addr) {
			return fmt.Errorf("without TRANSMIT_CLIENT_ID the app runs the embedded emulator, whose outbox (%s) shows every "+
				"sign-in code: it listens only on a loopback address, not ADDR=%q", outboxPath, env.Addr)
		}
		emu := transmittest.NewServer(transmittest.Options{
			PublicURLs: []string{env.PublicURL}, // where its magic links may point
			Observer:   env.EmulatorObserver,    // nil, except in this example's tests
		})
		defer emu.Close()
		tc = transmit.Config{BaseURL: emu.BaseURL(), ClientID: emu.ClientID, ClientSecret: emu.ClientSecret}
		outbox = transmittest.LoopbackOnly(emu.OutboxHandler())
		fmt.Fprintln(out, "No TRANSMIT_CLIENT_ID: using the embedded Mosaic emulator (no real email or SMS is sent).")
	} else if env.ClientSecret == "" {
		return errors.New("TRANSMIT_CLIENT_SECRET is required with TRANSMIT_CLIENT_ID")
	}
	client, err := transmit.New(tc)
	if err != nil {
		return err
	}

	// 2. The Config. Sessions live in otlogin's memory store unless SESSION_STORE names a
	// Redis or PostgreSQL store, which several instances of the app can share.
	logger := slog.New(slog.NewTextHandler(out, nil))
	cfg := otlogin.Config{
		Client:      client,
		PublicURL:   env.PublicURL, // builds the magic-link redirect_uri; never the Host header
		CreateUsers: true,          // create users Mosaic does not know yet
		Logger:      logger,
	}
	if env.SessionStore != "memory" {
		st, err := store.Open(ctx, env.SessionStore)
		if err != nil {
			return err
		}
		defer st.Close()
		cfg.SessionStore = st
		fmt.Fprintf(out, "Sessions: %s store\n", st.Kind())
	}
	auth, err := otlogin.New(cfg) // validates the Config; makes no network call
	if err != nil {
		return err
	}
	if outbox != nil {
		fmt.Fprintf(out, "Sign in at %s/ and read the links and codes at %s%s\n", env.PublicURL, env.PublicURL, outboxPath)
	}
	for _, w := range publicURLWarnings(env) {
		fmt.Fprintln(out, "WARNING: "+w)
	}

	// 3. Check at start-up: one client-token, discovery and JWKS call names a wrong secret,
	// base URL or issuer now instead of as "temporarily unavailable" at the first sign-in. A
	// production app should stop here (see README, net/http); this example prints the
	// problem, logs it at Error for log-based alerts, and serves anyway.
	if err := auth.Check(ctx); err != nil {
		fmt.Fprintf(out, "WARNING: Mosaic check failed: %v\n", err)
		logger.Error("otlogin: Mosaic check failed", "event", "config", "error", err.Error())
	}

	// 4. Serve until ctx ends (SIGINT, SIGTERM), then let the requests in flight finish and
	// the Mosaic revocations otlogin runs in the background after a logout.
	ln, err := net.Listen("tcp", env.Addr)
	if err != nil {
		return err
	}
	srv := newServer(newRouter(auth, outbox))
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	fmt.Fprintf(out, "Listening on %s\n", env.Addr)
	fmt.Fprintf(out, "Open %s/ in your browser (PUBLIC_URL; another host name, such as 127.0.0.1 for localhost, has its own cookies)\n",
		env.PublicURL)
	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	return auth.Shutdown(shutdownCtx)
}

// newRouter wires the routes: /healthz outside the session layer, everything else in a
// group behind ginotl.Middleware; /dashboard and /api/me behind RequireAuth (a browser is
// sent to the sign-in page, fetch and curl get 401 JSON). outbox, when not nil, is the
// emulator's.
func newRouter(auth *otlogin.Auth, outbox http.Handler) http.Handler {
	r := gin.New()
	r.GET("/healthz", func(c *gin.Context) { c.String(http.StatusOK, "ok") })

	app := r.Group("/", ginotl.Middleware(auth)) // loads and saves the session, puts the user in the context
	ginotl.Mount(app, auth)                      // the sign-in routes and pages under /auth
	app.GET("/", func(c *gin.Context) {          // public; shows who is signed in, if anyone
		u, _ := ginotl.User(c) // nil when nobody is signed in
		c.Data(http.StatusOK, htmlType, homePage(u))
	})
	app.GET("/dashboard", ginotl.RequireAuth(auth), func(c *gin.Context) {
		u, _ := ginotl.User(c)
		c.Data(http.StatusOK, htmlType, dashboardPage(u))
	})
	app.GET("/api/me", ginotl.RequireAuth(auth), func(c *gin.Context) {
		u, _ := ginotl.User(c)
		c.JSON(http.StatusOK, meOf(u))
	})
	if outbox != nil { // Development only
		app.GET(outboxPath, gin.WrapH(outbox))
		app.GET(outboxJSONPath, gin.WrapH(outbox))
	}
	return r
}

// Server timeouts, sized from otlogin's defaults (README, "Deadlines"): the longest request
// otlogin serves, a send or an authenticate, reads its body within Config.BodyTimeout (10s),
// makes a handful of store calls of Config.StoreTimeout (2s each, at most 8) and spends at
// most Config.Timeout (10s) on Mosaic: about 36s.
const (
	readHeaderTimeout = 5 * time.Second                    // cuts clients that send their headers slowly
	readTimeout       = readHeaderTimeout + 10*time.Second // the headers, then the body within BodyTimeout
	longestRequest    = 40 * time.Second                   // every otlogin request, with its default timeouts
	writeTimeout      = longestRequest + readHeaderTimeout // runs from the end of the headers: let the longest request answer
	idleTimeout       = 60 * time.Second                   // closes idle keep-alive connections
	shutdownTimeout   = longestRequest + 10*time.Second    // lets the requests in flight finish on SIGTERM
)

// newServer returns the app's server for h, with every timeout set.
func newServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
	}
}

// Development only: where the app serves the emulator's outbox.
const (
	outboxPath     = "/dev/outbox"
	outboxJSONPath = "/dev/outbox.json"
)

// ---------------------------------------------------------------------------------------
// The rest of the file is this example's own, not otlogin: replace it with your app's
// configuration and pages.

// environment is the example's configuration, read by envFrom.
type environment struct {
	Addr         string // ADDR. Default: "127.0.0.1:8080".
	PublicURL    string // PUBLIC_URL. Default: "http://localhost:" + ADDR's port ("http://localhost:8080").
	ClientID     string // TRANSMIT_CLIENT_ID. Default: "" (run the embedded emulator).
	ClientSecret string // TRANSMIT_CLIENT_SECRET. Required with ClientID.
	BaseURL      string // TRANSMIT_BASE_URL. Default: transmit.SandboxBaseURL.
	SessionStore string // SESSION_STORE: "memory", "redis://..." or "postgres://...". Default: "memory".
	// EmulatorObserver, when set, is the embedded emulator's Options.Observer (this
	// example's tests check its traffic against Mosaic's OpenAPI documents). Not read from
	// the environment.
	EmulatorObserver func(transmittest.Exchange)
}

// envFrom reads an environment through getenv (os.Getenv) and applies the defaults; a
// blank variable counts as unset.
func envFrom(getenv func(string) string) environment {
	or := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	addr := or("ADDR", "127.0.0.1:8080")
	port := "8080" // PUBLIC_URL's default is http://localhost on ADDR's port
	if _, p, err := net.SplitHostPort(addr); err == nil && p != "" {
		port = p
	}
	return environment{
		Addr:         addr,
		PublicURL:    strings.TrimRight(or("PUBLIC_URL", "http://localhost:"+port), "/"),
		ClientID:     or("TRANSMIT_CLIENT_ID", ""),
		ClientSecret: or("TRANSMIT_CLIENT_SECRET", ""),
		BaseURL:      or("TRANSMIT_BASE_URL", transmit.SandboxBaseURL),
		SessionStore: or("SESSION_STORE", "memory"),
	}
}

// publicURLWarnings names PUBLIC_URL settings that break sign-in on this example, which
// serves plain http on ADDR: an https PUBLIC_URL (the Secure session cookie is never sent
// back over http unless a TLS proxy is in front) and a port other than ADDR's (links and
// redirects go where the app does not listen, unless a proxy forwards them).
func publicURLWarnings(env environment) []string {
	u, err := url.Parse(env.PublicURL)
	if err != nil {
		return nil // otlogin.New has refused it already
	}
	var ws []string
	if u.Scheme == "https" {
		ws = append(ws, fmt.Sprintf("PUBLIC_URL %s is https but this app serves plain http on %s: "+
			"put a TLS-terminating proxy in front of it, or use http://localhost:<port> (the Secure session cookie is not sent over http)",
			env.PublicURL, env.Addr))
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	_, addrPort, err := net.SplitHostPort(env.Addr)
	if err != nil {
		addrPort = "8080"
	}
	if port != addrPort {
		ws = append(ws, fmt.Sprintf("PUBLIC_URL %s is on port %s but the app listens on port %s (ADDR=%s): "+
			"sign-in links and redirects go to PUBLIC_URL, so fix one of them unless a proxy forwards that port here",
			env.PublicURL, port, addrPort, env.Addr))
	}
	return ws
}

// htmlType is the Content-Type of the pages.
const htmlType = "text/html; charset=utf-8"

// pagesHTML holds the home and dashboard pages.
const pagesHTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>otlogin example</title></head>
<body><main>
<h1>otlogin example</h1>
{{if .}}<p>Signed in as {{.Email}}{{.PhoneNumber}}. <a href="/dashboard">Dashboard</a></p>
<form method="post" action="/auth/logout"><button type="submit">Sign out</button></form>
{{else}}<p><a href="/auth/login?next=/dashboard">Sign in</a></p>{{end}}
</main></body></html>
{{define "dashboard"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Dashboard</title></head>
<body><main>
<h1>Dashboard</h1>
<p>You are signed in as <strong>{{.Email}}{{if not .Email}}{{.PhoneNumber}}{{end}}</strong> ({{.Method}}).</p>
<form method="post" action="/auth/logout"><button type="submit">Sign out</button></form>
</main></body></html>
{{end}}`

// pages is pagesHTML parsed; the text is constant, so Must cannot fail.
var pages = template.Must(template.New("home").Parse(pagesHTML))

// render renders one page for u (the signed-in user, or nil).
func render(name string, u *otlogin.User) []byte {
	var b bytes.Buffer
	if err := pages.ExecuteTemplate(&b, name, u); err != nil {
		return []byte("<!doctype html><title>Error</title><p>Something went wrong.</p>\n")
	}
	return b.Bytes()
}

// homePage is the public home page; u is the signed-in user or nil.
func homePage(u *otlogin.User) []byte { return render("home", u) }

// dashboardPage is the protected page showing the signed-in user u.
func dashboardPage(u *otlogin.User) []byte { return render("dashboard", u) }

// me is the answer of GET /api/me.
type me struct {
	Subject     string `json:"subject"`
	Email       string `json:"email"`
	PhoneNumber string `json:"phone_number"`
	Method      string `json:"method"`
}

// meOf returns the /api/me answer for the signed-in user u.
func meOf(u *otlogin.User) me {
	return me{Subject: u.Subject, Email: u.Email, PhoneNumber: u.PhoneNumber, Method: u.Method}
}
