package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const benchOutput = `goos: linux
goarch: amd64
pkg: github.com/otlogin/otlogin
BenchmarkRequireAuthSignedIn/codec=otlogin-2         	     200	      2504 ns/op	      1252 stored-B	    1393 B/op	      16 allocs/op
BenchmarkRequireAuthSignedIn/codec=gob-2             	     200	     29366 ns/op	      1380 stored-B	   12458 B/op	     213 allocs/op
BenchmarkFloor-2                                     	     200	       363.5 ns/op	     248 B/op	       3 allocs/op
BenchmarkCodec/signed-in/otlogin/decode-2            	     200	       395.7 ns/op	      1448 stored-B	     368 B/op	       4 allocs/op
PASS
ok  	github.com/otlogin/otlogin	0.697s
`

func writeLimits(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "allocs.txt")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	return p
}

func TestCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		limits  string
		wantErr string // "" for success
		wantOut string
	}{
		{"at the ceiling", "BenchmarkRequireAuthSignedIn/codec=otlogin 16\nBenchmarkFloor 3 # floor\n", "",
			"ok      BenchmarkFloor"},
		{"under the ceiling", "# comment\n\nBenchmarkCodec/signed-in/otlogin/decode 9\n", "", "4 allocs/op, ceiling 9"},
		{"one allocation over", "BenchmarkRequireAuthSignedIn/codec=otlogin 15\nBenchmarkFloor 3\n",
			"BenchmarkRequireAuthSignedIn/codec=otlogin: 16 allocs/op, over the committed ceiling of 15", "OVER"},
		{"renamed or missing", "BenchmarkRequireAuthSignedIn/codec=fast 16\n", "not in the benchmark output", "MISSING"},
		{"a parent is not its sub-benchmark", "BenchmarkCodec 100\n", "not in the benchmark output", "MISSING"},
		{"bad line", "BenchmarkFloor three\n", "is not a number of allocations", ""},
		{"empty file", "# nothing\n", "no benchmarks listed", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			err := run(writeLimits(t, tt.limits), false, false, strings.NewReader(benchOutput), &out)
			if tt.wantErr == "" {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
			}
			assert.Contains(t, out.String(), tt.wantOut)
		})
	}
}

func TestCountKeepsTheLargest(t *testing.T) {
	t.Parallel()
	got, err := parseAllocs(strings.NewReader("BenchmarkFloor-2 200 1 ns/op 3 allocs/op\nBenchmarkFloor-2 200 1 ns/op 5 allocs/op\nBenchmarkFloor-2 200 1 ns/op 4 allocs/op\n"))
	require.NoError(t, err)
	assert.Equal(t, map[string]int64{"BenchmarkFloor": 5}, got)
}

func TestPattern(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	p := writeLimits(t, "BenchmarkA/x 1\nBenchmarkA/y 2\nBenchmarkB 0\n")
	require.NoError(t, run(p, true, false, strings.NewReader(""), &out))
	assert.Equal(t, "^(BenchmarkA|BenchmarkB)$\n", out.String())
}

func TestUpdate(t *testing.T) {
	t.Parallel()
	p := writeLimits(t, "# keep me\nBenchmarkFloor 9\nBenchmarkGone 2\n")
	require.NoError(t, run(p, false, true, strings.NewReader(benchOutput), &bytes.Buffer{}))
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	assert.Equal(t, "# keep me\nBenchmarkFloor"+strings.Repeat(" ", 43-len("BenchmarkFloor")+1)+"3\nBenchmarkGone 2\n", string(b))
}

// TestCommittedFileParses: the repository's own ceilings file is well formed and names the
// signed-in benchmark the README's figures come from.
func TestCommittedFileParses(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../allocs.txt")
	require.NoError(t, err)
	limits, err := parseLimits(strings.Split(string(b), "\n"))
	require.NoError(t, err)
	var names []string
	for _, l := range limits {
		names = append(names, l.name)
	}
	assert.Contains(t, names, "BenchmarkRequireAuthSignedIn/codec=otlogin")
}
