package otlogin_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testFuncs maps each folder of the repository (slash-separated, "." for the top) to the
// test, fuzz, benchmark and example functions declared in its _test.go files, whichever
// module and package (internal or _test) they belong to.
func testFuncs(t *testing.T) map[string]map[string]bool {
	t.Helper()
	funcs := map[string]map[string]bool{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		dir := path.Dir(filepath.ToSlash(p))
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Recv != nil || !testFuncName.MatchString(fn.Name.Name) {
				continue
			}
			if funcs[dir] == nil {
				funcs[dir] = map[string]bool{}
			}
			funcs[dir][fn.Name.Name] = true
		}
		return nil
	})
	require.NoError(t, err)
	require.True(t, funcs["."]["TestSecurityDocNamesExistingTests"], "the walk found this file")
	return funcs
}

var (
	testFuncName = regexp.MustCompile(`^(Test|Fuzz|Benchmark|Example)([A-Z_]|$)`)
	// codeSpan is a Markdown code span on one line.
	codeSpan = regexp.MustCompile("`([^`\n]+)`")
	// testRef is how docs/SECURITY.md names a test: TestX for the root package, dir.TestX
	// (dir a slash-separated folder of the repository) for the package in that folder.
	testRef = regexp.MustCompile(`^(?:((?:[a-z0-9_-]+/)*[a-z0-9_-]+)\.)?((?:Test|Fuzz|Benchmark)[A-Z][A-Za-z0-9_]*)$`)
	// looksLikeTest catches a code span that means a test but is not written as testRef.
	looksLikeTest = regexp.MustCompile(`(^|[^A-Za-z0-9])(Test|Fuzz|Benchmark)[A-Z]`)
	// threatRow is a row of one of docs/SECURITY.md's threat tables: | id | threat | defence | tests |.
	threatRow = regexp.MustCompile(`^\| ([A-Z][0-9]+) \|`)
)

// TestSecurityDocNamesExistingTests: every test docs/SECURITY.md names exists in the package
// it names (a bare name in the root package, dir.TestX in the package in folder dir), so a
// renamed, moved or deleted test fails here instead of leaving a row that nothing proves;
// every threat row names at least one test (or the conformance suite).
func TestSecurityDocNamesExistingTests(t *testing.T) {
	t.Parallel()
	funcs := testFuncs(t)
	doc, err := os.ReadFile("docs/SECURITY.md")
	require.NoError(t, err)

	refs := 0
	for _, m := range codeSpan.FindAllStringSubmatch(string(doc), -1) {
		span := m[1]
		ref := testRef.FindStringSubmatch(span)
		if ref == nil {
			assert.False(t, looksLikeTest.MatchString(span), "docs/SECURITY.md: %q names a test in no form the checker reads: write TestX (root package) or dir.TestX", span)
			continue
		}
		refs++
		dir, name := ref[1], ref[2]
		if dir == "" {
			dir = "."
		}
		if !funcs[dir][name] {
			var found []string
			for d, names := range funcs {
				if names[name] {
					found = append(found, d)
				}
			}
			slices.Sort(found)
			assert.Fail(t, "docs/SECURITY.md names a test that is not there",
				"%s: no %s in the _test.go files of %q (found in: %v)", span, name, dir, found)
		}
	}
	assert.Greater(t, refs, 80, "the checker reads the tables' test names")

	rows := 0
	for _, line := range strings.Split(string(doc), "\n") {
		id := threatRow.FindStringSubmatch(line)
		if id == nil {
			continue
		}
		rows++
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		require.Len(t, cells, 4, "row %s: id, threat, defence, tests", id[1])
		named := strings.Contains(cells[3], "conformance")
		for _, m := range codeSpan.FindAllStringSubmatch(cells[3], -1) {
			named = named || testRef.MatchString(m[1])
		}
		assert.True(t, named, "row %s names no test", id[1])
	}
	assert.Greater(t, rows, 40, "the checker reads the threat rows")
}

// TestDocsNameExistingTests: the tests README.md, DEVELOPERS.md and docs/ARCHITECTURE.md
// name (without a package) exist somewhere in the repository.
func TestDocsNameExistingTests(t *testing.T) {
	t.Parallel()
	funcs := testFuncs(t)
	for _, file := range []string{"README.md", "DEVELOPERS.md", "docs/ARCHITECTURE.md"} {
		doc, err := os.ReadFile(file)
		require.NoError(t, err)
		for _, m := range codeSpan.FindAllStringSubmatch(string(doc), -1) {
			ref := testRef.FindStringSubmatch(m[1])
			if ref == nil || ref[1] != "" {
				continue
			}
			found := false
			for _, names := range funcs {
				found = found || names[ref[2]]
			}
			assert.True(t, found, "%s names %s, which no _test.go file declares", file, ref[2])
		}
	}
}

// TestArchitectureListsEveryRootFile: docs/ARCHITECTURE.md's "The root package, file by
// file" table names every non-test Go file of the root package, and only those.
func TestArchitectureListsEveryRootFile(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("docs/ARCHITECTURE.md")
	require.NoError(t, err)
	const heading = "## The root package, file by file\n"
	_, section, ok := strings.Cut(string(doc), heading)
	require.True(t, ok, "docs/ARCHITECTURE.md has the heading %q", heading)
	section, _, _ = strings.Cut(section, "\n## ")

	listed := map[string]bool{}
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		first, _, _ := strings.Cut(strings.TrimPrefix(line, "| "), " |")
		for _, m := range codeSpan.FindAllStringSubmatch(first, -1) {
			listed[m[1]] = true
		}
	}
	entries, err := os.ReadDir(".")
	require.NoError(t, err)
	var files []string
	for _, e := range entries {
		if name := e.Name(); !e.IsDir() && strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go") {
			files = append(files, name)
			assert.True(t, listed[name], "docs/ARCHITECTURE.md does not list %s", name)
		}
	}
	for name := range listed {
		assert.Contains(t, files, name, "docs/ARCHITECTURE.md lists %s, which is not a Go file of the root package", name)
	}
}
