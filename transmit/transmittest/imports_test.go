package transmittest_test

import (
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPublicPackageImports: transmittest is a public package that apps import into their own
// tests, so it reads no environment variables and no files (no os, path/filepath or io/fs),
// and imports nothing beyond the standard library and go-jose: no OpenAPI library and no
// otlogin-internal package but internal/devhost (the module's one loopback check, behind
// LoopbackAddr and LoopbackOnly), which is held to the same rules here. (otlogin's own
// tests attach their contract checker through Options.Observer instead.)
func TestPublicPackageImports(t *testing.T) {
	const devhost = "github.com/otlogin/otlogin/internal/devhost"
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	devhostFiles, err := filepath.Glob("../../internal/devhost/*.go")
	require.NoError(t, err)
	require.NotEmpty(t, devhostFiles)
	files = append(files, devhostFiles...)
	forbidden := map[string]bool{"os": true, "path/filepath": true, "io/fs": true}
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		require.NoError(t, err)
		f, err := parser.ParseFile(token.NewFileSet(), name, src, parser.ImportsOnly)
		require.NoError(t, err)
		checked++
		for _, imp := range f.Imports {
			path, err := strconv.Unquote(imp.Path.Value)
			require.NoError(t, err)
			first, _, _ := strings.Cut(path, "/")
			thirdParty := strings.Contains(first, ".")
			assert.False(t, forbidden[path], "%s imports %s", name, path)
			assert.True(t, !thirdParty || strings.HasPrefix(path, "github.com/go-jose/go-jose/v4") || path == devhost,
				"%s imports %s: the emulator may depend only on the standard library, go-jose and internal/devhost", name, path)
		}
	}
	assert.Greater(t, checked, 5, "the package's own files were found")
}

// TestNoTestFrameworkLinked: an app that embeds the emulator in a development binary (as the
// example apps do) does not link the testing package through it.
func TestNoTestFrameworkLinked(t *testing.T) {
	gocmd := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gocmd); err != nil {
		t.Skipf("the go command is not at %s: %v", gocmd, err)
	}
	out, err := exec.Command(gocmd, "list", "-deps", ".").CombinedOutput()
	require.NoError(t, err, "%s", out)
	deps := strings.Fields(string(out))
	assert.Contains(t, deps, "net/http", "the dependency list was read")
	assert.False(t, slices.Contains(deps, "testing"), "transmittest links the testing package")
}
