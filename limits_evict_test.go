package otlogin

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMemoryLimiterFullKeepsSpentBudgets: an anonymous flood that fills the limiter must not
// make it forget budgets that were spent (docs/SECURITY.md M9; evicting the oldest windows
// instead would let one-off windows reset the app-wide SMS budget and an attacker IP's budget).
// When full, the limiter forgets the windows that counted least (one event: forgetting one
// costs at most that event), not the oldest.
func TestMemoryLimiterFullKeepsSpentBudgets(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	l := &MemoryLimiter{Now: func() time.Time { return now }, MaxKeys: 200}
	ctx := context.Background()
	for range 5 {
		ok, _, err := l.Allow(ctx, "sms:global", 5, time.Hour)
		require.NoError(t, err)
		require.True(t, ok)
	}
	ok, _, _ := l.Allow(ctx, "sms:global", 5, time.Hour)
	require.False(t, ok, "the budget is spent")

	now = now.Add(46 * time.Minute) // the hour window is now the closest to its reset
	for i := range 5000 {
		_, _, err := l.Allow(ctx, "flood:"+strconv.Itoa(i), 30, 15*time.Minute)
		require.NoError(t, err)
	}
	ok, retry, _ := l.Allow(ctx, "sms:global", 5, time.Hour)
	assert.False(t, ok, "a flood of one-off keys does not reset a spent budget")
	assert.Greater(t, retry, 10*time.Minute)
	l.mu.Lock()
	n := len(l.windows)
	l.mu.Unlock()
	assert.LessOrEqual(t, n, 200, "MaxKeys still holds")
}
