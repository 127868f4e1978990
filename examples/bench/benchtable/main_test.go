package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const sampleOutput = `goos: linux
goarch: amd64
pkg: github.com/otlogin/otlogin
cpu: AMD EPYC
BenchmarkRequireAuthSignedIn/codec=otlogin-2   	  620271	      2000 ns/op	      1252 stored-B	    1528 B/op	      18 allocs/op
--- BENCH: BenchmarkRequireAuthSignedIn/codec=otlogin-2
    bench_test.go:1: a log line
BenchmarkRequireAuthSignedIn/codec=otlogin-2   	  670371	      1800 ns/op	      1252 stored-B	    1528 B/op	      18 allocs/op
BenchmarkRequireAuthSignedIn/codec=otlogin-2   	  670371	      9000 ns/op	      1252 stored-B	    1528 B/op	      18 allocs/op
BenchmarkStockSCS/same-values-2                	   69129	     20000 ns/op	      1380 stored-B	   12192 B/op	     212 allocs/op
BenchmarkStockSCS/same-values-2                	   69129	     20000 ns/op	      1380 stored-B	   12192 B/op	     212 allocs/op
BenchmarkBareHandler-2                         	100000000	        10.00 ns/op	       0 B/op	       0 allocs/op
PASS
ok  	github.com/otlogin/otlogin	8.715s
`

func TestTable(t *testing.T) {
	t.Parallel()
	samples, err := parse(strings.NewReader(sampleOutput))
	require.NoError(t, err)
	require.Len(t, samples, 3)

	var out bytes.Buffer
	require.NoError(t, table(&out, samples, "StockSCS/same-values"))
	got := out.String()
	assert.Contains(t, got, "| RequireAuthSignedIn/codec=otlogin | 3 | 2000 | 18 | 1528 | 1252 | 0.100x |", "median of three runs, ratio to stock")
	assert.Contains(t, got, "| StockSCS/same-values | 2 | 20000 | 212 | 12192 | 1380 | 1.000x |")
	assert.Contains(t, got, "| BareHandler | 1 | 10 | 0 | 0 | - | 0.001x |")
}

func TestTableErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		input string
		base  string
	}{
		{"no results", "PASS\nok x 1s\n", "StockSCS/same-values"},
		{"no baseline", sampleOutput, "Missing"},
		{"bad value", "BenchmarkX-2 10 abc ns/op\n", "X"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			samples, err := parse(strings.NewReader(tt.input))
			if err == nil {
				err = table(&bytes.Buffer{}, samples, tt.base)
			}
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), "benchtable: "), "error %q names the command", err)
		})
	}
}
