// Command benchtable turns `go test -bench` output into the README's performance table:
// the median of each benchmark's runs, and its time as a ratio of a baseline from the same
// run (stock scs by default).
//
//	go test -run '^$' -bench 'BareHandler|Floor|RequireAuthSignedIn|StockSCS' -count 6 . | go run ./examples/bench/benchtable
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/otlogin/otlogin/examples/bench/internal/stats"
)

// sample is one benchmark's measurements across runs.
type sample struct {
	name   string
	ns     []float64
	allocs []float64
	bytes  []float64
	stored []float64 // custom metric stored-B, when reported
}

// trimProcs removes the -GOMAXPROCS suffix go test appends to benchmark names.
func trimProcs(name string) string {
	i := strings.LastIndexByte(name, '-')
	if i < 0 || i == len(name)-1 || strings.Trim(name[i+1:], "0123456789") != "" {
		return name
	}
	return name[:i]
}

// parse reads go test -bench output, keeping benchmarks in first-seen order.
func parse(r io.Reader) ([]*sample, error) {
	var order []*sample
	byName := map[string]*sample{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue // not a result line
		}
		name := trimProcs(strings.TrimPrefix(f[0], "Benchmark"))
		s := byName[name]
		if s == nil {
			s = &sample{name: name}
			byName[name] = s
			order = append(order, s)
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("benchtable: %q: bad value %q", f[0], f[i])
			}
			switch f[i+1] {
			case "ns/op":
				s.ns = append(s.ns, v)
			case "allocs/op":
				s.allocs = append(s.allocs, v)
			case "B/op":
				s.bytes = append(s.bytes, v)
			case "stored-B":
				s.stored = append(s.stored, v)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(order) == 0 {
		return nil, errors.New("benchtable: no benchmark results in the input")
	}
	return order, nil
}

// table writes the markdown table, ratios relative to the benchmark named base.
func table(w io.Writer, samples []*sample, base string) error {
	var baseNS float64
	for _, s := range samples {
		if s.name == base {
			baseNS = stats.Median(s.ns)
		}
	}
	if baseNS == 0 {
		return fmt.Errorf("benchtable: baseline %q not found", base)
	}
	fmt.Fprintf(w, "| Benchmark | runs | ns/op (median) | allocs/op | B/op | stored bytes | time vs %s |\n", base)
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|")
	for _, s := range samples {
		stored := "-"
		if len(s.stored) > 0 {
			stored = strconv.FormatFloat(stats.Median(s.stored), 'f', 0, 64)
		}
		fmt.Fprintf(w, "| %s | %d | %.0f | %.0f | %.0f | %s | %.3fx |\n",
			s.name, len(s.ns), stats.Median(s.ns), stats.Median(s.allocs), stats.Median(s.bytes), stored, stats.Median(s.ns)/baseNS)
	}
	return nil
}

func main() {
	base := flag.String("base", "StockSCS/same-values", "benchmark (without the Benchmark prefix) that ratios are relative to")
	flag.Parse()
	samples, err := parse(os.Stdin)
	if err == nil {
		err = table(os.Stdout, samples, *base)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
