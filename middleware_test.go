package otlogin

import (
	"context"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/alexedwards/scs/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSessionToken: the session cookie is read from the Cookie headers in place: the first
// cookie of that name whose value has an scs token's shape (43 base64url characters), quotes
// removed; anything else, such as the name of another store record, is no token.
// The scan allocates nothing.
func TestSessionToken(t *testing.T) {
	const name = "__Host-otlogin"
	tok, tok2 := strings.Repeat("a", 43), strings.Repeat("b", 43)
	b64url := "Az09-_" + strings.Repeat("x", 37)
	cases := []struct {
		name    string
		headers []string
		want    string
	}{
		{"none", nil, ""},
		{"only cookie", []string{name + "=" + tok}, tok},
		{"among others", []string{"a=1; " + name + "=" + tok + "; b=2"}, tok},
		{"no spaces", []string{"a=1;" + name + "=" + tok + ";b=2"}, tok},
		{"second header", []string{"a=1", name + "=" + tok}, tok},
		{"quoted", []string{name + `="` + tok + `"`}, tok},
		{"first wins", []string{name + "=" + tok + "; " + name + "=" + tok2}, tok},
		{"base64url characters", []string{name + "=" + b64url}, b64url},
		{"prefix of another name", []string{name + "x=" + tok}, ""},
		{"other name ending in it", []string{"x" + name + "=" + tok}, ""},
		{"empty value", []string{name + "="}, ""},
		{"no value", []string{name}, ""},
		{"too long", []string{name + "=" + tok + "a"}, ""},
		{"too short", []string{name + "=" + tok[1:]}, ""},
		{"short token", []string{name + "=first"}, ""},
		{"not a token", []string{name + "=a b"}, ""},
		{"standard base64", []string{name + "=" + strings.Repeat("a", 42) + "+"}, ""},
		{"padding", []string{name + "=" + strings.Repeat("a", 42) + "="}, ""},
		{"rotated record", []string{name + "=" + rotatedKey("mosaic-session")}, ""},
		{"bad first, good second", []string{name + "=<x>; " + name + "=" + tok}, tok},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{"Cookie": tc.headers}
			assert.Equal(t, tc.want, sessionToken(h, name))
		})
	}
	h := http.Header{"Cookie": {"a=1; b=2; " + name + "=" + tok}}
	allocs := testing.AllocsPerRun(100, func() { _ = sessionToken(h, name) })
	assert.Zero(t, allocs)
}

// TestSignedInAnswersNotCached: what RequireAuth lets through carries the user's data, so it
// is marked Cache-Control: no-store (after sign-out, the Back button or a shared cache must
// not show it); public pages are left to the app.
func TestSignedInAnswersNotCached(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.emu.CreateUser("cache@example.com", "")
	c := h.newClient()
	require.Equal(t, http.StatusSeeOther, h.signInLink(c, "cache@example.com", "/dashboard").StatusCode)
	r := h.get(c, "/dashboard")
	require.Equal(t, http.StatusOK, r.StatusCode, r.body)
	assert.Equal(t, "no-store", r.Header.Get("Cache-Control"), "signed-in page")
	assert.Empty(t, h.get(c, "/").Header.Get("Cache-Control"), "a public page is the app's to decide")
}

// TestSignedInRequestAllocations: a signed-in GET through Middleware and RequireAuth
// allocates at most 9 times (before the in-place read of the session: 16). Allocations are
// deterministic, so this cannot flake.
func TestSignedInRequestAllocations(t *testing.T) {
	// Not parallel: AllocsPerRun counts the whole process's allocations.
	app := newSignedInApp(t, nil)
	req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8080/api/me", nil)
	req.Header.Set("Cookie", app.cookie)
	w := newBenchWriter()
	allocs := testing.AllocsPerRun(200, func() {
		w.reset()
		app.handler.ServeHTTP(w, req)
		if w.code != http.StatusOK {
			panic("signed-in request failed")
		}
	})
	t.Logf("allocations per signed-in request: %.0f", allocs)
	assert.LessOrEqual(t, allocs, 9.0)
}

// TestLazySessionAppValues: on a signed-in request the session is read in place, and scs
// decodes it only when a handler asks for a value; handlers that read and write their own
// values through the session manager see the same session as before, from any goroutine,
// and the store is read once per request.
func TestLazySessionAppValues(t *testing.T) {
	t.Parallel()
	store := newCountingStore()
	app := newSignedInApp(t, store)
	sm := app.auth.sm
	mux := http.NewServeMux()
	mux.HandleFunc("/count", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		n := sm.GetInt(ctx, "app.count")
		// Other goroutines read the session at the same time (run with -race).
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				assert.Equal(t, n, sm.GetInt(ctx, "app.count"))
				assert.NotEmpty(t, sm.GetBytes(ctx, keyAuth), "otlogin's state is there for scs too")
			}()
		}
		wg.Wait()
		sm.Put(ctx, "app.count", n+1)
		_, _ = w.Write([]byte(strconv.Itoa(n + 1)))
	})
	mux.HandleFunc("/untouched", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(benchBody)
	})
	h := app.auth.Middleware(app.auth.RequireAuth(mux))
	do := func(path string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8080"+path, nil)
		req.Header.Set("Cookie", app.cookie)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	for i := 1; i <= 3; i++ {
		finds := store.finds.Load()
		rec := do("/count")
		require.Equal(t, http.StatusOK, rec.Code)
		assert.Equal(t, strconv.Itoa(i), rec.Body.String(), "the app's value survives between requests")
		for _, c := range rec.Result().Cookies() {
			assert.Equal(t, app.token, c.Value, "an update keeps the session's token")
		}
		assert.Equal(t, int64(2), store.finds.Load()-finds, "one store read to load, one to check the stored state before the update")
	}
	writes := store.writes()
	for range 3 {
		rec := do("/untouched")
		require.Equal(t, http.StatusOK, rec.Code, "still signed in after the app's writes")
	}
	assert.Equal(t, writes, store.writes(), "requests that touch no value write nothing")
	s := decodeStored(t, app)
	assert.Equal(t, 3, s.values["app.count"])
	_, err := decodeAuth(s.values[keyAuth].([]byte))
	assert.NoError(t, err, "otlogin's state is kept intact by the app's saves")
}

// TestSignedInRecordFormats: the in-place read and scs's decode agree on every kind of
// record: one in Codec's format with a gob-encoded app value and one written by scs's
// GobCodec still sign the user in (scs decodes them), and a corrupt record makes the store
// unavailable (503), as a failed scs Load does, never a signed-in or anonymous answer.
func TestSignedInRecordFormats(t *testing.T) {
	t.Parallel()
	registerCodecTestTypes()
	app := newSignedInApp(t, nil)
	s := decodeStored(t, app)
	get := func() int {
		w := app.get()
		return w.code
	}
	t.Run("gob app value", func(t *testing.T) {
		values := maps.Clone(s.values)
		values["app.struct"] = codecTestStruct{Name: "x"}
		rewriteSession(t, app, storedSession{deadline: s.deadline, values: values})
		assert.Equal(t, http.StatusOK, get())
	})
	t.Run("gob record", func(t *testing.T) {
		b, err := scs.GobCodec{}.Encode(s.deadline, s.values)
		require.NoError(t, err)
		require.NoError(t, app.store.Commit(app.token, b, s.deadline))
		assert.Equal(t, http.StatusOK, get())
	})
	t.Run("corrupt record", func(t *testing.T) {
		b, err := Codec{}.Encode(s.deadline, s.values)
		require.NoError(t, err)
		require.NoError(t, app.store.Commit(app.token, b[:len(b)-3], s.deadline))
		assert.Equal(t, http.StatusServiceUnavailable, get())
	})
}

// TestRequireAuthAnswers: pages get a 303 to the login page with next; API requests get a
// 401 JSON answer; WithUser passes.
func TestRequireAuthAnswers(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	c := h.newClient()
	r := h.get(c, "/dashboard?tab=2")
	assert.Equal(t, http.StatusSeeOther, r.StatusCode)
	assert.Equal(t, "/auth/login?next=%2Fdashboard%3Ftab%3D2", r.Header.Get("Location"))
	r = h.get(c, "/api/me", "Accept", "application/json")
	assert.Equal(t, http.StatusUnauthorized, r.StatusCode)
	assert.JSONEq(t, `{"error":"unauthenticated","message":"Sign in to continue."}`, r.body)
	assert.Equal(t, http.StatusUnauthorized, h.get(c, "/auth/me").StatusCode)

	login := h.get(c, "/auth/login?next=%2Fdashboard%3Ftab%3D2")
	assert.Contains(t, login.body, `name="next" value="/dashboard?tab=2"`)
	login = h.get(c, "/auth/login?next=https://evil.example/")
	assert.Contains(t, login.body, `name="next" value="/"`)

	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/x", nil)
	req = req.WithContext(WithUser(req.Context(), &User{Subject: "s1"}))
	h.auth.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := UserFromContext(r.Context())
		assert.True(t, ok)
		_, _ = io.WriteString(w, u.Subject)
	})).ServeHTTP(rec, req)
	assert.Equal(t, "s1", rec.Body.String())
	_, ok := UserFromContext(context.Background())
	assert.False(t, ok)
}

// TestWithoutMiddleware: Handler and RequireAuth load the session themselves.
func TestWithoutMiddleware(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.emu.CreateUser("ada@example.com", "")
	mux := http.NewServeMux()
	mux.Handle("/auth/", h.auth.Handler())
	mux.Handle("GET /dashboard", h.auth.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := UserFromContext(r.Context())
		_, _ = io.WriteString(w, "hello "+u.Email)
	})))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := h.newClient()
	r := h.postForm(c, srv.URL+"/auth/link/email/send", url.Values{"email": {"ada@example.com"}, "next": {"/dashboard"}})
	require.Equal(t, http.StatusOK, r.StatusCode)
	code, state := linkParams(t, h.lastLink("ada@example.com"))
	r = h.get(c, srv.URL+"/auth/link/email/callback?code="+url.QueryEscape(code)+"&state="+url.QueryEscape(state))
	require.Equal(t, http.StatusSeeOther, r.StatusCode, r.body)
	r = h.get(c, srv.URL+"/dashboard")
	assert.Equal(t, "hello ada@example.com", r.body)
	assert.Equal(t, http.StatusOK, h.get(c, srv.URL+"/auth/me").StatusCode)
}
