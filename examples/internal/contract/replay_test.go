package contract_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin/examples/internal/contract"
	"github.com/otlogin/otlogin/internal/exchangelog"
)

// EnvReplay names the file of recorded exchanges TestRecordedExchanges validates.
const EnvReplay = "OTLOGIN_REPLAY_EXCHANGES"

// TestRecordedExchanges validates the emulator traffic the root module's and the store
// module's tests recorded (their emulators carry exchangelog.Record, and .ci/run sets
// $OTLOGIN_EXCHANGE_LOG for its test run) against the OpenAPI documents, and reports the counts
// like every test server of this module. .ci/run runs it after the test run with
// $OTLOGIN_REPLAY_EXCHANGES naming that file; without the variable there is nothing to replay.
func TestRecordedExchanges(t *testing.T) {
	path := os.Getenv(EnvReplay)
	if path == "" {
		t.Skipf("no recorded exchanges to validate: set %s to a file written by tests run with %s", EnvReplay, exchangelog.EnvLog)
	}
	spec, err := contract.Shared()
	if err != nil {
		contract.Need(t, nil)
	}
	c := contract.NewChecker(spec)
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	n := 0
	for sc.Scan() {
		var e exchangelog.Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Errorf("line %d of %s: %v", n+1, path, err)
			continue
		}
		req, err := http.NewRequest(e.Method, e.URL, bytes.NewReader(e.Body))
		require.NoError(t, err)
		req.Header = e.Header
		c.Check(context.Background(), contract.Exchange{Request: req, RequestBody: e.Body,
			Status: e.Status, Header: e.ResponseHeader, Body: e.ResponseBody, ByDesign: e.ByDesign})
		n++
	}
	require.NoError(t, sc.Err())
	assert.Positive(t, n, "%s holds no exchanges: the recording did not run", path)
	t.Logf("replayed %d exchanges: %+v", n, c.Stats())
	contract.Report(t, c)
}
