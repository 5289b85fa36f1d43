package activities

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/cloudsync/cloudsync/graph"
	wf "github.com/cloudsync/cloudsync/workflows"
)

// Waiting out Graph's lag inside one attempt (as temporalio/samples-go
// polling/frequent does for short waits): a new service principal's
// replication (404), a new job's read lag, a new service principal's
// settling 403/409. Every activity retry is a billed Temporal action and
// server work; a wait of a few seconds in the worker costs neither. The
// attempt gives up before its StartToClose with the same retryable error, so
// the retry policy stays the safety net for longer lags.
//
// No heartbeats: the steps that wait have no heartbeat timeout, the wait ends
// well inside StartToClose (which detects a lost worker as before), and each
// heartbeat that reaches the server is billed too. The price: a workflow
// cancellation reaches the waiting attempt only when it ends (at most
// LagWindow, spent on reads). The worker's shutdown cancels ctx, which ends
// the wait at once.
const (
	// DefaultLagPoll is how often a waiting attempt reads again (Graph's
	// docs advise polling a new object about every 5 s).
	DefaultLagPoll = 5 * time.Second
	// DefaultLagWindow bounds one attempt's wait: 25 s fits the 30 s
	// StartToClose of the service-principal wait.
	DefaultLagWindow = 25 * time.Second
	// lagMargin is left between the wait's end and the attempt's deadline,
	// for the last request and the answer to reach the server.
	lagMargin = 5 * time.Second
)

// lagEnd is when this attempt stops waiting: LagWindow from now, and no
// later than lagMargin before the attempt's deadline.
func (a *Activities) lagEnd(ctx context.Context) time.Time {
	end := time.Now().Add(wf.OrDefault(a.LagWindow, DefaultLagWindow))
	if d, ok := ctx.Deadline(); ok && d.Add(-lagMargin).Before(end) {
		end = d.Add(-lagMargin)
	}
	return end
}

// waitOut calls try until it returns an error that is not Graph's lag
// (lagging says which are), or nil, or until the wait window ends or ctx is
// done: then it returns try's last (retryable) error. try runs at once, so
// with no lag there is no extra request; its argument counts the tries.
func (a *Activities) waitOut(ctx context.Context, try func(n int) error, lagging func(error) bool) error {
	end := a.lagEnd(ctx)
	poll := wf.OrDefault(a.LagPoll, DefaultLagPoll)
	for n := 1; ; n++ {
		err := try(n)
		if err == nil || !lagging(err) || ctx.Err() != nil {
			return err
		}
		wait := poll
		var ae *temporal.ApplicationError
		if errors.As(err, &ae) {
			if d := ae.NextRetryDelay(); d > wait {
				wait = d // Graph's Retry-After
			}
		}
		if time.Now().Add(wait).After(end) {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// isLag says whether a classified error is Graph's expected lag (a fresh
// object's 404, a new service principal's settling 403/409): the benign
// retryable errors, but not throttling, whose Retry-After the retry policy
// honours across attempts.
func isLag(err error) bool {
	var ae *temporal.ApplicationError
	return errors.As(err, &ae) && !ae.NonRetryable() && ae.Category() == temporal.ApplicationErrorCategoryBenign &&
		ae.Type() != string(graph.KindThrottled) && ae.Type() != ErrWaitingForList
}

// settling runs a step on a service principal this run created (spCreated
// set) again from the start while it meets Graph's lag: a new service
// principal's settling 403/409, or a fresh object's 404. again is true on
// the re-runs: they look before they write, as a retry attempt does (no
// listing handed on by the previous step). On a service principal the run
// found, the step runs once, as before.
func settling[T any](ctx context.Context, a *Activities, spCreated time.Time, step func(again bool) (T, error)) (T, error) {
	if spCreated.IsZero() {
		return step(false)
	}
	var out T
	err := a.waitOut(ctx, func(n int) error {
		var err error
		out, err = step(n > 1)
		return err
	}, isLag)
	return out, err
}
