// Package exchangelog lets the root module's tests have their emulator traffic checked against
// Transmit's OpenAPI documents although the checker (kin-openapi) lives in the examples module.
//
// [Record] adds an observer to an emulator's options that, when $OTLOGIN_EXCHANGE_LOG names a
// file, appends every exchange to it as one JSON line ([Entry]); otherwise it changes nothing.
// .ci/run sets the variable for the test run, then replays the file through the checker
// (TestRecordedExchanges in examples/internal/contract), which fails on any violation.
package exchangelog

import (
	"encoding/json"
	"net/http"
	"os"
	"sync"

	"github.com/otlogin/otlogin/transmit/transmittest"
)

// EnvLog names the environment variable holding the file exchanges are appended to.
const EnvLog = "OTLOGIN_EXCHANGE_LOG"

// Entry is one recorded exchange.
type Entry struct {
	Method         string      `json:"method"`
	URL            string      `json:"url"`
	Header         http.Header `json:"header"`
	Body           []byte      `json:"body"`
	Status         int         `json:"status"`
	ResponseHeader http.Header `json:"response_header"`
	ResponseBody   []byte      `json:"response_body"`
	ByDesign       bool        `json:"by_design"`
}

var mu sync.Mutex // one line per write, in order, within this process

// Record returns opts with an Observer (after any already set) that appends each exchange to
// $OTLOGIN_EXCHANGE_LOG; when the variable is unset it returns opts unchanged.
func Record(opts transmittest.Options) transmittest.Options {
	path := os.Getenv(EnvLog)
	if path == "" {
		return opts
	}
	next := opts.Observer
	opts.Observer = func(ex transmittest.Exchange) {
		u := *ex.Request.URL
		u.Scheme, u.Host = "http", ex.Request.Host
		line, err := json.Marshal(Entry{Method: ex.Request.Method, URL: u.String(), Header: ex.Request.Header,
			Body: ex.RequestBody, Status: ex.Status, ResponseHeader: ex.Header, ResponseBody: ex.Body, ByDesign: ex.ByDesign})
		if err == nil {
			mu.Lock()
			if f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600); err == nil {
				_, _ = f.Write(append(line, '\n')) // O_APPEND: whole lines, also across test processes
				_ = f.Close()
			}
			mu.Unlock()
		}
		if next != nil {
			next(ex)
		}
	}
	return opts
}
