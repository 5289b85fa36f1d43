package graph

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A tenant's writes pass at once up to the burst, then at the rate.
func TestWriteLimiterSpacesWritesAfterTheBurst(t *testing.T) {
	l := newWriteLimiter(50, 3)
	ctx := context.Background()
	start := time.Now()
	for range 3 {
		require.NoError(t, l.wait(ctx))
	}
	require.Less(t, time.Since(start), 10*time.Millisecond, "the burst does not wait")
	for range 5 {
		require.NoError(t, l.wait(ctx))
	}
	require.GreaterOrEqual(t, time.Since(start), 90*time.Millisecond, "5 more at 50/s take about 100 ms")

	// A canceled wait gives its token back.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	l2 := newWriteLimiter(1, 1)
	require.NoError(t, l2.wait(ctx))
	require.ErrorIs(t, l2.wait(cctx), context.Canceled)
	require.Nil(t, newWriteLimiter(0, 10), "rate 0: no limit")
}
