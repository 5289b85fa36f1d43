package graph

import (
	"context"
	"net/http"
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
		require.NoError(t, l.Wait(ctx))
	}
	require.Less(t, time.Since(start), 10*time.Millisecond, "the burst does not wait")
	for range 5 {
		require.NoError(t, l.Wait(ctx))
	}
	require.GreaterOrEqual(t, time.Since(start), 90*time.Millisecond, "5 more at 50/s take about 100 ms")

	// A canceled wait gives its token back.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	l2 := newWriteLimiter(1, 1)
	require.NoError(t, l2.Wait(ctx))
	require.ErrorIs(t, l2.Wait(cctx), context.Canceled)
	require.Nil(t, newWriteLimiter(0, 10), "rate 0: no limit")
	require.Equal(t, 1, newWriteLimiter(5, 0).Burst(), "a burst below 1 still lets writes through")
}

// Reads pass the limit; a write that could not get a token before the
// request's deadline fails as a deadline, without reaching Graph.
func TestLimitingTransportLimitsOnlyWrites(t *testing.T) {
	sent := 0
	next := roundTripFunc(func(*http.Request) (*http.Response, error) {
		sent++
		return &http.Response{StatusCode: http.StatusNoContent, Body: http.NoBody}, nil
	})
	tr := limitingTransport{next: next, limiter: newWriteLimiter(0.1, 1)} // one write, then one per 10 s
	do := func(ctx context.Context, method string) error {
		req, err := http.NewRequestWithContext(ctx, method, "https://graph.example/beta/x", nil)
		require.NoError(t, err)
		_, err = tr.RoundTrip(req)
		return err
	}
	ctx := context.Background()
	require.NoError(t, do(ctx, http.MethodPatch))
	for range 5 {
		require.NoError(t, do(ctx, http.MethodGet), "reads are not limited")
	}
	dctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := do(dctx, http.MethodPost)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 50*time.Millisecond, "no wait for a token the deadline cannot reach")
	require.Equal(t, 6, sent, "the refused write never reached Graph")
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
