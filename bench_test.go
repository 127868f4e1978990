package otlogin

// Benchmarks of the signed-in request path (README "Performance"). Compare them within one run:
//
//	go test -run '^$' -bench 'BareHandler|^BenchmarkFloor|RequireAuthSignedIn|StockSCS' -count 5 . | go run ./examples/bench/benchtable
//
// BenchmarkRequireAuthSignedIn is Middleware + RequireAuth on a session made by a real
// sign-in through the emulator; BenchmarkStockSCS is scs.New()'s LoadAndSave with its gob
// codec on the same session contents; BenchmarkFloor is what any session check must do
// (cookie, store lookup, expiry check, user into the context); BenchmarkBareHandler is the
// handler alone; BenchmarkAccessTokenSignedIn is BenchmarkRequireAuthSignedIn's request
// with a handler that reads the user's access token. Login-time token verification is
// BenchmarkVerifyIDToken, in internal/idtoken.

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin/internal/apptest/safe"
	"github.com/otlogin/otlogin/transmit"
	"github.com/otlogin/otlogin/transmit/transmittest"
)

// benchBody is what every benchmarked handler writes.
var benchBody = []byte("ok\n")

// benchWriter is a ResponseWriter that keeps nothing, so the benchmarks measure the
// session layer rather than a recorder. Reset clears it between requests without
// allocating.
type benchWriter struct {
	h    http.Header
	code int
	n    int
}

func newBenchWriter() *benchWriter { return &benchWriter{h: make(http.Header, 8)} }

func (w *benchWriter) Header() http.Header { return w.h }

func (w *benchWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *benchWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	w.n += len(b)
	return len(b), nil
}

func (w *benchWriter) reset() {
	clear(w.h)
	w.code, w.n = 0, 0
}

// signedInApp is an otlogin app with one signed-in session.
type signedInApp struct {
	auth    *Auth
	store   scs.Store
	token   string       // session token
	cookie  string       // Cookie header of the signed-in browser
	handler http.Handler // Middleware(GET /api/me behind RequireAuth)
}

// newSignedInApp builds an app on store (New's default memory store when nil) and signs one
// user in with an email passcode through the emulator, as a browser would.
func newSignedInApp(tb testing.TB, store scs.Store) *signedInApp {
	tb.Helper()
	emu := transmittest.NewTestServer(tb, transmittest.Options{})
	client, err := transmit.New(transmit.Config{BaseURL: emu.BaseURL(), ClientID: emu.ClientID, ClientSecret: emu.ClientSecret})
	require.NoError(tb, err)
	a, err := New(Config{Client: client, PublicURL: "http://127.0.0.1:8080", CreateUsers: true, SessionStore: store,
		AllowLocalLimits: true}) // one process: a wrapped in-memory store with local limits
	require.NoError(tb, err)
	store = a.sm.Store // the default memory store when store is nil

	mux := http.NewServeMux()
	mux.Handle("/auth/", a.Handler())
	mux.Handle("GET /api/me", a.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := UserFromContext(r.Context()); !ok {
			http.Error(w, "no user", http.StatusInternalServerError)
			return
		}
		_, _ = w.Write(benchBody)
	})))
	app := &signedInApp{auth: a, store: store, handler: a.Middleware(mux)}

	const email = "bench.user@example.com"
	var cookies []*http.Cookie
	post := func(path string, body any) *httptest.ResponseRecorder {
		b, err := json.Marshal(body)
		require.NoError(tb, err)
		req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:8080"+path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		for _, c := range cookies {
			req.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		app.handler.ServeHTTP(rec, req)
		if got := rec.Result().Cookies(); len(got) > 0 {
			cookies = got
		}
		return rec
	}
	rec := post("/auth/otp/send", map[string]string{"channel": "email", "identifier": email})
	require.Equal(tb, http.StatusAccepted, rec.Code, "send: %s", rec.Body)
	code, ok := emu.LastCode(email)
	require.True(tb, ok, "the emulator sent a passcode")
	rec = post("/auth/otp/authenticate", map[string]string{"passcode": code})
	require.Equal(tb, http.StatusOK, rec.Code, "authenticate: %s", rec.Body)
	require.Len(tb, cookies, 1, "one session cookie")
	app.token = cookies[0].Value
	app.cookie = cookies[0].Name + "=" + cookies[0].Value

	w := app.get()
	require.Equal(tb, http.StatusOK, w.code, "signed-in GET /api/me")
	return app
}

// get serves one signed-in GET /api/me.
func (app *signedInApp) get() *benchWriter {
	req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8080/api/me", nil)
	req.Header.Set("Cookie", app.cookie)
	w := newBenchWriter()
	app.handler.ServeHTTP(w, req)
	return w
}

// stored returns the session's bytes in the store.
func (app *signedInApp) stored(tb testing.TB) []byte {
	tb.Helper()
	b, found, err := app.store.Find(app.token)
	require.NoError(tb, err)
	require.True(tb, found, "the session is in the store")
	return b
}

// benchRequests serves req through h b.N times.
func benchRequests(b *testing.B, h http.Handler, req *http.Request) {
	b.Helper()
	w := newBenchWriter()
	b.ReportAllocs()
	for b.Loop() {
		w.reset()
		h.ServeHTTP(w, req)
		if w.code != http.StatusOK {
			b.Fatalf("status %d", w.code)
		}
	}
}

// BenchmarkRequireAuthSignedIn is a signed-in GET through Middleware and RequireAuth with
// New's default memory store: the path every signed-in request of an app takes. codec=gob
// shows the same path with scs's default codec.
func BenchmarkRequireAuthSignedIn(b *testing.B) {
	for _, c := range []struct {
		name  string
		codec scs.Codec
	}{
		{"codec=otlogin", Codec{}},
		{"codec=gob", scs.GobCodec{}},
	} {
		b.Run(c.name, func(b *testing.B) {
			app := newSignedInApp(b, nil)
			app.auth.sm.Codec = c.codec
			values := decodeStored(b, app)
			rewriteSession(b, app, values) // same contents, stored with this codec
			req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8080/api/me", nil)
			req.Header.Set("Cookie", app.cookie)
			benchRequests(b, app.handler, req)
			b.ReportMetric(float64(len(app.stored(b))), "stored-B")
		})
	}
}

// decodeStored returns the deadline and values of app's stored session.
func decodeStored(tb testing.TB, app *signedInApp) storedSession {
	tb.Helper()
	deadline, values, err := Codec{}.Decode(app.stored(tb)) // reads gob too
	require.NoError(tb, err)
	return storedSession{deadline: deadline, values: values}
}

// storedSession is a session's contents.
type storedSession struct {
	deadline time.Time
	values   map[string]interface{}
}

// rewriteSession stores s under app's token with app's current codec.
func rewriteSession(tb testing.TB, app *signedInApp, s storedSession) {
	tb.Helper()
	b, err := app.auth.sm.Codec.Encode(s.deadline, s.values)
	require.NoError(tb, err)
	require.NoError(tb, app.store.Commit(app.token, b, s.deadline))
}

// BenchmarkStockSCS is the baseline: scs.New() defaults (gob codec, memory store),
// LoadAndSave and one typed Get, on the session contents of a real otlogin sign-in.
// "same-values" stores them exactly as otlogin does; "string-values" stores the same data
// the way a typical scs app would, one string per field.
func BenchmarkStockSCS(b *testing.B) {
	app := newSignedInApp(b, nil)
	s := decodeStored(b, app)
	auth, err := decodeAuth(s.values[keyAuth].([]byte))
	require.NoError(b, err)
	u := &auth.user
	stringValues := map[string]interface{}{
		"user.subject":  u.Subject,
		"user.email":    u.Email,
		"user.phone":    u.PhoneNumber,
		"user.method":   u.Method,
		"user.amr":      strings.Join(u.AMR, " "),
		"user.claims":   string(u.claims),
		"auth_time":     u.AuthTime.Unix(),
		"expires_at":    u.ExpiresAt.Unix(),
		"access_token":  auth.accessToken,
		"refresh_token": auth.refreshToken,
		"session_id":    auth.mosaicSessionID,
		"seen":          s.values[keySeen],
	}
	for _, c := range []struct {
		name   string
		values map[string]interface{}
		read   func(ctx context.Context, sm *scs.SessionManager) bool
	}{
		{"same-values", s.values, func(ctx context.Context, sm *scs.SessionManager) bool {
			return len(sm.GetBytes(ctx, keyAuth)) > 0
		}},
		{"string-values", stringValues, func(ctx context.Context, sm *scs.SessionManager) bool {
			return sm.GetString(ctx, "user.subject") != ""
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			sm := scs.New()
			store := memstore.NewWithCleanupInterval(0)
			sm.Store = store
			enc, err := sm.Codec.Encode(s.deadline, c.values)
			require.NoError(b, err)
			require.NoError(b, store.Commit("stock-token", enc, s.deadline))
			h := sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !c.read(r.Context(), sm) {
					http.Error(w, "no user", http.StatusInternalServerError)
					return
				}
				_, _ = w.Write(benchBody)
			}))
			req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8080/api/me", nil)
			req.Header.Set("Cookie", sm.Cookie.Name+"=stock-token")
			benchRequests(b, h, req)
			b.ReportMetric(float64(len(enc)), "stored-B")
		})
	}
}

// floorKey is the context key of BenchmarkFloor.
type floorKey struct{}

// BenchmarkFloor is the least any server-side session check does: read the cookie, look
// the token up in the memory store, check an expiry, and pass the request on to the next
// handler with the user in its context (r.WithContext), as a real middleware does; the next
// handler reads the user back.
func BenchmarkFloor(b *testing.B) {
	store := memstore.NewWithCleanupInterval(0)
	expires := time.Now().Add(time.Hour)
	require.NoError(b, store.Commit("floor-token", []byte{byte(expires.Unix())}, expires))
	user := &User{Subject: "user-1", ExpiresAt: expires}
	var next http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := r.Context().Value(floorKey{}).(*User); !ok {
			http.Error(w, "no user", http.StatusInternalServerError)
			return
		}
		_, _ = w.Write(benchBody)
	})
	h := floorMiddleware(store, user, next)
	req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8080/api/me", nil)
	req.Header.Set("Cookie", "otlogin=floor-token")
	benchRequests(b, h, req)
}

// floorMiddleware is BenchmarkFloor's session check. It is a function of its own, not
// inlined into the benchmark, so the compiler cannot prove the new request stays on the
// stack: a real middleware hands it to a handler it does not know.
//
//go:noinline
func floorMiddleware(store scs.Store, user *User, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie("otlogin")
		if err != nil {
			http.Error(w, "no cookie", http.StatusUnauthorized)
			return
		}
		data, found, err := store.Find(c.Value)
		if err != nil || !found || len(data) == 0 || !time.Now().Before(user.ExpiresAt) {
			http.Error(w, "no session", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), floorKey{}, user)))
	})
}

// BenchmarkBareHandler is the handler with no session layer at all.
func BenchmarkBareHandler(b *testing.B) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(benchBody)
	})
	req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8080/api/me", nil)
	benchRequests(b, h, req)
}

// TestSignedInSessionSize reports the bytes stored per signed-in session (tokens
// included) with the compact codec and with gob, for the README.
func TestSignedInSessionSize(t *testing.T) {
	t.Parallel()
	app := newSignedInApp(t, nil)
	s := decodeStored(t, app)
	compact, err := Codec{}.Encode(s.deadline, s.values)
	require.NoError(t, err)
	gob, err := scs.GobCodec{}.Encode(s.deadline, s.values)
	require.NoError(t, err)
	auth, err := decodeAuth(s.values[keyAuth].([]byte))
	require.NoError(t, err)
	t.Logf("signed-in session: %d bytes with Codec, %d with gob; access token %d, refresh token %d, session id %d, claims %d bytes",
		len(compact), len(gob), len(auth.accessToken), len(auth.refreshToken), len(auth.mosaicSessionID), len(auth.user.claims))
	assert.Less(t, len(compact), len(gob), "the compact codec stores less than gob")
	overhead := len(compact) - len(s.values[keyAuth].([]byte))
	assert.Less(t, overhead, 64, "the codec adds little beyond otlogin's own state")
}

// BenchmarkAppValues is the signed-in request of BenchmarkRequireAuthSignedIn with an app's
// own []byte value of 0, 1 KiB or 16 KiB in the session, through a handler that does not
// touch it (reads=none) and through one that reads it with GetBytes (reads=app). The value
// should cost in proportion to itself only, and nothing when it is not read.
func BenchmarkAppValues(b *testing.B) {
	for _, size := range []int{0, 1 << 10, 16 << 10} {
		for _, read := range []bool{false, true} {
			name := "size=" + map[int]string{0: "0", 1 << 10: "1KiB", 16 << 10: "16KiB"}[size]
			if read {
				name += "/reads=app"
			} else {
				name += "/reads=none"
			}
			b.Run(name, func(b *testing.B) {
				app := newAppValuesApp(b, size, read)
				req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8080/api/me", nil)
				req.Header.Set("Cookie", app.cookie)
				benchRequests(b, app.handler, req)
			})
		}
	}
}

// newAppValuesApp is a signed-in app whose session also holds "app.blob", a []byte of size
// bytes (none when size is 0), behind a handler that reads it when read is set.
func newAppValuesApp(tb testing.TB, size int, read bool) *signedInApp {
	tb.Helper()
	app := newSignedInApp(tb, nil)
	s := decodeStored(tb, app)
	if size > 0 {
		s.values["app.blob"] = bytes.Repeat([]byte{'x'}, size)
	}
	rewriteSession(tb, app, s)
	sm := app.auth.sm
	app.handler = app.auth.Middleware(app.auth.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := UserFromContext(r.Context()); !ok {
			http.Error(w, "no user", http.StatusInternalServerError)
			return
		}
		if read && len(sm.GetBytes(r.Context(), "app.blob")) != size {
			http.Error(w, "wrong app value", http.StatusInternalServerError)
			return
		}
		_, _ = w.Write(benchBody)
	})))
	return app
}

// BenchmarkSignedInVsFloor interleaves BenchmarkRequireAuthSignedIn/codec=otlogin's request
// with BenchmarkFloor's and reports their ratio (target: at most 2.5), and the same for
// stock scs (BenchmarkStockSCS/same-values) against otlogin.
func BenchmarkSignedInVsFloor(b *testing.B) {
	app := newSignedInApp(b, nil)
	otReq := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8080/api/me", nil)
	otReq.Header.Set("Cookie", app.cookie)

	store := memstore.NewWithCleanupInterval(0)
	expires := time.Now().Add(time.Hour)
	require.NoError(b, store.Commit("floor-token", []byte{byte(expires.Unix())}, expires))
	floor := floorMiddleware(store, &User{Subject: "user-1", ExpiresAt: expires}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := r.Context().Value(floorKey{}).(*User); !ok {
			http.Error(w, "no user", http.StatusInternalServerError)
			return
		}
		_, _ = w.Write(benchBody)
	}))
	floorReq := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8080/api/me", nil)
	floorReq.Header.Set("Cookie", "otlogin=floor-token")

	s := decodeStored(b, app)
	sm := scs.New()
	sm.Store = memstore.NewWithCleanupInterval(0)
	enc, err := sm.Codec.Encode(s.deadline, s.values)
	require.NoError(b, err)
	require.NoError(b, sm.Store.Commit("stock-token", enc, s.deadline))
	stock := sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(sm.GetBytes(r.Context(), keyAuth)) == 0 {
			http.Error(w, "no user", http.StatusInternalServerError)
			return
		}
		_, _ = w.Write(benchBody)
	}))
	stockReq := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8080/api/me", nil)
	stockReq.Header.Set("Cookie", sm.Cookie.Name+"=stock-token")

	serve := func(h http.Handler, req *http.Request) func() {
		w := newBenchWriter()
		return func() {
			w.reset()
			h.ServeHTTP(w, req)
			if w.code != http.StatusOK {
				b.Fatalf("status %d", w.code)
			}
		}
	}
	b.Run("otlogin/floor", func(b *testing.B) {
		safe.Interleave(b, 500, serve(floor, floorReq), serve(app.handler, otReq))
	})
	b.Run("otlogin/stockscs", func(b *testing.B) {
		safe.Interleave(b, 100, serve(stock, stockReq), serve(app.handler, otReq))
	})
}

// BenchmarkAppValuesVsNone interleaves each BenchmarkAppValues case with the signed-in
// request whose session holds no app value (size=0/reads=none) and reports the ratio: what
// an app's own []byte value costs, read or not.
func BenchmarkAppValuesVsNone(b *testing.B) {
	serve := func(app *signedInApp) func() {
		req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8080/api/me", nil)
		req.Header.Set("Cookie", app.cookie)
		w := newBenchWriter()
		return func() {
			w.reset()
			app.handler.ServeHTTP(w, req)
			if w.code != http.StatusOK {
				b.Fatalf("status %d", w.code)
			}
		}
	}
	base := serve(newAppValuesApp(b, 0, false))
	for _, size := range []int{0, 1 << 10, 16 << 10} {
		for _, read := range []bool{false, true} {
			name := "size=" + map[int]string{0: "0", 1 << 10: "1KiB", 16 << 10: "16KiB"}[size]
			if read {
				name += "/reads=app"
			} else {
				name += "/reads=none"
			}
			b.Run(name, func(b *testing.B) {
				safe.Interleave(b, 200, base, serve(newAppValuesApp(b, size, read)))
			})
		}
	}
}

// BenchmarkAccessTokenSignedIn is BenchmarkRequireAuthSignedIn's request through a handler
// that also asks for the user's Mosaic access token (still valid: no refresh), as an app
// calling another API on the user's behalf does on every request.
func BenchmarkAccessTokenSignedIn(b *testing.B) {
	app := newSignedInApp(b, nil)
	a := app.auth
	app.handler = a.Middleware(a.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tok, err := a.AccessToken(r.Context()); err != nil || tok == "" {
			http.Error(w, "no token", http.StatusInternalServerError)
			return
		}
		_, _ = w.Write(benchBody)
	})))
	req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8080/api/me", nil)
	req.Header.Set("Cookie", app.cookie)
	benchRequests(b, app.handler, req)
}
