package otlogin_test

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRootModuleStaysLight: an app that imports otlogin gets otlogin's go.mod requirements in
// its module graph. Routers, database drivers, the browser driver, the OpenAPI library and
// miniredis belong to the store, adapters and examples modules (each with its own go.mod,
// joined by go.work), never to the root go.mod.
func TestRootModuleStaysLight(t *testing.T) {
	gomod, err := os.ReadFile("go.mod")
	require.NoError(t, err)
	for _, heavy := range []string{
		"github.com/chromedp/", "github.com/getkin/kin-openapi", "github.com/alicebob/miniredis",
		"github.com/gin-gonic/gin", "github.com/labstack/echo", "github.com/jackc/pgx",
		"github.com/redis/go-redis", "github.com/alexedwards/scs/goredisstore", "github.com/alexedwards/scs/pgxstore",
	} {
		assert.NotContains(t, string(gomod), heavy, "the root go.mod requires %s", heavy)
	}

	work, err := os.ReadFile("go.work")
	require.NoError(t, err)
	for _, m := range []string{"store", "adapters/gin", "adapters/echo", "examples"} {
		modfile, err := os.ReadFile(m + "/go.mod")
		require.NoError(t, err, "%s is a module of its own", m)
		assert.True(t, strings.HasPrefix(string(modfile), "module github.com/otlogin/otlogin/"+m+"\n"), "%s/go.mod names its module", m)
		assert.Contains(t, string(work), "./"+m+"\n", "go.work uses %s", m)
	}
}
