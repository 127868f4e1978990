// Command loadtest measures, over loopback, how many requests per second an otlogin app
// serves for a signed-in GET /api/me compared with GET /healthz (which skips the session
// layer) and with GET /raw (one raw read of the same session from the session store, and
// nothing else), on the same server.
//
// It builds the app as examples/nethttp does (embedded Mosaic emulator, the same Config;
// /healthz and /raw outside Middleware, /api/me behind RequireAuth), on the session store that -store names (default: $SESSION_STORE, else
// "memory"; "redis://..." and "postgres://..." as the example apps take them). It listens
// on 127.0.0.1:0, signs in once with an email passcode read from the dev outbox, then
// drives the three routes with -conns keep-alive clients, alternating between them in
// rounds of at most 250ms, for -duration per route. It stops by itself and touches nothing
// but loopback and the store (one session, which expires as any other).
//
//	go run ./examples/bench/loadtest -duration 5s -conns 8
//	SESSION_STORE=redis://127.0.0.1:6379/0 go run ./examples/bench/loadtest -duration 5s
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/otlogin/otlogin"
	"github.com/otlogin/otlogin/examples/bench/internal/stats"
	"github.com/otlogin/otlogin/examples/internal/exampleapp"
	"github.com/otlogin/otlogin/store"
	"github.com/otlogin/otlogin/transmit"
	"github.com/otlogin/otlogin/transmit/transmittest"
)

// options are the command-line settings.
type options struct {
	Duration time.Duration // load time per route
	Conns    int           // concurrent keep-alive clients
	Store    string        // SESSION_STORE: "memory", "redis://..." or "postgres://..."
}

// result is the outcome of one run.
type result struct {
	Healthz rate
	Raw     rate // one raw store read of the session
	Me      rate
	Ratio   float64 // Me.PerSecond / Healthz.PerSecond
	// MedianRatio is the median over rounds of the same ratio, each round measuring the
	// routes back to back: steadier than Ratio on a machine with other load.
	MedianRatio float64
	RawRatio    float64 // Me.PerSecond / Raw.PerSecond
	// MedianRawRatio is the median over rounds of RawRatio.
	MedianRawRatio float64
	Store          string // the store's kind: memory, redis or postgres
	Conns          int
	Duration       time.Duration
}

// rate is what one route served.
type rate struct {
	Requests  int64
	Errors    int64
	Elapsed   time.Duration
	PerSecond float64
}

func main() { os.Exit(mainCode()) }

// mainCode runs the command and returns its exit status, after its deferred cleanups.
func mainCode() int {
	var o options
	flag.DurationVar(&o.Duration, "duration", 5*time.Second, "load time per route (at most 10m)")
	flag.IntVar(&o.Conns, "conns", 8, "concurrent keep-alive clients (1-256)")
	flag.StringVar(&o.Store, "store", os.Getenv("SESSION_STORE"), `session store: "memory", "redis://..." or "postgres://..." (default $SESSION_STORE, else memory)`)
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run (server and clients) to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadtest:", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "loadtest:", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	res, err := run(context.Background(), o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		return 1
	}
	report(os.Stdout, res)
	return 0
}

// report prints res as a small table.
func report(w io.Writer, res result) {
	fmt.Fprintf(w, "loadtest: %s store, %d keep-alive conns over loopback, %s per route, GOMAXPROCS=%d, %s\n",
		res.Store, res.Conns, res.Duration, runtime.GOMAXPROCS(0), runtime.Version())
	for _, r := range []struct {
		name string
		rate rate
	}{{"GET /healthz", res.Healthz}, {"GET /raw (one store read)", res.Raw}, {"GET /api/me (signed in)", res.Me}} {
		fmt.Fprintf(w, "%-26s %9d req %6d errors %10.0f req/s\n", r.name, r.rate.Requests, r.rate.Errors, r.rate.PerSecond)
	}
	fmt.Fprintf(w, "ratio /api/me : /healthz = %.2f (median of per-round ratios %.2f)\n", res.Ratio, res.MedianRatio)
	fmt.Fprintf(w, "ratio /api/me : /raw     = %.2f (median of per-round ratios %.2f)\n", res.RawRatio, res.MedianRawRatio)
}

// run starts the app and the emulator, signs in, measures both routes and shuts down.
func run(ctx context.Context, o options) (result, error) {
	if o.Duration <= 0 || o.Duration > 10*time.Minute {
		return result{}, errors.New("-duration must be in (0, 10m]")
	}
	if o.Conns < 1 || o.Conns > 256 {
		return result{}, errors.New("-conns must be in [1, 256]")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return result{}, err
	}
	base := "http://" + ln.Addr().String()
	app, err := newApp(ctx, base, o.Store)
	if err != nil {
		ln.Close()
		return result{}, err
	}
	defer app.close()
	kind := app.kind
	srv := &http.Server{Handler: newRouter(app.auth, app.outbox, app.sessions), ReadHeaderTimeout: 5 * time.Second}
	serveDone := make(chan error, 1)
	go func() { serveDone <- srv.Serve(ln) }()
	defer func() {
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
		<-serveDone
	}()

	cookie, err := signIn(ctx, base)
	if err != nil {
		return result{}, fmt.Errorf("sign in: %w", err)
	}

	tr := &http.Transport{
		MaxIdleConns:        o.Conns,
		MaxIdleConnsPerHost: o.Conns,
		MaxConnsPerHost:     o.Conns,
		DisableCompression:  true,
		IdleConnTimeout:     time.Minute,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}

	res := result{Store: kind, Conns: o.Conns, Duration: o.Duration}
	targets := []struct {
		url    string
		cookie string
		into   *rate
	}{
		{base + "/healthz", "", &res.Healthz},
		{base + "/raw", cookie, &res.Raw},
		{base + "/api/me", cookie, &res.Me},
	}
	// Warm up every route (connections, caches), then alternate in rounds so drift in the
	// machine's load affects them alike.
	warm := min(o.Duration/10, 500*time.Millisecond)
	for _, t := range targets {
		if _, err := drive(ctx, client, t.url, t.cookie, o.Conns, warm); err != nil {
			return result{}, err
		}
	}
	const round = 250 * time.Millisecond
	rounds := max(1, int((o.Duration+round-1)/round))
	per := o.Duration / time.Duration(rounds)
	var ratios, rawRatios []float64
	perSecond := func(r rate) float64 { return float64(r.Requests) / r.Elapsed.Seconds() }
	for range rounds {
		var perRound [3]rate
		for i, t := range targets {
			r, err := drive(ctx, client, t.url, t.cookie, o.Conns, per)
			if err != nil {
				return result{}, err
			}
			perRound[i] = r
			t.into.Requests += r.Requests
			t.into.Errors += r.Errors
			t.into.Elapsed += r.Elapsed
		}
		h, raw, m := perRound[0], perRound[1], perRound[2]
		if m.Elapsed > 0 && h.Requests > 0 {
			ratios = append(ratios, perSecond(m)/perSecond(h))
		}
		if m.Elapsed > 0 && raw.Requests > 0 {
			rawRatios = append(rawRatios, perSecond(m)/perSecond(raw))
		}
	}
	for _, r := range []*rate{&res.Healthz, &res.Raw, &res.Me} {
		if r.Elapsed > 0 {
			r.PerSecond = float64(r.Requests) / r.Elapsed.Seconds()
		}
	}
	if res.Healthz.PerSecond > 0 {
		res.Ratio = res.Me.PerSecond / res.Healthz.PerSecond
	}
	if res.Raw.PerSecond > 0 {
		res.RawRatio = res.Me.PerSecond / res.Raw.PerSecond
	}
	res.MedianRatio = stats.Median(ratios)
	res.MedianRawRatio = stats.Median(rawRatios)
	return res, nil
}

// loadApp is the app under load: otlogin set up as examples/nethttp sets it up without a
// Mosaic tenant (the embedded emulator, the same Config) on the store SESSION_STORE names.
type loadApp struct {
	auth     *otlogin.Auth
	outbox   http.Handler
	sessions scs.Store // what the Auth keeps its sessions in, read directly by /raw
	kind     string    // "memory", "redis" or "postgres"
	emu      *transmittest.Server
	st       *store.Store // nil for memory
}

// newApp builds the loadApp for an app served at publicURL with sessions in sessionStore
// ("" or "memory", "redis://...", "postgres://..."). Call close.
func newApp(ctx context.Context, publicURL, sessionStore string) (*loadApp, error) {
	a := &loadApp{emu: transmittest.NewServer(transmittest.Options{PublicURLs: []string{publicURL}}), kind: "memory"}
	a.outbox = exampleapp.Outbox(a.emu)
	client, err := transmit.New(transmit.Config{BaseURL: a.emu.BaseURL(), ClientID: a.emu.ClientID, ClientSecret: a.emu.ClientSecret})
	if err == nil && sessionStore != "" && sessionStore != "memory" {
		if a.st, err = store.Open(ctx, sessionStore); err == nil {
			a.kind = a.st.Kind()
		}
	}
	if err == nil {
		a.sessions = otlogin.NewMemoryStore() // what otlogin.New would build
		if a.st != nil {
			a.sessions = a.st
		}
		a.auth, err = otlogin.New(otlogin.Config{Client: client, PublicURL: publicURL, CreateUsers: true,
			SessionStore: a.sessions, Logger: slog.New(slog.DiscardHandler)})
	}
	if err != nil {
		a.close()
		return nil, err
	}
	return a, nil
}

// close stops the emulator and closes the store.
func (a *loadApp) close() {
	a.emu.Close()
	if a.st != nil {
		_ = a.st.Close()
	}
}

// sessionCookie is the session cookie of otlogin's session manager over http.
const sessionCookie = "otlogin"

// newRouter wires the routes of examples/nethttp (main.go) that the load test drives, with
// the example's handlers: /healthz outside Middleware, /api/me behind RequireAuth, the auth
// routes and the emulator's outbox; and /raw, outside Middleware, which reads the session
// cookie's token from sessions once and answers with the record's size: the cost of the
// store itself, which every session layer pays.
func newRouter(auth *otlogin.Auth, outbox http.Handler, sessions scs.Store) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/auth/", auth.Handler())
	mux.Handle("GET /api/me", auth.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := otlogin.UserFromContext(r.Context())
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(exampleapp.Me(u))
	})))
	mux.Handle("GET "+exampleapp.OutboxJSONPath, outbox)
	root := http.NewServeMux()
	root.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok")
	})
	root.HandleFunc("GET /raw", func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(sessionCookie)
		if err != nil {
			http.Error(w, "no session cookie", http.StatusUnauthorized)
			return
		}
		var b []byte
		var found bool
		if cs, ok := sessions.(scs.CtxStore); ok {
			b, found, err = cs.FindCtx(r.Context(), c.Value)
		} else {
			b, found, err = sessions.Find(c.Value)
		}
		switch {
		case err != nil:
			http.Error(w, "the session store did not answer", http.StatusServiceUnavailable)
		case !found:
			http.Error(w, "no such session", http.StatusUnauthorized)
		default:
			w.Header().Set("Content-Type", "application/json")
			_, _ = fmt.Fprintf(w, "{\"bytes\":%d}\n", len(b))
		}
	})
	root.Handle("/", auth.Middleware(mux))
	return root
}

// signIn signs in with an email passcode read from the dev outbox and returns the session cookie as a Cookie
// header value.
func signIn(ctx context.Context, base string) (string, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return "", err
	}
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	const email = "loadtest@example.com"
	post := func(path string, body any, want int) error {
		b, _ := json.Marshal(body)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, bytes.NewReader(b))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != want {
			return fmt.Errorf("POST %s: status %d, want %d", path, resp.StatusCode, want)
		}
		return nil
	}
	if err := post("/auth/otp/send", map[string]string{"channel": "email", "identifier": email}, http.StatusAccepted); err != nil {
		return "", err
	}
	code, err := lastCode(ctx, c, base, email)
	if err != nil {
		return "", err
	}
	if err := post("/auth/otp/authenticate", map[string]string{"passcode": code}, http.StatusOK); err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/me", nil)
	if err != nil {
		return "", err
	}
	for _, ck := range jar.Cookies(req.URL) {
		req.AddCookie(ck)
	}
	header := req.Header.Get("Cookie")
	resp, err := http.DefaultClient.Do(req) // no jar: the header alone must sign in
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK || header == "" {
		return "", fmt.Errorf("GET /api/me with the session cookie: status %d", resp.StatusCode)
	}
	return header, nil
}

// lastCode reads the newest passcode sent to email from the app's dev outbox, as a
// developer does.
func lastCode(ctx context.Context, c *http.Client, base, email string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+exampleapp.OutboxJSONPath, nil)
	if err != nil {
		return "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var msgs []struct{ To, Code string }
	if err := json.NewDecoder(resp.Body).Decode(&msgs); err != nil {
		return "", fmt.Errorf("reading the outbox: %w", err)
	}
	for _, m := range msgs { // newest first
		if m.To == email && m.Code != "" {
			return m.Code, nil
		}
	}
	return "", errors.New("no passcode in the emulator outbox")
}

// drive sends GET url from conns goroutines for d and counts the 200 answers.
func drive(ctx context.Context, client *http.Client, url, cookie string, conns int, d time.Duration) (rate, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var ok, bad atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				if cookie != "" {
					req.Header.Set("Cookie", cookie)
				}
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						bad.Add(1)
					}
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					ok.Add(1)
				} else {
					bad.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return rate{}, firstErr
	}
	if n := bad.Load(); n > 0 && ok.Load() == 0 {
		return rate{}, fmt.Errorf("GET %s: %d failed requests, none succeeded", url, n)
	}
	return rate{Requests: ok.Load(), Errors: bad.Load(), Elapsed: elapsed}, nil
}
