package examples_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin/examples/internal/conformance"
	"github.com/otlogin/otlogin/internal/apptest/safe"
	"github.com/otlogin/otlogin/internal/testservice"
)

// The repository's modules an example may use, by import path, with their directories
// relative to the repository. The examples module is not one of them: a copied main.go
// cannot import it.
var repoModules = map[string]string{
	"github.com/otlogin/otlogin":               ".",
	"github.com/otlogin/otlogin/store":         "store",
	"github.com/otlogin/otlogin/adapters/gin":  "adapters/gin",
	"github.com/otlogin/otlogin/adapters/echo": "adapters/echo",
}

// TestEachExampleCopiesAlone holds the README's promise that each example is one main.go to
// copy into an app: copied alone into a fresh module whose go.mod has only replace
// directives to this repository's modules (the root, and store or an adapter when it
// imports them), `go mod tidy` and `go build` succeed, and the program runs: with no
// settings but ADDR it serves /healthz, the home page and the emulator's outbox, and stops
// cleanly on SIGINT.
//
// It resolves modules offline first (GOPROXY=off, from the machine's module cache, with the
// examples module's go.sum to start from) and falls back to the configured proxy only if
// that fails. Without a go command it skips,
// unless OTLOGIN_REQUIRE_SERVICES=1.
func TestEachExampleCopiesAlone(t *testing.T) {
	goCmd := goCommandPath(t)
	repo, err := filepath.Abs("..")
	require.NoError(t, err)
	mains, err := filepath.Glob("*/main.go")
	require.NoError(t, err)
	var names []string
	for _, m := range mains {
		names = append(names, filepath.Dir(m))
	}
	require.ElementsMatch(t, []string{"nethttp", "gin", "echo"}, names, "the examples this test knows")
	proxy := goEnv(t, goCmd, "GOPROXY")
	gosum, err := os.ReadFile("go.sum")
	require.NoError(t, err)

	for _, name := range names { // one at a time: each build uses every core
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join(name, "main.go"))
			require.NoError(t, err)
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), src, 0o644))
			gomod := "module example.com/myapp\n\ngo 1.26.0\n"
			for _, mod := range modulesImported(t, src) {
				gomod += fmt.Sprintf("\nreplace %s => %s\n", mod, filepath.Join(repo, repoModules[mod]))
			}
			require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644))
			// go.sum starts as the examples module's: the checksums this repository verified,
			// so the offline attempt need not ask the checksum database about a module whose
			// lookup the cache lacks. It picks no version (tidy does, from the go.mod files)
			// and tidy drops the lines the copy does not need.
			require.NoError(t, os.WriteFile(filepath.Join(dir, "go.sum"), gosum, 0o644))

			bin := filepath.Join(dir, "app")
			out, err := goCommand(t, goCmd, dir, tidyModule(t, goCmd, dir, proxy), "build", "-o", bin, ".")
			require.NoError(t, err, "go build of %s/main.go copied alone:\n%s", name, out)

			runCopy(t, bin)
		})
	}
}

// modulesImported returns the repository's modules that src imports, the root always first
// (the others require it). It fails the test on an import of any other package of this
// repository: an internal package or the examples module cannot be imported from a copy.
func modulesImported(t *testing.T, src []byte) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "main.go", src, parser.ImportsOnly)
	require.NoError(t, err)
	mods := []string{"github.com/otlogin/otlogin"}
	for _, imp := range f.Imports {
		path, err := strconv.Unquote(imp.Path.Value)
		require.NoError(t, err)
		if path != "github.com/otlogin/otlogin" && !strings.HasPrefix(path, "github.com/otlogin/otlogin/") {
			continue
		}
		assert.False(t, strings.Contains(path+"/", "/internal/") || strings.HasPrefix(path, "github.com/otlogin/otlogin/examples"),
			"main.go imports %s, which a copy in another module cannot", path)
		for mod := range repoModules {
			if mod != "github.com/otlogin/otlogin" && (path == mod || strings.HasPrefix(path, mod+"/")) {
				mods = append(mods, mod)
			}
		}
	}
	return mods
}

// runCopy runs the built example as a developer does, with the embedded emulator on a free
// loopback address, checks that it serves, and stops it with SIGINT.
func runCopy(t *testing.T, bin string) {
	t.Helper()
	addr := conformance.FreeAddr(t)
	var stdout, stderr safe.Buffer
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "ADDR="+addr, "PUBLIC_URL=", "TRANSMIT_CLIENT_ID=", "TRANSMIT_CLIENT_SECRET=",
		"TRANSMIT_BASE_URL=", "SESSION_STORE=")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		select {
		case <-exited:
		default:
			_ = cmd.Process.Kill()
			<-exited
		}
	}()

	c := &http.Client{Timeout: 5 * time.Second}
	get := func(path string) (int, string) {
		resp, err := c.Get("http://" + addr + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if code, _ := get("/healthz"); code == http.StatusOK {
			break
		}
		select {
		case err := <-exited:
			exited <- err
			require.FailNow(t, "the copied example stopped before serving", "%v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
		default:
		}
		require.True(t, time.Now().Before(deadline), "the copied example did not answer /healthz within 30s\nstdout:\n%s\nstderr:\n%s",
			stdout.String(), stderr.String())
		time.Sleep(20 * time.Millisecond)
	}
	code, body := get("/")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `href="/auth/login?next=/dashboard"`)
	code, body = get("/dev/outbox.json")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "[]", strings.TrimSpace(body))
	c.CloseIdleConnections()

	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	select {
	case err := <-exited:
		exited <- err
		assert.NoError(t, err, "exits 0 after a graceful shutdown\nstderr:\n%s", stderr.String())
	case <-time.After(time.Minute):
		t.Fatal("the copied example did not stop within a minute of SIGINT")
	}
	assert.Contains(t, stdout.String(), "using the embedded Mosaic emulator")
	assert.Contains(t, stdout.String(), "Listening on "+addr+"\n")
}

// goCommandPath returns the go command on PATH. Without one the test skips, unless
// OTLOGIN_REQUIRE_SERVICES=1.
func goCommandPath(t *testing.T) string {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		msg := "no go command on PATH to build modules with: " + err.Error()
		if testservice.Required() {
			t.Fatal(msg + "; failing because OTLOGIN_REQUIRE_SERVICES=1")
		}
		t.Skip(msg)
	}
	return goCmd
}

// goCommand runs the go command in dir, outside the workspace, resolving modules through
// proxy ("off": only the module cache).
func goCommand(t *testing.T, goCmd, dir, proxy string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goCmd, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local", "GOPROXY="+proxy)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// tidyModule runs `go mod tidy` in dir, offline first (GOPROXY=off) and through proxy when
// that fails, and returns the GOPROXY setting that worked.
func tidyModule(t *testing.T, goCmd, dir, proxy string) string {
	t.Helper()
	out, err := goCommand(t, goCmd, dir, "off", "mod", "tidy")
	if err == nil {
		return "off"
	}
	if proxy == "" || proxy == "off" {
		require.NoError(t, err, "go mod tidy, offline, with no proxy to fall back to:\n%s", out)
	}
	t.Logf("go mod tidy offline (GOPROXY=off) failed, retrying with GOPROXY=%s:\n%s", proxy, out)
	out, err = goCommand(t, goCmd, dir, proxy, "mod", "tidy")
	require.NoError(t, err, "go mod tidy:\n%s", out)
	return proxy
}

// goEnv returns `go env name`.
func goEnv(t *testing.T, goCmd, name string) string {
	t.Helper()
	out, err := exec.Command(goCmd, "env", name).Output()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		t.Logf("go env %s: %s", name, exit.Stderr)
	}
	require.NoError(t, err)
	return string(bytes.TrimSpace(out))
}
