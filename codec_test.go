package otlogin

import (
	"bytes"
	"context"
	"encoding/gob"
	"fmt"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin/transmit"
)

// codecTestStruct is a host-app type stored in the same session as
// otlogin's values; it goes through the codec's gob fallback.
type codecTestStruct struct {
	Name  string
	Items []int
}

// codecTestUnregistered is never passed to gob.Register.
type codecTestUnregistered struct{ A int }

func registerCodecTestTypes() {
	gob.Register(codecTestStruct{})
}

// codecTestValues is a signed-in session as otlogin writes it, plus one of
// every natively encoded type and a host-app struct.
func codecTestValues(t testing.TB) map[string]interface{} {
	t.Helper()
	registerCodecTestTypes()
	return map[string]interface{}{
		"otlogin.auth": bytes.Repeat([]byte("a"), 1400),
		"otlogin.seen": int64(1767225600),
		"otlogin.flow": []byte{1, 2, 3},
		"s":            "hello, 世界",
		"empty":        "",
		"b":            []byte{0, 255},
		"i":            -42,
		"i64":          int64(math.MinInt64),
		"i32":          int32(math.MaxInt32),
		"t":            true,
		"f":            false,
		"pi":           math.Pi,
		"when":         time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("", 3600)),
		"whenUTC":      time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC),
		"nil":          nil,
		"host":         codecTestStruct{Name: "cart", Items: []int{1, 2, 3}},
		"":             "empty key",
	}
}

func TestCodecRoundTrip(t *testing.T) {
	t.Parallel()
	deadline := time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.UTC)
	tests := []struct {
		name     string
		deadline time.Time
		values   map[string]interface{}
	}{
		{"all types", deadline, codecTestValues(t)},
		{"empty", deadline, map[string]interface{}{}},
		{"zero deadline", time.Time{}, map[string]interface{}{"k": "v"}},
		{"far deadline", time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), map[string]interface{}{}},
		{"non-UTC deadline", time.Date(2026, 3, 4, 5, 6, 7, 0, time.FixedZone("X", -7200)), map[string]interface{}{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := Codec{}.Encode(tt.deadline, tt.values)
			require.NoError(t, err)
			gotDeadline, got, err := Codec{}.Decode(b)
			require.NoError(t, err)
			assert.True(t, tt.deadline.Equal(gotDeadline), "deadline: want %v, got %v", tt.deadline, gotDeadline)
			assert.Equal(t, time.UTC, gotDeadline.Location(), "deadline comes back in UTC, like scs sets it")
			assert.Equal(t, tt.values, got, "values come back with the same types and contents")
		})
	}
}

func TestCodecMatchesGobSemantics(t *testing.T) {
	t.Parallel()
	// Whatever scs's default codec returns for a value, Codec returns the
	// same, so apps can switch codecs without changing their Get calls.
	values := codecTestValues(t)
	// GobCodec needs gob.Register(time.Time{}) for these; Codec does not.
	delete(values, "when")
	delete(values, "whenUTC")
	deadline := time.Now().Add(time.Hour).UTC()

	gb, err := scs.GobCodec{}.Encode(deadline, values)
	require.NoError(t, err)
	_, fromGob, err := scs.GobCodec{}.Decode(gb)
	require.NoError(t, err)

	cb, err := Codec{}.Encode(deadline, values)
	require.NoError(t, err)
	_, fromCodec, err := Codec{}.Decode(cb)
	require.NoError(t, err)

	require.Equal(t, len(fromGob), len(fromCodec))
	for k, want := range fromGob {
		got := fromCodec[k]
		if wt, ok := want.(time.Time); ok {
			gt, ok := got.(time.Time)
			require.True(t, ok, "key %q: want time.Time, got %T", k, got)
			assert.True(t, wt.Equal(gt), "key %q", k)
			_, wo := wt.Zone()
			_, gto := gt.Zone()
			assert.Equal(t, wo, gto, "key %q: zone offset", k)
			continue
		}
		assert.Equal(t, want, got, "key %q", k)
	}
	assert.Less(t, len(cb), len(gb), "compact encoding is smaller than gob")
}

func TestCodecReadsGobSessions(t *testing.T) {
	t.Parallel()
	values := codecTestValues(t)
	delete(values, "when") // GobCodec needs gob.Register(time.Time{}) for these
	delete(values, "whenUTC")
	deadline := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	b, err := scs.GobCodec{}.Encode(deadline, values)
	require.NoError(t, err)

	gotDeadline, got, err := Codec{}.Decode(b)
	require.NoError(t, err, "data written by scs.GobCodec stays readable")
	assert.True(t, deadline.Equal(gotDeadline))
	assert.Equal(t, values, got)
}

func TestCodecEncodeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		value interface{}
	}{
		{"unregistered type", codecTestUnregistered{A: 1}},
		{"func", func() {}},
		{"channel", make(chan int)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Codec{}.Encode(time.Now(), map[string]interface{}{"k": tt.value})
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), "otlogin: "), "error %q names the package", err)
		})
	}
}

// codecAppendHeader writes a version-1 header with the given value count.
func codecAppendHeader(count byte) []byte {
	return []byte{0, codecVersion, 0, 0, count}
}

func TestCodecDecodeCorrupt(t *testing.T) {
	t.Parallel()
	valid, err := Codec{}.Encode(time.Now(), codecTestValues(t))
	require.NoError(t, err)

	tests := []struct {
		name string
		in   []byte
	}{
		{"nil", nil},
		{"magic only", []byte{0}},
		{"unknown version", []byte{0, 2, 0, 0, 0}},
		{"no deadline", []byte{0, codecVersion}},
		{"bad nanoseconds", []byte{0, codecVersion, 0, 0x80, 0x94, 0xeb, 0xdc, 0x03, 0}},
		{"count exceeds data", append(codecAppendHeader(100), 1, 'k', tagTrue)},
		{"huge count", append([]byte{0, codecVersion, 0, 0}, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)},
		{"key length exceeds data", append(codecAppendHeader(1), 0x7f, 'k')},
		{"huge key length", append(codecAppendHeader(1), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)},
		{"missing tag", append(codecAppendHeader(1), 1, 'k')},
		{"unknown tag", append(codecAppendHeader(1), 1, 'k', 99)},
		{"string length exceeds data", append(codecAppendHeader(1), 1, 'k', tagString, 5, 'a')},
		{"bytes length exceeds data", append(codecAppendHeader(1), 1, 'k', tagBytes, 5, 'a')},
		{"truncated varint", append(codecAppendHeader(1), 1, 'k', tagInt64, 0x80)},
		{"int32 out of range", append(codecAppendHeader(1), 1, 'k', tagInt32, 0x80, 0x80, 0x80, 0x80, 0x20)},
		{"truncated float", append(codecAppendHeader(1), 1, 'k', tagFloat64, 1, 2, 3)},
		{"bad time", append(codecAppendHeader(1), 1, 'k', tagTime, 2, 9, 9)},
		{"bad gob", append(codecAppendHeader(1), 1, 'k', tagGob, 2, 9, 9)},
		{"duplicate key", append(codecAppendHeader(2), 1, 'k', tagTrue, 1, 'k', tagFalse)},
		{"trailing data", append(codecAppendHeader(1), 1, 'k', tagTrue, 0)},
		{"not gob either", []byte{0x05, 1, 2, 3}},
	}
	for i := 1; i < len(valid); i += 97 {
		tests = append(tests, struct {
			name string
			in   []byte
		}{"truncated valid data", valid[:i]})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var err error
			require.NotPanics(t, func() { _, _, err = Codec{}.Decode(tt.in) })
			require.Error(t, err)
			assert.ErrorIs(t, err, errCodec)
			assert.True(t, strings.HasPrefix(err.Error(), "otlogin: "), "error %q names the package", err)
		})
	}
}

func TestCodecDecodedBytes(t *testing.T) {
	t.Parallel()
	in, err := Codec{}.Encode(time.Now(), map[string]interface{}{
		"a":            []byte("aaaa"),
		"b":            []byte("bbbb"),
		"otlogin.auth": []byte("AUTH-VALUE"),
		"otlogin.flow": []byte("FLOW-VALUE"),
	})
	require.NoError(t, err)
	stored := bytes.Clone(in)

	_, got, err := Codec{}.Decode(in)
	require.NoError(t, err)

	t.Run("host values are private copies", func(t *testing.T) {
		a := got["a"].([]byte)
		a[0] = 'X'
		_ = append(a, "YYYY"...) // must not spill into "b"
		assert.Equal(t, stored, in, "the store's buffer is never written to")
		assert.Equal(t, []byte("bbbb"), got["b"], "values do not overlap")
	})
	t.Run("otlogin values alias the input, capped", func(t *testing.T) {
		for _, k := range []string{"otlogin.auth", "otlogin.flow"} {
			v := got[k].([]byte)
			i := bytes.Index(in, v)
			require.GreaterOrEqual(t, i, 0, "%s is in the input", k)
			assert.Same(t, &in[i], &v[0], "%s is not copied", k)
			assert.Equal(t, len(v), cap(v), "%s: appending reallocates instead of overwriting", k)
		}
	})
}

func TestCodecSharedStore(t *testing.T) {
	t.Parallel()
	registerCodecTestTypes()
	// Two instances of an app (two managers) share one store: a session
	// written by one is read by the other.
	store := memstore.NewWithCleanupInterval(0)
	newManager := func() *scs.SessionManager {
		m := scs.New()
		m.Store = store
		m.Codec = Codec{}
		return m
	}
	writer, reader := newManager(), newManager()

	ctx, err := writer.Load(context.Background(), "")
	require.NoError(t, err)
	want := codecTestValues(t)
	for k, v := range want {
		writer.Put(ctx, k, v)
	}
	token, _, err := writer.Commit(ctx)
	require.NoError(t, err)

	ctx2, err := reader.Load(context.Background(), token)
	require.NoError(t, err)
	for k, v := range want {
		assert.Equal(t, v, reader.Get(ctx2, k), "key %q", k)
	}
	assert.Equal(t, want["otlogin.auth"], reader.GetBytes(ctx2, "otlogin.auth"))
	assert.Equal(t, want["otlogin.seen"], reader.GetInt64(ctx2, "otlogin.seen"))
	assert.Equal(t, want["s"], reader.GetString(ctx2, "s"))
	assert.Equal(t, want["i"], reader.GetInt(ctx2, "i"))
	assert.Equal(t, want["t"], reader.GetBool(ctx2, "t"))
	assert.Equal(t, want["pi"], reader.GetFloat(ctx2, "pi"))
}

func TestCodecDecodeAllocations(t *testing.T) {
	// Not parallel: AllocsPerRun measures the whole process.
	b, err := Codec{}.Encode(time.Now(), map[string]interface{}{
		"otlogin.auth": bytes.Repeat([]byte("a"), 1400),
		"otlogin.seen": int64(1767225600),
	})
	require.NoError(t, err)
	allocs := testing.AllocsPerRun(100, func() {
		_, _, err := Codec{}.Decode(b)
		if err != nil {
			panic(err)
		}
	})
	// map (2), boxed []byte, boxed int64; no key strings, no copy of the tokens.
	assert.LessOrEqual(t, allocs, 5.0, "decode of a signed-in session stays allocation-lean")
}

func FuzzCodecDecode(f *testing.F) {
	registerCodecTestTypes()
	valid, err := Codec{}.Encode(time.Now(), codecTestValues(f))
	require.NoError(f, err)
	f.Add(valid)
	fromGob, err := scs.GobCodec{}.Encode(time.Now(), map[string]interface{}{"k": "v"})
	require.NoError(f, err)
	f.Add(fromGob)
	f.Add([]byte{0, codecVersion, 0, 0, 1, 1, 'k', tagTrue})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		deadline, values, err := Codec{}.Decode(in)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes to the same values.
		b, err := Codec{}.Encode(deadline, values)
		require.NoError(t, err)
		deadline2, values2, err := Codec{}.Decode(b)
		require.NoError(t, err)
		require.True(t, deadline.Equal(deadline2))
		require.Equal(t, len(values), len(values2))
		for k, v := range values {
			if f, ok := v.(float64); ok { // NaN != NaN
				require.Equal(t, math.Float64bits(f), math.Float64bits(values2[k].(float64)))
				continue
			}
			if tm, ok := v.(time.Time); ok {
				require.True(t, tm.Equal(values2[k].(time.Time)))
				continue
			}
			require.Equal(t, v, values2[k], "key %q", k)
		}
	})
}

func FuzzCodecRoundTrip(f *testing.F) {
	f.Add(int64(1767225600), int64(5), "otlogin.auth", []byte("token"), "s", int64(-1), true, 1.5)
	f.Add(int64(-62135596800), int64(0), "", []byte{}, "", int64(math.MaxInt64), false, math.Inf(-1))
	f.Fuzz(func(t *testing.T, sec, nsec int64, k1 string, b []byte, s string, n int64, flag bool, fl float64) {
		if nsec < 0 || nsec >= int64(time.Second) {
			return
		}
		deadline := time.Unix(sec, nsec).UTC()
		values := map[string]interface{}{
			k1:         b,
			k1 + "/s":  s,
			k1 + "/n":  n,
			k1 + "/i":  int(n),
			k1 + "/b":  flag,
			k1 + "/fl": fl,
		}
		enc, err := Codec{}.Encode(deadline, values)
		require.NoError(t, err)
		gotDeadline, got, err := Codec{}.Decode(enc)
		require.NoError(t, err)
		require.True(t, deadline.Equal(gotDeadline))
		require.Equal(t, math.Float64bits(fl), math.Float64bits(got[k1+"/fl"].(float64)))
		delete(values, k1+"/fl")
		delete(got, k1+"/fl")
		if len(b) == 0 {
			require.Empty(t, got[k1])
			delete(values, k1)
			delete(got, k1)
		}
		require.Equal(t, values, got)
	})
}

// BenchmarkCodec compares Codec with scs's default GobCodec on a signed-in
// session (otlogin's values only) and on a session that also holds a
// host-app struct.
func BenchmarkCodec(b *testing.B) {
	registerCodecTestTypes()
	deadline := time.Now().Add(24 * time.Hour).UTC()
	sessions := map[string]map[string]interface{}{
		"signed-in": {
			"otlogin.auth": bytes.Repeat([]byte("a"), 1400),
			"otlogin.seen": int64(1767225600),
		},
		"with-host-struct": {
			"otlogin.auth": bytes.Repeat([]byte("a"), 1400),
			"otlogin.seen": int64(1767225600),
			"cart":         codecTestStruct{Name: "cart", Items: []int{1, 2, 3}},
		},
	}
	codecs := []struct {
		name  string
		codec scs.Codec
	}{
		{"otlogin", Codec{}},
		{"gob", scs.GobCodec{}},
	}
	for _, sname := range []string{"signed-in", "with-host-struct"} {
		values := sessions[sname]
		for _, c := range codecs {
			enc, err := c.codec.Encode(deadline, values)
			require.NoError(b, err)
			b.Run(sname+"/"+c.name+"/decode", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, _, err := c.codec.Decode(enc); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(len(enc)), "stored-B")
			})
			b.Run(sname+"/"+c.name+"/encode", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := c.codec.Encode(deadline, values); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func TestNewUsesCodec(t *testing.T) {
	t.Parallel()
	client, err := transmit.New(transmit.Config{BaseURL: "http://127.0.0.1:1/cis", ClientID: "id", ClientSecret: "secret"})
	require.NoError(t, err)
	a, err := New(Config{Client: client, PublicURL: "http://127.0.0.1:8080"})
	require.NoError(t, err)
	assert.IsType(t, Codec{}, a.sm.Codec, "the session manager New builds uses the compact codec")
}

// TestCodecCopiesOnlyAppValues: decoding a session copies the app's []byte values, never
// otlogin's own (the tokens), so an app value costs in proportion to itself.
func TestCodecCopiesOnlyAppValues(t *testing.T) {
	// Not parallel: it reads the process's allocation counter.
	b, err := Codec{}.Encode(time.Now(), map[string]interface{}{
		"otlogin.auth": bytes.Repeat([]byte("a"), 64<<10), // large tokens
		"otlogin.seen": int64(1767225600),
		"app.small":    []byte("0123456789abcdef"),
	})
	require.NoError(t, err)
	const runs = 50
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		_, values, err := Codec{}.Decode(b)
		require.NoError(t, err)
		require.Len(t, values["app.small"], 16)
	}
	runtime.ReadMemStats(&after)
	perDecode := (after.TotalAlloc - before.TotalAlloc) / runs
	t.Logf("bytes allocated per decode: %d (session %d bytes)", perDecode, len(b))
	assert.Less(t, perDecode, uint64(4<<10), "a 16-byte app value does not copy the 64 KiB of otlogin's state")
}

// TestScanSessionMatchesDecode: the signed-in fast path reads exactly what Decode and scs's
// getters would, and accepts only what Decode accepts.
func TestScanSessionMatchesDecode(t *testing.T) {
	t.Parallel()
	registerCodecTestTypes()
	now := time.Now()
	enc := func(values map[string]interface{}) []byte {
		b, err := Codec{}.Encode(now, values)
		require.NoError(t, err)
		return b
	}
	withGob := codecTestValues(t)
	many := map[string]interface{}{keyAuth: []byte("auth")}
	for i := range maxScanValues {
		many[fmt.Sprint("k", i)] = i
	}
	inputs := [][]byte{
		enc(map[string]interface{}{keyAuth: []byte("auth"), keySeen: int64(42)}),
		enc(map[string]interface{}{keyAuth: "a string, not bytes", keySeen: 42}),
		enc(map[string]interface{}{keyAuth: nil, "app": []byte("x"), "t": now, "f": 1.5, "b": true}),
		enc(map[string]interface{}{}),
		enc(withGob),
		enc(many),
		{0, codecVersion, 0, 0, 2, 1, 'k', tagTrue, 1, 'k', tagTrue}, // duplicate key
		{0, codecVersion, 0, 0, 1, 1, 'k', 99},                       // unknown tag
		{0, codecVersion, 0, 0, 1, 1, 'k', tagTime, 1, 0},            // bad time
		{0, codecVersion, 0, 0, 1, 1, 'k', tagTrue, 0},               // trailing data
	}
	for i, in := range inputs {
		checkScanSession(t, fmt.Sprint("input ", i), in)
	}
	// Every truncation of a valid session.
	full := inputs[2]
	for i := range full {
		checkScanSession(t, fmt.Sprint("truncated at ", i), full[:i])
	}
}

// checkScanSession compares scanSession with Decode on in.
func checkScanSession(t *testing.T, name string, in []byte) {
	t.Helper()
	sc, ok := scanSession(in)
	_, values, err := Codec{}.Decode(in)
	if !ok {
		if err == nil { // declined: only for gob values, gob format or many values
			gobbed := false
			for _, v := range values {
				switch v.(type) {
				case nil, string, []byte, int, int32, int64, bool, float64, time.Time:
				default:
					gobbed = true
				}
			}
			assert.True(t, gobbed || len(values) > maxScanValues || in[0] != 0, "%s: scanSession declined a session Decode reads", name)
		}
		return
	}
	require.NoError(t, err, "%s: scanSession accepted what Decode refuses", name)
	wantAuth, _ := values[keyAuth].([]byte)
	wantSeen, _ := values[keySeen].(int64)
	assert.Equal(t, wantAuth, sc.auth, name)
	assert.Equal(t, wantSeen, sc.seen, name)
}

// FuzzScanSession: on any input, scanSession never accepts what Decode refuses, and reads
// the same values.
func FuzzScanSession(f *testing.F) {
	registerCodecTestTypes()
	valid, err := Codec{}.Encode(time.Now(), map[string]interface{}{keyAuth: []byte("auth"), keySeen: int64(7), "app": "x"})
	require.NoError(f, err)
	f.Add(valid)
	f.Add([]byte{0, codecVersion, 0, 0, 1, 1, 'k', tagTrue})
	f.Fuzz(func(t *testing.T, in []byte) {
		sc, ok := scanSession(in)
		if !ok {
			return
		}
		_, values, err := Codec{}.Decode(in)
		require.NoError(t, err)
		wantAuth, _ := values[keyAuth].([]byte)
		wantSeen, _ := values[keySeen].(int64)
		require.Equal(t, wantAuth, sc.auth)
		require.Equal(t, wantSeen, sc.seen)
	})
}
