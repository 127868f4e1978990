package contract

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
)

// document is one OpenAPI file and the URL path prefix its operations are served under.
type document struct {
	file   string
	prefix string
}

// documents lists the files Load reads, in lookup order (the first match wins).
func documents() []document {
	return []document{
		{"backend-one-time-login.openapi.yml", "/cis"}, // authoritative for the four login endpoints
		{"backend-sessions.openapi.json", "/cis"},
		{"user.openapi.json", "/cis"},
		{"oidc.openapi.json", "/cis"},
		{"token.openapi.json", ""},
	}
}

// Spec is a parsed set of Mosaic OpenAPI documents. It is read-only once loaded and safe for
// concurrent use.
type Spec struct {
	routes []route
	docs   map[string]*openapi3.T // by file name
}

type route struct {
	segments []string // path split on "/", "{x}" segments match anything
	r        routers.Route
	file     string
}

// Load parses the OpenAPI documents in dir. Every document listed in the package docs must be
// present and parse. kin-openapi's document validation is not run: Transmit's documents fail
// it on cosmetic points (an example of the wrong type, a schema named "A+ Services") that do
// not affect body validation.
func Load(dir string) (*Spec, error) {
	s := &Spec{docs: map[string]*openapi3.T{}}
	for _, d := range documents() {
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromFile(filepath.Join(dir, d.file))
		if err != nil {
			return nil, fmt.Errorf("contract: load %s: %w", d.file, err)
		}
		s.docs[d.file] = doc
		paths := doc.Paths.InMatchingOrder()
		sort.Strings(paths) // stable; literal vs template ambiguity is resolved below
		for _, p := range paths {
			item := doc.Paths.Value(p)
			for method, op := range item.Operations() {
				full := d.prefix + p
				s.routes = append(s.routes, route{
					segments: strings.Split(full, "/"),
					file:     d.file,
					r: routers.Route{
						Spec:      doc,
						Path:      p,
						PathItem:  item,
						Method:    method,
						Operation: op,
					},
				})
			}
		}
	}
	return s, nil
}

// Find returns the operation serving method and urlPath (the path as the emulator sees it,
// e.g. "/cis/v1/auth/otp/send" or "/oidc/token"), and the path parameters. Literal segments
// win over templated ones; among equal matches the document order of [Load] wins.
func (s *Spec) Find(method, urlPath string) (*routers.Route, map[string]string, bool) {
	segs := strings.Split(urlPath, "/")
	best, bestScore := -1, -1
	for i := range s.routes {
		rt := &s.routes[i]
		if !strings.EqualFold(rt.r.Method, method) || len(rt.segments) != len(segs) {
			continue
		}
		score, ok := 0, true
		for j, seg := range rt.segments {
			switch {
			case seg == segs[j]:
				score++
			case strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") && segs[j] != "":
			default:
				ok = false
			}
			if !ok {
				break
			}
		}
		if ok && score > bestScore {
			best, bestScore = i, score
		}
	}
	if best < 0 {
		return nil, nil, false
	}
	rt := s.routes[best]
	params := map[string]string{}
	for j, seg := range rt.segments {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			params[strings.Trim(seg, "{}")] = segs[j]
		}
	}
	r := rt.r
	return &r, params, true
}

// schema returns a named component schema of a document, or nil.
func (s *Spec) schema(file, name string) *openapi3.Schema {
	doc := s.docs[file]
	if doc == nil || doc.Components == nil {
		return nil
	}
	ref := doc.Components.Schemas[name]
	if ref == nil {
		return nil
	}
	return ref.Value
}

// shared caches the process-wide Spec; see [Shared].
var shared = sync.OnceValues(func() (*Spec, error) {
	dir, err := SpecDir()
	if err != nil {
		return nil, err
	}
	return Load(dir)
})

// Shared returns the documents found by [SpecDir], parsed once per process and cached (the
// package's only state). The error wraps [ErrSpecNotFound] when no directory exists.
func Shared() (*Spec, error) { return shared() }
