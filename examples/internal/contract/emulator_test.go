package contract_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin/examples/internal/contract"
	"github.com/otlogin/otlogin/internal/emutest"
	"github.com/otlogin/otlogin/transmit/transmittest"
)

// The emulator's own contract: its success paths break nothing, the requests it refuses are the
// ones the documents refuse, and its answers outside the documents are all marked by design.
// (transmit/transmittest tests the behaviour; these tests hold it to the OpenAPI documents.)

// TestEmulatorHappyPathNoViolations drives every endpoint through its success path
// (emutest.RunHappyPath, which transmit/transmittest runs too); the attached checker fails the
// test at cleanup if any exchange broke the contract.
func TestEmulatorHappyPathNoViolations(t *testing.T) {
	t.Parallel()
	s, c := contract.NewTestServer(t, transmittest.Options{AllowedRedirectURIs: []string{emutest.LinkRedirect}})
	contract.Need(t, c)
	emutest.RunHappyPath(t, s)

	st := c.Stats()
	assert.Equal(t, 11, st.Requests)
	assert.Equal(t, 10, st.Responses, "the discovery document has no schema")
	assert.Equal(t, 1, st.Unvalidated)
	assert.Zero(t, st.Violations, c.Violations())
	assert.Zero(t, st.OutOfSpecByDesign)
	assert.Zero(t, st.Unmatched)
}

// TestEmulatorRefusesWhatTheContractRefuses: every request the emulator answers with its
// documented 400 is one the checker finds in breach of the documents.
func TestEmulatorRefusesWhatTheContractRefuses(t *testing.T) {
	t.Parallel()
	opts := transmittest.Options{}
	c := attachUnreported(t, &opts) // these requests are violations on purpose
	s := transmittest.NewTestServer(t, opts)
	tok := emutest.ClientToken(t, s)
	s.CreateUser(emutest.BadRequestEmail, emutest.BadRequestPhone)
	for _, tc := range emutest.BadRequests() {
		before := c.Stats().Violations
		r := emutest.Call(t, s, tok, tc.Path, tc.Body)
		assert.Equal(t, http.StatusBadRequest, r.Status, tc.Name)
		assert.Greater(t, c.Stats().Violations, before, "%s: the checker sees the request break the contract", tc.Name)
	}
}

// TestEmulatorMissingBearer: the three 401 answers of the token rule are out of spec by
// design; only the request with no Authorization header breaks the operation's security (for
// an unknown or expired token the checker cannot know).
func TestEmulatorMissingBearer(t *testing.T) {
	t.Parallel()
	opts := transmittest.Options{}
	c := attachUnreported(t, &opts)
	s := transmittest.NewTestServer(t, opts)
	for _, tok := range []string{"", "not-a-token"} {
		assert.Equal(t, http.StatusUnauthorized, sendOTP(t, s, tok).Status)
	}
	tok := emutest.ClientToken(t, s)
	s.Advance(time.Hour)
	assert.Equal(t, http.StatusUnauthorized, sendOTP(t, s, tok).Status)
	assert.Equal(t, 3, c.Stats().OutOfSpecByDesign)
	v := c.Violations()
	require.Len(t, v, 1, v)
	assert.Contains(t, v[0], "Authorization: Bearer <token> required")
}

// TestEmulatorUnmatchedCounted: a request to a path or method no document describes reaches
// the checker and is counted as unmatched.
func TestEmulatorUnmatchedCounted(t *testing.T) {
	t.Parallel()
	s, c := contract.NewTestServer(t, transmittest.Options{})
	contract.Need(t, c)
	tok := emutest.ClientToken(t, s)
	assert.Equal(t, http.StatusNotFound, emutest.Call(t, s, tok, "/v1/auth/otp/sendd", map[string]any{}).Status)
	assert.Equal(t, http.StatusMethodNotAllowed, emutest.Get(t, s.BaseURL()+"/v1/auth/otp/send").Status)
	st := c.Stats()
	assert.Equal(t, 2, st.Unmatched)
	assert.Equal(t, 1, st.Requests, "the token request only")
}

// attachUnreported attaches a checker whose violations are the point of the test: it is not
// reported at cleanup. It skips (or fails under OTLOGIN_REQUIRE_SERVICES=1) without the documents.
func attachUnreported(t *testing.T, opts *transmittest.Options) *contract.Checker {
	t.Helper()
	spec, err := contract.Shared()
	if err != nil {
		contract.Need(t, nil)
	}
	c := contract.NewChecker(spec)
	opts.Observer = func(ex transmittest.Exchange) {
		c.Check(ex.Request.Context(), contract.Exchange{Request: ex.Request, RequestBody: ex.RequestBody,
			Status: ex.Status, Header: ex.Header, Body: ex.Body, ByDesign: ex.ByDesign})
	}
	return c
}

// sendOTP asks s to email a passcode to a@example.com.
func sendOTP(t *testing.T, s *transmittest.Server, tok string) emutest.Resp {
	t.Helper()
	return emutest.SendOTP(t, s, tok, "email", "email", "a@example.com")
}
