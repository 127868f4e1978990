package store_test

import (
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin"
	"github.com/otlogin/otlogin/internal/apptest"
	"github.com/otlogin/otlogin/transmit/transmittest"
)

// TestScaleOutOneAuthenticateInFlight: 20 parallel submissions of one correct passcode by
// one browser, spread over two instances sharing a store, make one Mosaic authenticate call
// and one sign-in: the in-flight guard of a flow is claimed in the shared limiter.
func TestScaleOutOneAuthenticateInFlight(t *testing.T) {
	t.Parallel()
	for _, b := range backends() {
		if !b.shared {
			continue // two memory limiters share nothing; the root package tests one instance
		}
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			c := apptest.New(t, apptest.Options{Store: b.open(t)})
			email := c.CreateUsers("inflight", 1)[0]
			cl := c.NewClient()
			r := cl.SendOTP(instA, email)
			require.Equal(t, http.StatusAccepted, r.Status, r.String())
			code, ok := c.Emu.LastCode(email)
			require.True(t, ok)
			c.Emu.SetLatency(20 * time.Millisecond)

			var wg sync.WaitGroup
			var mu sync.Mutex
			statuses := map[int]int{}
			start := make(chan struct{})
			for i := range 20 {
				wg.Go(func() {
					<-start
					r := cl.PostJSON(i%2, "/auth/otp/authenticate", map[string]string{"passcode": code})
					mu.Lock()
					statuses[r.Status]++
					mu.Unlock()
				})
			}
			close(start)
			wg.Wait()
			calls := c.Emu.Calls(transmittest.EndpointAuthenticateOTP)
			t.Logf("%s: Mosaic authenticate calls: %d; answers: %v", b.name, calls, statuses)
			assert.Equal(t, 1, calls, "one Mosaic authenticate per flow, across instances")
			assert.Equal(t, 1, statuses[http.StatusOK], "one sign-in: %v", statuses)
			assert.Equal(t, 19, statuses[http.StatusBadRequest], "the others get the generic answer: %v", statuses)
			assert.Equal(t, 1, c.Emu.SessionCount(), "one Mosaic session")
		})
	}
}

// TestScaleOutCrossDeviceConfirm: with AllowCrossDevice, a link sent through instance A and
// opened in another browser on instance B shows a confirm page naming the address (the
// record A wrote to the shared store), and the confirm on A signs that address in.
func TestScaleOutCrossDeviceConfirm(t *testing.T) {
	t.Parallel()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			c := apptest.New(t, apptest.Options{Store: b.open(t), Config: func(cfg *otlogin.Config) {
				cfg.AllowCrossDevice = true
			}})
			email := c.CreateUsers("xdev", 1)[0]
			r := c.NewClient().PostJSON(instA, "/auth/link/email/send", map[string]string{"email": email})
			require.Equal(t, http.StatusAccepted, r.Status, r.String())
			link, ok := c.Emu.LastLink(email)
			require.True(t, ok)
			u, err := url.Parse(link)
			require.NoError(t, err)

			other := c.NewClient()
			r = other.Get(instB, u.RequestURI())
			require.Equal(t, http.StatusOK, r.Status, r.String())
			assert.Contains(t, r.Body, email, "the confirm page names the address")
			r = other.PostForm(instA, "/auth/link/email/authenticate", url.Values{
				"code": {u.Query().Get("code")}, "state": {u.Query().Get("state")}})
			require.Equal(t, http.StatusSeeOther, r.Status, r.String())
			signedInAs(t, other, instB, email)
		})
	}
}
