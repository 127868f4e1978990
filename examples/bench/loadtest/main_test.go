package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRunProducesNumbers(t *testing.T) {
	res, err := run(context.Background(), options{Duration: 200 * time.Millisecond, Conns: 2})
	require.NoError(t, err)
	for name, r := range map[string]rate{"healthz": res.Healthz, "me": res.Me} {
		assert.Positive(t, r.Requests, "%s: requests served", name)
		assert.Zero(t, r.Errors, "%s: no failed requests", name)
		assert.Positive(t, r.PerSecond, "%s: requests per second", name)
	}
	assert.Positive(t, res.Ratio, "ratio of /api/me to /healthz")
	assert.Positive(t, res.MedianRatio, "median of per-round ratios")

	var out bytes.Buffer
	report(&out, res)
	assert.Contains(t, out.String(), "GET /api/me (signed in)")
	assert.Contains(t, out.String(), "ratio /api/me : /healthz = ")
	assert.Contains(t, out.String(), "median of per-round ratios")
}

func TestRunRejectsBadOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		o    options
	}{
		{"zero duration", options{Duration: 0, Conns: 1}},
		{"too long", options{Duration: time.Hour, Conns: 1}},
		{"no conns", options{Duration: time.Second, Conns: 0}},
		{"too many conns", options{Duration: time.Second, Conns: 1000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := run(context.Background(), tt.o)
			require.Error(t, err)
		})
	}
}
