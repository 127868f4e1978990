package examples_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// maxConsumerModules is the module graph of a net/http app that imports otlogin, transmit
// and transmittest, as README "Modules" states it (`go list -m all`, the app's own module
// included). A new dependency of the root module shows here first: raise the figure only
// together with the README.
const maxConsumerModules = 24

// TestConsumerModuleGraph: a fresh net/http app that imports the root module's three public
// packages gets no router, database driver, browser driver, OpenAPI library or Redis fake in
// its module graph, and at most maxConsumerModules modules in all.
func TestConsumerModuleGraph(t *testing.T) {
	goCmd := goCommandPath(t)
	repo, err := filepath.Abs("..")
	require.NoError(t, err)
	dir := t.TempDir()
	main := `package main

import (
	"net/http"

	"github.com/otlogin/otlogin"
	"github.com/otlogin/otlogin/transmit"
	"github.com/otlogin/otlogin/transmit/transmittest"
)

var (
	_ = otlogin.New
	_ = transmit.New
	_ = transmittest.NewServer
)

func main() { _ = http.ListenAndServe }
`
	gomod := "module example.com/consumer\n\ngo 1.26.0\n\nreplace github.com/otlogin/otlogin => " + repo + "\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte(main), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644))
	gosum, err := os.ReadFile(filepath.Join(repo, "go.sum"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.sum"), gosum, 0o644))

	proxy := tidyModule(t, goCmd, dir, goEnv(t, goCmd, "GOPROXY"))
	out, err := goCommand(t, goCmd, dir, proxy, "list", "-m", "all")
	require.NoError(t, err, "go list -m all:\n%s", out)
	mods := strings.Split(strings.TrimSpace(out), "\n")
	t.Logf("%d modules in a net/http consumer's graph:\n%s", len(mods), out)
	require.Equal(t, "example.com/consumer", mods[0], "the list starts with the app's module")
	for _, heavy := range []string{
		"github.com/gin-gonic/", "github.com/labstack/", "github.com/jackc/", "github.com/redis/",
		"github.com/chromedp/", "github.com/getkin/", "github.com/alicebob/", "github.com/quic-go/",
		"go.mongodb.org/",
	} {
		for _, m := range mods {
			assert.False(t, strings.HasPrefix(m, heavy), "a net/http consumer's graph holds %s", m)
		}
	}
	assert.LessOrEqual(t, len(mods), maxConsumerModules, "README \"Modules\" states the graph's size")
}
