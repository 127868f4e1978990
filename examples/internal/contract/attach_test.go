package contract_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin/examples/internal/contract"
	"github.com/otlogin/otlogin/transmit/transmittest"
)

// stubTB records what Attach reports instead of failing the real test.
type stubTB struct {
	testing.TB
	errors   []string
	cleanups []func()
}

func (s *stubTB) Helper()                   {}
func (s *stubTB) Name() string              { return "stub" }
func (s *stubTB) Logf(string, ...any)       {}
func (s *stubTB) Cleanup(f func())          { s.cleanups = append(s.cleanups, f) }
func (s *stubTB) Errorf(f string, a ...any) { s.errors = append(s.errors, fmt.Sprintf(f, a...)) }
func (s *stubTB) Fatalf(f string, a ...any) { s.errors = append(s.errors, fmt.Sprintf(f, a...)) }

// TestAttachFailsTheTestOnAViolation: a checker attached through Options.Observer sees the
// emulator's traffic, and at the end of the test reports every violation as a test failure (so
// go test, and with it .ci/run, fails).
func TestAttachFailsTheTestOnAViolation(t *testing.T) {
	t.Setenv(contract.EnvReport, "") // this violation is on purpose: keep it out of CI's report
	stub := &stubTB{TB: t}
	var opts transmittest.Options
	c := contract.Attach(stub, &opts)
	contract.Need(t, c)
	s := transmittest.NewServer(opts)
	defer s.Close()

	req, err := http.NewRequest(http.MethodPost, s.BaseURL()+"/v1/auth/otp/send",
		strings.NewReader(`{"channel":"email","identifier_type":"email","identifier":"a@example.com"}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req) // no Authorization header: the operation requires one
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode)

	require.Empty(t, stub.errors, "nothing is reported before the end of the test")
	require.Len(t, stub.cleanups, 1)
	stub.cleanups[0]()
	require.Len(t, stub.errors, 1)
	assert.Contains(t, stub.errors[0], "1 OpenAPI contract violation(s)")
	assert.Contains(t, stub.errors[0], "Authorization: Bearer <token> required")
}
