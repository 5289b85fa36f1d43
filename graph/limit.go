package graph

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// Graph's identity write budget is per app per tenant, about 3,000 writes per
// 2.5 minutes (20 a second). A client spaces its tenant's writes below it, so
// many onboardings or approvals in one tenant queue in the worker instead of
// meeting 429s; reads are not limited (their budget is far larger).
const (
	DefaultWriteRate  = 15 // writes a second per tenant: 3/4 of the budget
	DefaultWriteBurst = 20 // an onboarding's writes (about 10) never wait
)

// writeLimiter is a token bucket for one tenant's writes.
type writeLimiter struct {
	rate  float64 // tokens a second
	burst float64

	mu     sync.Mutex
	tokens float64
	last   time.Time
}

func newWriteLimiter(rate float64, burst int) *writeLimiter {
	if rate <= 0 {
		return nil
	}
	if burst < 1 {
		burst = 1
	}
	return &writeLimiter{rate: rate, burst: float64(burst), tokens: float64(burst)}
}

// wait takes a token, sleeping until one is there (or ctx ends).
func (l *writeLimiter) wait(ctx context.Context) error {
	l.mu.Lock()
	now := time.Now()
	if !l.last.IsZero() {
		l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	}
	l.last = now
	l.tokens--
	var delay time.Duration
	if l.tokens < 0 {
		delay = time.Duration(-l.tokens / l.rate * float64(time.Second))
	}
	l.mu.Unlock()
	if delay == 0 {
		return nil
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		// Give the token back: the write never happened.
		l.mu.Lock()
		l.tokens++
		l.mu.Unlock()
		return ctx.Err()
	}
}

// limitingTransport waits for the tenant's write budget before each write.
type limitingTransport struct {
	next    http.RoundTripper
	limiter *writeLimiter
}

func (t limitingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if err := t.limiter.wait(r.Context()); err != nil {
			return nil, err
		}
	}
	return t.next.RoundTrip(r)
}
