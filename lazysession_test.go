package otlogin

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/alexedwards/scs/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
