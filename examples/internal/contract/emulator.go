package contract

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/otlogin/otlogin/internal/testservice"
	"github.com/otlogin/otlogin/transmit/transmittest"
)

// Attach sets opts.Observer (keeping any observer already there) to a strict [Checker] over the
// [Shared] documents and returns that checker. At the end of t it fails t listing every
// violation and appends the counts to $OTLOGIN_CONTRACT_REPORT when that is set. Without the
// documents it logs that the checks are skipped and returns nil, or fails t when
// $OTLOGIN_REQUIRE_SERVICES=1.
func Attach(t testing.TB, opts *transmittest.Options) *Checker {
	t.Helper()
	spec, err := Shared()
	if err != nil {
		if testservice.Required() {
			t.Fatalf("contract checks required but unavailable: %v", err)
		}
		t.Logf("contract checks skipped: %v", err)
		return nil
	}
	c := NewChecker(spec)
	next := opts.Observer
	opts.Observer = func(ex transmittest.Exchange) {
		c.Check(context.WithoutCancel(ex.Request.Context()), Exchange{
			Request: ex.Request, RequestBody: ex.RequestBody,
			Status: ex.Status, Header: ex.Header, Body: ex.Body, ByDesign: ex.ByDesign,
		})
		if next != nil {
			next(ex)
		}
	}
	t.Cleanup(func() { Report(t, c) })
	return c
}

// Report fails t listing every violation c has seen and appends c's counts to
// $OTLOGIN_CONTRACT_REPORT when that is set. [Attach] calls it at the end of the test.
func Report(t testing.TB, c *Checker) {
	t.Helper()
	if v := c.Violations(); len(v) > 0 {
		t.Errorf("%d OpenAPI contract violation(s):\n  %s", len(v), strings.Join(v, "\n  "))
	}
	if path := os.Getenv(EnvReport); path != "" {
		if err := c.AppendReport(path, t.Name()); err != nil {
			t.Errorf("contract: %v", err)
		}
	}
}

// NewTestServer is [transmittest.NewTestServer] with a checker attached by [Attach]; the
// checker is nil when the documents were not found.
func NewTestServer(t testing.TB, opts transmittest.Options) (*transmittest.Server, *Checker) {
	t.Helper()
	c := Attach(t, &opts)
	return transmittest.NewTestServer(t, opts), c
}

// Need skips t (with a message) when c is nil because the documents were not found, or fails
// it when $OTLOGIN_REQUIRE_SERVICES=1 (testservice.Unavailable). Call it before asserting a
// counter.
func Need(t testing.TB, c *Checker) {
	t.Helper()
	if c == nil {
		testservice.Unavailable(t, "OpenAPI documents not found (set OTLOGIN_SPEC_DIR): contract counters not checked")
	}
}
