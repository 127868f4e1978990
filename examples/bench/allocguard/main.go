// Command allocguard fails when a hot-path benchmark allocates more per operation than the
// ceiling committed in examples/bench/allocs.txt. It reads `go test -bench -benchmem` output on
// standard input:
//
//	go test -run '^$' -bench "$(go run ./bench/allocguard -pattern)" -benchtime=200x -benchmem . | go run ./bench/allocguard
//
// Allocations per operation do not depend on the machine's speed or load, so the check
// cannot flake the way a time threshold does. A benchmark listed in the file but missing
// from the output is an error too, so renaming one cannot silently switch its check off.
//
// -pattern prints a -bench regular expression that runs every listed benchmark; -update
// rewrites the file's figures from the output instead of checking them.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

func main() {
	file := flag.String("file", "examples/bench/allocs.txt", "the committed ceilings")
	pattern := flag.Bool("pattern", false, "print a -bench pattern that runs every listed benchmark, and exit")
	update := flag.Bool("update", false, "rewrite the file's figures from the benchmark output instead of checking")
	flag.Parse()
	if err := run(*file, *pattern, *update, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "allocguard:", err)
		os.Exit(1)
	}
}

// limit is one line of the ceilings file.
type limit struct {
	name string // full benchmark name, sub-benchmarks included, without -GOMAXPROCS
	max  int64
	line int // 0-based line number in the file
}

// run does what main does, on the given file and streams.
func run(file string, pattern, update bool, in io.Reader, out io.Writer) error {
	text, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	lines := strings.Split(string(text), "\n")
	limits, err := parseLimits(lines)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	if pattern {
		fmt.Fprintln(out, benchPattern(limits))
		return nil
	}
	got, err := parseAllocs(in)
	if err != nil {
		return err
	}
	if update {
		for _, l := range limits {
			if v, ok := got[l.name]; ok {
				lines[l.line] = fmt.Sprintf("%-43s %d", l.name, v)
			}
		}
		return os.WriteFile(file, []byte(strings.Join(lines, "\n")), 0o644)
	}
	if err := check(limits, got, out); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	return nil
}

// parseLimits reads "name max" lines, skipping blank lines and # comments.
func parseLimits(lines []string) ([]limit, error) {
	var limits []limit
	for i, ln := range lines {
		if j := strings.IndexByte(ln, '#'); j >= 0 {
			ln = ln[:j]
		}
		f := strings.Fields(ln)
		if len(f) == 0 {
			continue
		}
		if len(f) != 2 || !strings.HasPrefix(f[0], "Benchmark") {
			return nil, fmt.Errorf("line %d: want \"BenchmarkName max-allocs\", got %q", i+1, lines[i])
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("line %d: %q is not a number of allocations", i+1, f[1])
		}
		limits = append(limits, limit{name: f[0], max: n, line: i})
	}
	if len(limits) == 0 {
		return nil, errors.New("no benchmarks listed")
	}
	return limits, nil
}

// benchPattern is a -bench expression matching the top-level benchmarks of limits (their
// sub-benchmarks all run; check looks only at the listed ones).
func benchPattern(limits []limit) string {
	var tops []string
	for _, l := range limits {
		top, _, _ := strings.Cut(l.name, "/")
		if top = regexp.QuoteMeta(top); !slices.Contains(tops, top) {
			tops = append(tops, top)
		}
	}
	return "^(" + strings.Join(tops, "|") + ")$"
}

// parseAllocs reads go test -bench output and returns allocs/op per benchmark name. With
// several runs of one benchmark (-count), it keeps the largest.
func parseAllocs(r io.Reader) (map[string]int64, error) {
	got := map[string]int64{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue // not a result line
		}
		name := trimProcs(f[0])
		for i := 2; i+1 < len(f); i += 2 {
			if f[i+1] != "allocs/op" {
				continue
			}
			v, err := strconv.ParseInt(f[i], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%s: allocs/op %q is not a whole number", name, f[i])
			}
			if old, ok := got[name]; !ok || v > old {
				got[name] = v
			}
		}
	}
	return got, sc.Err()
}

// trimProcs removes the -GOMAXPROCS suffix go test appends to benchmark names.
func trimProcs(name string) string {
	i := strings.LastIndexByte(name, '-')
	if i < 0 || i == len(name)-1 || strings.Trim(name[i+1:], "0123456789") != "" {
		return name
	}
	return name[:i]
}

// check prints one line per listed benchmark and fails when any is over its ceiling or
// missing from the output.
func check(limits []limit, got map[string]int64, out io.Writer) error {
	var bad bytes.Buffer
	for _, l := range limits {
		v, ok := got[l.name]
		switch {
		case !ok:
			fmt.Fprintf(out, "MISSING %-43s (no allocs/op in the output: renamed, or run without -benchmem?)\n", l.name)
			fmt.Fprintf(&bad, "\n  %s: not in the benchmark output", l.name)
		case v > l.max:
			fmt.Fprintf(out, "OVER    %-43s %d allocs/op, ceiling %d\n", l.name, v, l.max)
			fmt.Fprintf(&bad, "\n  %s: %d allocs/op, over the committed ceiling of %d", l.name, v, l.max)
		default:
			fmt.Fprintf(out, "ok      %-43s %d allocs/op, ceiling %d\n", l.name, v, l.max)
		}
	}
	if bad.Len() > 0 {
		return fmt.Errorf("allocation ceilings exceeded:%s", bad.String())
	}
	return nil
}
