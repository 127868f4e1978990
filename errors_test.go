package otlogin

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRetryAfter: a 429's Retry-After is the wait rounded up to whole seconds, at least 1;
// an unknown wait is a minute.
func TestRetryAfter(t *testing.T) {
	t.Parallel()
	a, err := New(Config{Client: testClient(t), PublicURL: "https://app.example.com"})
	require.NoError(t, err)
	cases := []struct {
		retry time.Duration
		want  string
	}{
		{time.Millisecond, "1"},
		{300 * time.Millisecond, "1"},
		{time.Second, "1"},
		{1500 * time.Millisecond, "2"},
		{90 * time.Second, "90"},
		{0, "60"},
		{-time.Second, "60"},
	}
	for _, tc := range cases {
		t.Run(tc.retry.String(), func(t *testing.T) {
			t.Parallel()
			for _, accept := range []string{"application/json", "text/html"} {
				w := httptest.NewRecorder()
				r := httptest.NewRequest(http.MethodPost, "/auth/otp/send", nil)
				r.Header.Set("Accept", accept)
				if accept == "application/json" {
					a.fail(w, r, errRateLimited(tc.retry))
				} else {
					a.failForm(w, r, errRateLimited(tc.retry), "/")
				}
				assert.Equal(t, http.StatusTooManyRequests, w.Code)
				assert.Equal(t, tc.want, w.Header().Get("Retry-After"), accept)
			}
		})
	}
}
