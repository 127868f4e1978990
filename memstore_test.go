package otlogin

import (
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// putExpired stores token as if its expiry had passed since it was committed.
func putExpired(t testing.TB, m *MemoryStore, token string) {
	t.Helper()
	s := m.shard(token)
	s.mu.Lock()
	s.items[token] = memItem{b: []byte("stale"), expiry: time.Now().Add(-time.Second).UnixNano()}
	s.mu.Unlock()
}

func held(m *MemoryStore, token string) bool {
	s := m.shard(token)
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.items[token]
	return ok
}

// heldCount is how many sessions the store holds, expired ones included.
func heldCount(m *MemoryStore) int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.RLock()
		n += len(s.items)
		s.mu.RUnlock()
	}
	return n
}

// memSweepSteps is how many expiry steps make a whole pass over the store.
const memSweepSteps = memShards

// makeSweepDue makes the next commit take an expiry step.
func makeSweepDue(m *MemoryStore) { m.nextSweep.Store(0) }

// noSweep makes commits take no expiry step for a minute.
func noSweep(m *MemoryStore) { m.nextSweep.Store(time.Now().Add(time.Minute).UnixNano()) }

// runExpiryPass makes the store drop every expired session, one part after the other, as
// its commits do over a minute, and returns how long each step held a lock, in wall-clock
// time and in CPU time of the thread (see threadCPU; zeros where it is not measured).
func runExpiryPass(m *MemoryStore) (wall, cpu []time.Duration) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	now := time.Now().UnixNano()
	for range memSweepSteps {
		m.nextSweep.Store(0)
		c0, _ := threadCPU()
		t0 := time.Now()
		m.sweepStep(now)
		d := time.Since(t0)
		c1, _ := threadCPU()
		wall, cpu = append(wall, d), append(cpu, c1-c0)
	}
	return wall, cpu
}

func TestMemoryStore(t *testing.T) {
	t.Parallel()
	hour := time.Now().Add(time.Hour)
	tests := []struct {
		name string
		run  func(t *testing.T, m *MemoryStore)
	}{
		{"commit then find", func(t *testing.T, m *MemoryStore) {
			require.NoError(t, m.Commit("a", []byte("1"), hour))
			b, ok, err := m.Find("a")
			require.NoError(t, err)
			assert.True(t, ok, "a committed token is found")
			assert.Equal(t, []byte("1"), b)
		}},
		{"missing", func(t *testing.T, m *MemoryStore) {
			b, ok, err := m.Find("missing")
			require.NoError(t, err)
			assert.False(t, ok)
			assert.Nil(t, b)
		}},
		{"expired is missing", func(t *testing.T, m *MemoryStore) {
			putExpired(t, m, "old")
			b, ok, err := m.Find("old")
			require.NoError(t, err)
			assert.False(t, ok, "an expired token is not found before any sweep")
			assert.Nil(t, b)
		}},
		{"past expiry deletes", func(t *testing.T, m *MemoryStore) {
			require.NoError(t, m.Commit("a", []byte("1"), hour))
			noSweep(m) // no expiry step: the commit itself deletes
			require.NoError(t, m.Commit("a", []byte("2"), time.Now().Add(-time.Second)))
			assert.False(t, held(m, "a"), "a commit with a past expiry deletes the token")
		}},
		{"delete", func(t *testing.T, m *MemoryStore) {
			require.NoError(t, m.Commit("a", []byte("1"), hour))
			require.NoError(t, m.Delete("a"))
			_, ok, err := m.Find("a")
			require.NoError(t, err)
			assert.False(t, ok, "a deleted token is not found")
			assert.NoError(t, m.Delete("a"), "deleting an unknown token is fine")
		}},
		{"all skips expired", func(t *testing.T, m *MemoryStore) {
			require.NoError(t, m.Commit("a", []byte("1"), hour))
			putExpired(t, m, "old")
			all, err := m.All()
			require.NoError(t, err)
			assert.Equal(t, map[string][]byte{"a": []byte("1")}, all)
		}},
		{"commits take expiry steps at most every memSweepEvery/memShards", func(t *testing.T, m *MemoryStore) {
			noSweep(m)
			putExpired(t, m, "old")
			require.NoError(t, m.Commit("b", []byte("3"), hour))
			assert.True(t, held(m, "old"), "no expiry step before the next one is due")
			for range memSweepSteps {
				makeSweepDue(m)
				require.NoError(t, m.Commit("c", []byte("4"), hour))
				assert.Greater(t, m.nextSweep.Load(), time.Now().Add(memSweepEvery/memShards/2).UnixNano(), "a step schedules the next one")
			}
			assert.False(t, held(m, "old"), "a whole pass of steps drops expired sessions")
			assert.True(t, held(m, "b") && held(m, "c"), "live sessions stay")
		}},
		{"expiry far in the future", func(t *testing.T, m *MemoryStore) {
			require.NoError(t, m.Commit("a", []byte("1"), time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)))
			_, ok, err := m.Find("a")
			require.NoError(t, err)
			assert.True(t, ok, "an expiry past 2262 does not wrap around into the past")
			require.NoError(t, m.Commit("a", []byte("1"), time.Time{}))
			assert.False(t, held(m, "a"), "the zero time is in the past")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, NewMemoryStore())
		})
	}
}

// memBenchSessions and memBenchValue are the sizes the memory store benchmarks use: a
// million live sessions of a signed-in session's size (README, Performance: 1252 bytes).
const (
	memBenchSessions = 1_000_000
	memBenchValue    = 1252
)

// memBenchToken returns the i-th of distinct tokens shaped like scs's (43 characters).
func memBenchToken(i int) string { return fmt.Sprintf("%043d", i) }

// fillMemoryStore commits n sessions of memBenchValue bytes (each its own allocation, as
// scs's codec gives) and returns their tokens when keep is true.
func fillMemoryStore(b *testing.B, m *MemoryStore, n int, keep bool) []string {
	b.Helper()
	var toks []string
	if keep {
		toks = make([]string, 0, n)
	}
	exp := time.Now().Add(time.Hour)
	for i := range n {
		tok := memBenchToken(i)
		require.NoError(b, m.Commit(tok, make([]byte, memBenchValue), exp))
		if keep {
			toks = append(toks, tok)
		}
	}
	return toks
}

// BenchmarkMemoryStorePause measures the longest time a reader (Find in a loop, on live
// tokens) waits while the store drops expired sessions, at a million live sessions and
// 100,000 expired ones. Per pass over the store it reports:
//
//   - max-find-ms: the longest Find while expiry runs;
//   - idle-max-find-ms: the longest Find over as long again with no expiry running (the
//     machine's own noise: preemption on a busy machine shows in both);
//   - finds-over-1ms and idle-finds-over-1ms: how many Finds took over 1 ms in each window;
//   - max-hold-ms, p99-hold-ms and median-hold-ms: how long one expiry step held a lock of
//     its part (the read lock to walk the part, then the write lock to delete), wall clock,
//     so preemption shows here too; readers wait only for the write-locked part;
//   - max-hold-cpu-ms: the longest CPU time of one expiry step, on its OS thread: an upper
//     bound of the wait it imposes on a reader of a machine with a core to spare, without
//     the preemption a busy machine adds (Linux only; 0 elsewhere);
//   - pass-ms: how long the whole pass took, back to back (commits spread it over a minute).
//
// Each iteration is one pass; read the smallest figures of a few runs on a busy machine:
//
//	go test -run '^$' -bench MemoryStorePause -benchtime 1x -count 5 .
func BenchmarkMemoryStorePause(b *testing.B) {
	m := NewMemoryStore()
	toks := fillMemoryStore(b, m, memBenchSessions, true)
	type window struct {
		worst time.Duration
		slow  int
	}
	// read measures Find until stop is closed.
	read := func(stop <-chan struct{}, out chan<- window) {
		var w window
		for i := 0; ; i++ {
			if i%64 == 0 {
				select {
				case <-stop:
					out <- w
					return
				default:
				}
			}
			t0 := time.Now()
			_, _, _ = m.Find(toks[(i*7919)%len(toks)])
			d := time.Since(t0)
			w.worst = max(w.worst, d)
			if d > time.Millisecond {
				w.slow++
			}
		}
	}
	var busy, idle window
	var holds, cpuHolds []time.Duration
	var pass time.Duration
	for b.Loop() {
		// The expired sessions go back in each iteration, so each pass has work to do.
		for i := range memBenchSessions / 10 {
			putExpired(b, m, fmt.Sprintf("stale-%038d", i))
		}
		runtime.GC()
		stop, out := make(chan struct{}), make(chan window)
		go read(stop, out)
		t0 := time.Now()
		h, c := runExpiryPass(m)
		p := time.Since(t0)
		close(stop)
		bw := <-out
		// The same reader for as long again, with nothing else running.
		stop = make(chan struct{})
		go read(stop, out)
		time.Sleep(max(p, 50*time.Millisecond))
		close(stop)
		iw := <-out
		busy = window{max(busy.worst, bw.worst), busy.slow + bw.slow}
		idle = window{max(idle.worst, iw.worst), idle.slow + iw.slow}
		holds = append(holds, h...)
		cpuHolds = append(cpuHolds, c...)
		pass = max(pass, p)
	}
	slices.Sort(holds)
	slices.Sort(cpuHolds)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(busy.worst), "max-find-ms")
	b.ReportMetric(ms(idle.worst), "idle-max-find-ms")
	b.ReportMetric(float64(busy.slow), "finds-over-1ms")
	b.ReportMetric(float64(idle.slow), "idle-finds-over-1ms")
	b.ReportMetric(ms(holds[len(holds)-1]), "max-hold-ms")
	b.ReportMetric(ms(holds[len(holds)*99/100]), "p99-hold-ms")
	b.ReportMetric(ms(holds[len(holds)/2]), "median-hold-ms")
	b.ReportMetric(ms(cpuHolds[len(cpuHolds)-1]), "max-hold-cpu-ms")
	b.ReportMetric(ms(pass), "pass-ms")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkMemoryStoreBytesPerSession reports the heap a million sessions of
// memBenchValue bytes take, per session (heap-B/session), and the store's own part of it
// beyond the value's allocation (overhead-B/session).
//
//	go test -run '^$' -bench MemoryStoreBytesPerSession -benchtime 1x .
func BenchmarkMemoryStoreBytesPerSession(b *testing.B) {
	var perSession float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		m := NewMemoryStore()
		fillMemoryStore(b, m, memBenchSessions, false)
		runtime.GC()
		runtime.ReadMemStats(&after)
		perSession = float64(after.HeapAlloc-before.HeapAlloc) / memBenchSessions
		runtime.KeepAlive(m)
	}
	const valueSizeClass = 1280 // what the runtime allocates for a 1252-byte slice
	b.ReportMetric(perSession, "heap-B/session")
	b.ReportMetric(perSession-valueSizeClass, "overhead-B/session")
	b.ReportMetric(0, "ns/op")
}

// TestMemoryStoreReadersOfOtherPartsDoNotWait: while one part is locked for writing (as an
// expiry step or a commit holds it), reads and writes of tokens in other parts go on.
func TestMemoryStoreReadersOfOtherPartsDoNotWait(t *testing.T) {
	t.Parallel()
	m := NewMemoryStore()
	hour := time.Now().Add(time.Hour)
	require.NoError(t, m.Commit("locked", []byte("1"), hour))
	other := ""
	for i := 0; other == ""; i++ {
		if tok := fmt.Sprintf("other-%d", i); m.shard(tok) != m.shard("locked") {
			other = tok
		}
	}
	makeSweepDue(m)
	require.NoError(t, m.Commit(other, []byte("2"), hour))
	noSweep(m)
	s := m.shard("locked")
	s.mu.Lock()
	done := make(chan bool)
	go func() {
		_, ok, _ := m.Find(other)
		_ = m.Commit(other, []byte("3"), hour)
		done <- ok
	}()
	select {
	case ok := <-done:
		assert.True(t, ok, "the other part's token is found")
	case <-time.After(10 * time.Second):
		t.Error("a read of another part waited for a locked part")
	}
	s.mu.Unlock()
	b, ok, err := m.Find("locked")
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, []byte("1"), b)
}

// TestMemoryStoreExpiryIsIncremental: one commit never drops more than a small, bounded
// share of the store's expired sessions, so no commit holds a lock over the whole store
// (at a million sessions a whole pass took 27 ms or more, with every reader waiting); a
// pass of memSweepSteps due commits drops them all.
func TestMemoryStoreExpiryIsIncremental(t *testing.T) {
	t.Parallel()
	m := NewMemoryStore()
	const stale = 20_000
	for i := range stale {
		putExpired(t, m, fmt.Sprintf("stale-%d", i))
	}
	makeSweepDue(m)
	require.NoError(t, m.Commit("live", []byte("1"), time.Now().Add(time.Hour)))
	dropped := stale - heldCount(m) + 1
	assert.LessOrEqual(t, dropped, stale/50, "one commit drops at most 2%% of the expired sessions: %d of %d dropped", dropped, stale)
	for range memSweepSteps {
		makeSweepDue(m)
		require.NoError(t, m.Commit("live", []byte("1"), time.Now().Add(time.Hour)))
	}
	assert.Equal(t, 1, heldCount(m), "a whole pass drops every expired session and keeps the live one")
}

// TestMemoryStoreExpiryScanDoesNotBlockReaders: an expiry step reads its part under the read
// lock and takes the write lock only to delete what expired, so readers of that part are
// never held up by the walk itself: a step over a part with nothing expired completes while
// a reader holds the part.
func TestMemoryStoreExpiryScanDoesNotBlockReaders(t *testing.T) {
	t.Parallel()
	m := NewMemoryStore()
	hour := time.Now().Add(time.Hour)
	noSweep(m)
	for i := range 1000 {
		require.NoError(t, m.Commit(fmt.Sprintf("live-%d", i), []byte("1"), hour))
	}
	s := &m.shards[(m.sweepAt.Load()+1)&(memShards-1)] // the part the next step walks
	s.mu.RLock()
	done := make(chan struct{})
	go func() {
		makeSweepDue(m)
		m.sweepStep(time.Now().UnixNano())
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Error("an expiry step with nothing to drop waited for a reader of its part")
	}
	s.mu.RUnlock()
	<-done
	assert.Equal(t, 1000, heldCount(m))
}
