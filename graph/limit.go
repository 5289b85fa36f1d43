package graph

import (
	"context"
	"fmt"
	"net/http"

	"golang.org/x/time/rate"
)

// Graph's identity write budget is per app per tenant, about 3,000 writes per
// 2.5 minutes (20 a second). A client spaces its tenant's writes below it, so
// many onboardings or approvals in one tenant queue in the worker instead of
// meeting 429s; reads are not limited (their budget is far larger).
const (
	DefaultWriteRate  = 15 // writes a second per tenant: 3/4 of the budget
	DefaultWriteBurst = 20 // an onboarding's writes (about 10) never wait
)

// newWriteLimiter is a token bucket for one tenant's writes; nil (no limit)
// for a rate of 0. A canceled wait gives its token back (rate.Limiter.Wait
// cancels its reservation).
func newWriteLimiter(r float64, burst int) *rate.Limiter {
	if r <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(r), max(burst, 1))
}

// limitingTransport waits for the tenant's write budget before each write.
type limitingTransport struct {
	next    http.RoundTripper
	limiter *rate.Limiter
}

func (t limitingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if err := t.limiter.Wait(r.Context()); err != nil {
			if r.Context().Err() == nil {
				// rate refuses at once a wait that would outlast the deadline:
				// the same end as waiting for it, without the wait.
				err = fmt.Errorf("graph: tenant write limit: %w (%w)", context.DeadlineExceeded, err)
			}
			return nil, err
		}
	}
	return t.next.RoundTrip(r)
}
