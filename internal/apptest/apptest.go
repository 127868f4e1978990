// Package apptest builds test deployments of an otlogin app: several instances of an app like
// examples/nethttp, each an [otlogin.Auth] in its own httptest server, sharing one session
// store and one Mosaic emulator, behind a small round-robin load balancer (an
// httputil.ReverseProxy) that is the app's PublicURL. Browsers are cookie-jar clients of the
// load balancer, so they hold one cookie whatever instance answers, as in production.
//
// A request goes to the next instance in turn, or to instance i when made with the
// instance argument i (the balancer reads and strips the [HeaderInstance] request header).
// Every answer names the instance that served it in the [HeaderServedBy] header.
//
// Client methods report transport failures with t.Errorf (never t.FailNow), so they can be
// called from many goroutines at once.
package apptest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin"
	"github.com/otlogin/otlogin/internal/apptest/safe"
	"github.com/otlogin/otlogin/internal/exchangelog"
	"github.com/otlogin/otlogin/transmit"
	"github.com/otlogin/otlogin/transmit/transmittest"
)

// Header names used between clients, the load balancer and the instances.
const (
	// HeaderInstance, on a request to the load balancer, picks the instance (0-based).
	HeaderInstance = "X-Apptest-Instance"
	// HeaderServedBy, on every answer, is the index of the instance that served it.
	HeaderServedBy = "X-Apptest-Served-By"
)

// Any lets the load balancer choose the instance (round robin).
const Any = -1

// Options configure [New].
type Options struct {
	// Store is the session store every instance uses (Config.SessionStore). Required.
	Store scs.Store
	// Instances is the number of app instances. Default: 2.
	Instances int
	// Emulator is the Mosaic they call. Default: a new transmittest.NewTestServer.
	Emulator *transmittest.Server
	// Config adjusts each instance's Config before otlogin.New. Default: nil.
	Config func(*otlogin.Config)
	// WrapStore, when set, gives instance i the store WrapStore(i, Store) instead of Store
	// (to slow down or break one instance's view of the shared store). Default: nil.
	WrapStore func(i int, s scs.Store) scs.Store
	// Routes, when set, adds routes of the app's own to instance i's mux, served inside
	// Middleware like App's. Default: nil.
	Routes func(i int, a *otlogin.Auth, mux *http.ServeMux)
}

// Cluster is a running deployment.
type Cluster struct {
	t testing.TB
	// Emu is the shared Mosaic emulator.
	Emu *transmittest.Server
	// Auths are the instances' Auth values, in instance order.
	Auths []*otlogin.Auth
	// Instances are the instances' servers (reachable directly, bypassing the balancer).
	Instances []*httptest.Server
	// LB is the load balancer; its URL is the app's PublicURL.
	LB *httptest.Server
	// PublicURL is the URL every instance was configured with (the balancer's).
	PublicURL string
	next      atomic.Uint64
}

// New starts the instances and the load balancer; everything stops at the end of the test.
func New(t testing.TB, opts Options) *Cluster {
	t.Helper()
	require.NotNil(t, opts.Store, "apptest: Options.Store is required")
	if opts.Instances <= 0 {
		opts.Instances = 2
	}
	c := &Cluster{t: t, Emu: opts.Emulator}
	if c.Emu == nil {
		c.Emu = transmittest.NewTestServer(t, exchangelog.Record(transmittest.Options{}))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	c.PublicURL = "http://" + ln.Addr().String()
	for i := range opts.Instances {
		client, err := transmit.New(transmit.Config{BaseURL: c.Emu.BaseURL(), ClientID: c.Emu.ClientID, ClientSecret: c.Emu.ClientSecret})
		require.NoError(t, err)
		st := opts.Store
		if opts.WrapStore != nil {
			st = opts.WrapStore(i, st)
		}
		cfg := otlogin.Config{Client: client, PublicURL: c.PublicURL, SessionStore: st,
			Logger: slog.New(slog.DiscardHandler)} // quiet tests: nil would log to slog.Default()
		if opts.Config != nil {
			opts.Config(&cfg)
		}
		a, err := otlogin.New(cfg)
		require.NoError(t, err)
		var routes func(*http.ServeMux)
		if opts.Routes != nil {
			routes = func(mux *http.ServeMux) { opts.Routes(i, a, mux) }
		}
		srv := httptest.NewServer(app(a, strconv.Itoa(i), routes))
		t.Cleanup(srv.Close)
		c.Auths = append(c.Auths, a)
		c.Instances = append(c.Instances, srv)
	}
	transport := &http.Transport{MaxIdleConnsPerHost: 64}
	t.Cleanup(transport.CloseIdleConnections)
	lb := &httputil.ReverseProxy{
		Transport: transport,
		Rewrite: func(pr *httputil.ProxyRequest) {
			i := int(c.next.Add(1)-1) % len(c.Instances)
			if v := pr.In.Header.Get(HeaderInstance); v != "" {
				if n, err := strconv.Atoi(v); err == nil && n >= 0 && n < len(c.Instances) {
					i = n
				}
			}
			pr.Out.Header.Del(HeaderInstance)
			target, _ := url.Parse(c.Instances[i].URL)
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host // the instance sees the public host, as behind a real balancer
		},
	}
	c.LB = httptest.NewUnstartedServer(lb)
	require.NoError(t, c.LB.Listener.Close())
	c.LB.Listener = ln
	c.LB.Start()
	t.Cleanup(c.LB.Close)
	return c
}

// App is the test application around a: a public home page and /healthz, a protected page
// (/dashboard) and API (/api/me), /api/token (the user's Mosaic access token, refreshed by
// otlogin when needed; 502 when it cannot be had), and the auth routes under /auth/. Every answer carries
// HeaderServedBy: name.
func App(a *otlogin.Auth, name string) http.Handler { return app(a, name, nil) }

// app is App with the routes routes adds (when not nil).
func app(a *otlogin.Auth, name string, routes func(*http.ServeMux)) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/auth/", a.Handler())
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "home")
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	})
	mux.Handle("GET /dashboard", a.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := otlogin.UserFromContext(r.Context())
		_, _ = fmt.Fprintf(w, "dashboard of %s", u.Email)
	})))
	mux.Handle("GET /api/me", a.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := otlogin.UserFromContext(r.Context())
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"subject": u.Subject, "email": u.Email, "method": u.Method})
	})))
	mux.Handle("GET /api/token", a.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, err := a.AccessToken(r.Context())
		if err != nil {
			http.Error(w, "no access token", http.StatusBadGateway)
			return
		}
		_, _ = io.WriteString(w, tok)
	})))
	if routes != nil {
		routes(mux)
	}
	h := a.Middleware(mux)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(HeaderServedBy, name)
		h.ServeHTTP(w, r)
	})
}

// Client is a browser: a cookie jar for the load balancer's host, redirects not followed.
type Client struct {
	c    *Cluster
	HTTP *http.Client
}

// NewClient returns a browser with an empty cookie jar.
func (c *Cluster) NewClient() *Client {
	return &Client{c: c, HTTP: safe.NewBrowser(30 * time.Second)}
}

// Response is a read answer. Status is 0 when the request failed (already reported).
type Response struct {
	Status   int
	Header   http.Header
	Body     string
	ServedBy string // the instance that answered
}

// JSON decodes the body into a map of strings ("" values when it is not such an object).
func (r Response) JSON() map[string]string {
	m := map[string]string{}
	_ = json.Unmarshal([]byte(r.Body), &m)
	return m
}

// String summarises the answer for assertion messages.
func (r Response) String() string {
	return fmt.Sprintf("%d from instance %s: %.300s", r.Status, r.ServedBy, r.Body)
}

// Do sends req through the load balancer to instance inst (or [Any]).
func (cl *Client) Do(inst int, req *http.Request) Response {
	if inst >= 0 {
		req.Header.Set(HeaderInstance, strconv.Itoa(inst))
	}
	resp, err := cl.HTTP.Do(req)
	if err != nil {
		cl.c.t.Errorf("apptest: %s %s: %v", req.Method, req.URL.Path, err)
		return Response{}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		cl.c.t.Errorf("apptest: reading %s %s: %v", req.Method, req.URL.Path, err)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: string(b), ServedBy: resp.Header.Get(HeaderServedBy)}
}

func (cl *Client) newRequest(method, path string, body io.Reader, header []string) *http.Request {
	req, err := http.NewRequest(method, cl.c.PublicURL+path, body)
	if err != nil {
		cl.c.t.Errorf("apptest: %v", err)
		req, _ = http.NewRequest(method, cl.c.PublicURL+"/", nil)
	}
	if method != http.MethodGet && method != http.MethodHead {
		// What a browser sends with a same-origin form or fetch.
		req.Header.Set("Origin", cl.c.PublicURL)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return req
}

// Get sends a GET for path (with optional header name, value pairs) to instance inst.
func (cl *Client) Get(inst int, path string, header ...string) Response {
	return cl.Do(inst, cl.newRequest(http.MethodGet, path, nil, header))
}

// PostForm posts a form to path on instance inst.
func (cl *Client) PostForm(inst int, path string, vals url.Values, header ...string) Response {
	req := cl.newRequest(http.MethodPost, path, strings.NewReader(vals.Encode()), header)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return cl.Do(inst, req)
}

// PostJSON posts v as JSON to path on instance inst.
func (cl *Client) PostJSON(inst int, path string, v any, header ...string) Response {
	b, err := json.Marshal(v)
	if err != nil {
		cl.c.t.Errorf("apptest: %v", err)
	}
	req := cl.newRequest(http.MethodPost, path, bytes.NewReader(b), header)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	return cl.Do(inst, req)
}

// SessionCookie returns the client's session cookie value, "" when it has none.
func (cl *Client) SessionCookie() string {
	u, _ := url.Parse(cl.c.PublicURL)
	for _, ck := range cl.HTTP.Jar.Cookies(u) {
		if ck.Name == "otlogin" || ck.Name == "__Host-otlogin" {
			return ck.Value
		}
	}
	return ""
}

// WithCookie returns a new browser holding only the session cookie value.
func (c *Cluster) WithCookie(value string) *Client {
	cl := c.NewClient()
	u, _ := url.Parse(c.PublicURL)
	cl.HTTP.Jar.SetCookies(u, []*http.Cookie{{Name: "otlogin", Value: value, Path: "/"}})
	return cl
}

// SendOTP asks instance inst to email a passcode to email (JSON API).
func (cl *Client) SendOTP(inst int, email string) Response {
	return cl.PostJSON(inst, "/auth/otp/send", map[string]string{"channel": "email", "identifier": email})
}

// AuthenticateOTP posts the newest passcode the emulator sent to email, to instance inst.
func (cl *Client) AuthenticateOTP(inst int, email string) Response {
	code, ok := cl.c.Emu.LastCode(email)
	if !ok {
		cl.c.t.Errorf("apptest: no passcode was sent to %s", email)
	}
	return cl.PostJSON(inst, "/auth/otp/authenticate", map[string]string{"passcode": code})
}

// SignInOTP signs the browser in as email with an email passcode sent through instance
// sendOn and entered through instance authOn. It reports a failure with t.Errorf and returns
// false.
func (cl *Client) SignInOTP(sendOn, authOn int, email string) bool {
	r := cl.SendOTP(sendOn, email)
	if r.Status != http.StatusAccepted {
		cl.c.t.Errorf("apptest: send to %s: %s", email, r)
		return false
	}
	r = cl.AuthenticateOTP(authOn, email)
	if r.Status != http.StatusOK {
		cl.c.t.Errorf("apptest: authenticate %s: %s", email, r)
		return false
	}
	return true
}

// SignedIn returns a new browser signed in as email (an emulator user) with an email passcode
// sent through instance sendOn and entered through instance authOn ([Client.SignInOTP]).
// Unlike the Client methods it ends the test at once when the sign-in fails: call it from
// the test's goroutine.
func (c *Cluster) SignedIn(sendOn, authOn int, email string) *Client {
	c.t.Helper()
	cl := c.NewClient()
	require.True(c.t, cl.SignInOTP(sendOn, authOn, email))
	return cl
}

// CreateUsers creates n emulator users named prefix-<i>@example.com and returns their
// addresses.
func (c *Cluster) CreateUsers(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d@example.com", prefix, i)
		c.Emu.CreateUser(out[i], "")
	}
	return out
}
