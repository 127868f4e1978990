package contract

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// EnvSpecDir names the environment variable that points at the OpenAPI directory.
const EnvSpecDir = "OTLOGIN_SPEC_DIR"

// EnvReport names the environment variable holding the file that test servers append their
// contract summary line to.
const EnvReport = "OTLOGIN_CONTRACT_REPORT"

// ErrSpecNotFound reports that no OpenAPI directory could be located.
var ErrSpecNotFound = errors.New("contract: spec not found; set " + EnvSpecDir)

// marker is the file whose presence identifies the spec directory.
const marker = "backend-one-time-login.openapi.yml"

// SpecDir returns the directory holding the OpenAPI documents, which this repository does not
// ship: $OTLOGIN_SPEC_DIR when set, otherwise a shared/spec folder beside an ancestor of the
// working directory that holds go.mod (the repository holds several modules, so every such
// ancestor is tried, nearest first). It returns
// [ErrSpecNotFound] when neither exists; when OTLOGIN_SPEC_DIR is set but lacks the documents,
// the error says so.
func SpecDir() (string, error) {
	if dir := os.Getenv(EnvSpecDir); dir != "" {
		if !hasMarker(dir) {
			return "", fmt.Errorf("contract: %s=%q has no %s: %w", EnvSpecDir, dir, marker, ErrSpecNotFound)
		}
		return dir, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("contract: working directory: %w", err)
	}
	for dir := wd; ; {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			cand := filepath.Join(filepath.Dir(dir), "shared", "spec")
			if hasMarker(cand) {
				return cand, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", ErrSpecNotFound
		}
		dir = parent
	}
}

func hasMarker(dir string) bool {
	st, err := os.Stat(filepath.Join(dir, marker))
	return err == nil && st.Mode().IsRegular()
}
