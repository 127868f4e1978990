//go:build ignore

// vulnfilter reads govulncheck's JSON stream (govulncheck -format json) on standard input and
// decides what fails CI. Run by .ci/govulncheck as `go run .ci/vulnfilter.go README.md`.
//
//   - A reachable advisory (one whose vulnerable function the code calls) in a module other
//     than the standard library, with a fixed version: fail. Upgrade the module.
//   - A reachable advisory with no fixed version: fail unless README.md names its ID (the
//     README says why it does not apply to otlogin).
//   - A reachable advisory in the standard library: reported, not failed. The Go release that
//     builds an application is the application's choice; the README names the minimum.
//   - Advisories in imported packages or required modules whose vulnerable code is not
//     called: reported, not failed.
//
// It uses the standard library only, and the .ci directory is outside ./..., so it adds
// nothing to go.mod.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

type frame struct {
	Module   string `json:"module"`
	Version  string `json:"version"`
	Package  string `json:"package"`
	Function string `json:"function"`
	Receiver string `json:"receiver"`
}

type message struct {
	Config *struct {
		ScannerVersion string `json:"scanner_version"`
		DB             string `json:"db"`
		GoVersion      string `json:"go_version"`
	} `json:"config"`
	OSV *struct {
		ID      string `json:"id"`
		Summary string `json:"summary"`
	} `json:"osv"`
	Finding *struct {
		OSV          string  `json:"osv"`
		FixedVersion string  `json:"fixed_version"`
		Trace        []frame `json:"trace"`
	} `json:"finding"`
}

type advisory struct {
	id, summary, module, found, fixed string
	level                             int // 0 module, 1 package, 2 function (reachable)
	example                           string
}

func main() {
	readme := ""
	if len(os.Args) > 1 {
		b, err := os.ReadFile(os.Args[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, "vulnfilter:", err)
			os.Exit(2)
		}
		readme = string(b)
	}
	summaries := map[string]string{}
	advs := map[string]*advisory{} // by id + module
	dec := json.NewDecoder(os.Stdin)
	scanned := false
	for {
		var m message
		if err := dec.Decode(&m); err == io.EOF {
			break
		} else if err != nil {
			fmt.Fprintln(os.Stderr, "vulnfilter: reading govulncheck output:", err)
			os.Exit(2)
		}
		switch {
		case m.Config != nil:
			scanned = true
			fmt.Printf("govulncheck %s, %s, database %s\n", m.Config.ScannerVersion, m.Config.GoVersion, m.Config.DB)
		case m.OSV != nil:
			summaries[m.OSV.ID] = m.OSV.Summary
		case m.Finding != nil && len(m.Finding.Trace) > 0:
			f := m.Finding
			t0 := f.Trace[0]
			level := 0
			if t0.Package != "" {
				level = 1
			}
			if t0.Function != "" {
				level = 2
			}
			key := f.OSV + " " + t0.Module
			a := advs[key]
			if a == nil {
				a = &advisory{id: f.OSV, module: t0.Module, found: t0.Version, fixed: f.FixedVersion, level: -1}
				advs[key] = a
			}
			if level > a.level {
				a.level = level
				if level == 2 {
					a.example = describe(f.Trace)
				}
			}
		}
	}
	if !scanned {
		fmt.Fprintln(os.Stderr, "vulnfilter: no govulncheck output on standard input")
		os.Exit(2)
	}
	list := make([]*advisory, 0, len(advs))
	for _, a := range advs {
		a.summary = summaries[a.id]
		list = append(list, a)
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].level != list[j].level {
			return list[i].level > list[j].level
		}
		return list[i].id < list[j].id
	})
	failed, reachable := 0, 0
	for _, a := range list {
		fixed := a.fixed
		if fixed == "" {
			fixed = "no fix"
		}
		verdict := ""
		switch {
		case a.level < 2:
			verdict = "not called"
		case a.module == "stdlib" || a.module == "toolchain":
			verdict = "standard library: build with Go " + strings.TrimPrefix(fixed, "v") + " or newer"
		case a.fixed != "":
			verdict = "FAIL: upgrade to " + a.fixed
			failed++
		case !strings.Contains(readme, a.id):
			verdict = "FAIL: no fix; README.md must say why it does not apply"
			failed++
		default:
			verdict = "no fix; README.md says why it does not apply"
		}
		if a.level == 2 {
			reachable++
		}
		fmt.Printf("%-14s %-32s %s -> %s: %s\n", a.id, a.module, a.found, fixed, verdict)
		if a.summary != "" {
			fmt.Printf("               %s\n", a.summary)
		}
		if a.example != "" {
			fmt.Printf("               e.g. %s\n", a.example)
		}
	}
	fmt.Printf("govulncheck: %d reachable, %d not called, %d failing\n", reachable, len(list)-reachable, failed)
	if failed > 0 {
		os.Exit(1)
	}
}

// describe names the call from the project's code into the vulnerable function.
func describe(trace []frame) string {
	name := func(f frame) string {
		n := f.Package + "."
		if f.Receiver != "" {
			n += strings.TrimPrefix(f.Receiver, "*") + "."
		}
		return n + f.Function
	}
	last := trace[len(trace)-1]
	if len(trace) == 1 {
		return name(last)
	}
	if len(trace) == 2 {
		return name(last) + " calls " + name(trace[0])
	}
	return name(last) + " eventually calls " + name(trace[0])
}
