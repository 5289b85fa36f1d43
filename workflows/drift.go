package workflows

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// driftChecksPerRun bounds a drift check's history: a check adds about ten
// events (activity, timer, memo), so a run continues as new after this many
// (or when the server suggests it).
const driftChecksPerRun = 100

// driftCheck retries a check's reads like a plan's, for up to an hour; a
// check that still fails is reported as unknown and tried again one interval
// later.
var driftCheck = workflow.ActivityOptions{
	StartToCloseTimeout:    60 * time.Second,
	ScheduleToCloseTimeout: time.Hour,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
	},
}

// WatchDrift compares one tenant's configuration with its spec every drift
// interval (the worker's), with the plan's reads: drift is what a plan would
// change. It publishes what it found (CloudSyncDrift, the memo) and notifies
// when the drift set changes. A spec signal from a completed onboarding
// (Converged) clears the drift at once; another spec is checked at once.
// Cancelled, it ends at once (status canceled), with no further read.
func WatchDrift(ctx workflow.Context, in DriftInput) (DriftState, error) {
	d := &drifter{in: in}
	if in.State != nil {
		d.st = *in.State
		d.in.State = nil
	}
	d.st.Runs++
	if d.st.Notified == "" {
		d.st.Notified = DriftNone // nothing to repair yet
	}
	return d.run(ctx)
}

type drifter struct {
	in        DriftInput
	st        DriftState
	published string // the memo's state, as JSON
	notifying int    // notifications in flight: waited for before continuing as new
}

func (d *drifter) run(ctx workflow.Context) (DriftState, error) {
	specs := workflow.GetSignalChannel(ctx, DriftSpecSignal)
	checkNow := false
	switch {
	case d.st.Runs > 1:
		// Continued as new: the next check is when it was due.
	case d.in.Converged:
		if !d.adoptStartMemo(ctx) {
			d.converged(ctx)
		}
	default:
		checkNow = true
	}
	for checks := 0; ; {
		if checkNow {
			checkNow = false
			res, err := d.check(ctx)
			if ctx.Err() != nil {
				return d.st, workflow.ErrCanceled
			}
			checks++
			// A spec that arrived meanwhile supersedes what was checked.
			if specs.Len() == 0 {
				d.apply(ctx, res, err)
			}
		}
		if specs.Len() > 0 {
			checkNow = d.receiveSpecs(ctx, specs)
			continue
		}
		if checks >= driftChecksPerRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			return d.st, d.continueAsNew(ctx, specs)
		}
		wait := d.st.NextCheck.Sub(workflow.Now(ctx))
		if d.st.NextCheck.IsZero() || wait <= 0 {
			checkNow = true
			continue
		}
		tctx, cancelTimer := workflow.WithCancel(ctx)
		timer := workflow.NewTimer(tctx, wait)
		cancelled, fired := false, false
		sel := workflow.NewSelector(ctx)
		sel.AddFuture(timer, func(workflow.Future) { fired = true })
		sel.AddReceive(specs, func(c workflow.ReceiveChannel, _ bool) { checkNow = d.receiveSpecs(ctx, c) })
		sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) { cancelled = true })
		sel.Select(ctx)
		switch {
		case cancelled:
			return d.st, workflow.ErrCanceled
		case fired:
			checkNow = true
		default:
			cancelTimer()
		}
	}
}

// check runs one read set (CheckDrift: the plan's reads on a read-only client).
func (d *drifter) check(ctx workflow.Context) (DriftCheckResult, error) {
	opts := driftCheck
	opts.Summary = "drift check of " + d.in.Spec.Domain
	return Execute(workflow.WithActivityOptions(ctx, opts), PlanningActivities.CheckDrift, PlanInput{Spec: d.in.Spec, Exchange: d.in.Exchange}).Get(ctx)
}

// apply records a check's finding, notifies a changed drift set, publishes.
func (d *drifter) apply(ctx workflow.Context, res DriftCheckResult, err error) {
	now := workflow.Now(ctx)
	d.st.Checks++
	if res.Interval > 0 {
		d.st.Interval = res.Interval
	}
	d.st.NextCheck = now.Add(d.interval(ctx))
	if err != nil {
		// Graph refused or stayed unavailable for the retry window: what the
		// last good check found stands, marked unknown.
		d.st.Status, d.st.LastError = DriftUnknown, rootMessage(err)
		workflow.GetLogger(ctx).Warn("drift check failed", "error", d.st.LastError)
		d.publish(ctx)
		return
	}
	kinds := res.Plan.Drift()
	status := DriftStatus(kinds)
	if status != DriftStatus(d.st.Drift) || d.st.Since.IsZero() {
		d.st.Since = now
	}
	d.st.Drift, d.st.Status, d.st.LastError = kinds, status, ""
	d.st.Changes = nil
	for _, s := range res.Plan.Steps {
		if s.Action.Changes() {
			d.st.Changes = append(d.st.Changes, s)
		}
	}
	d.st.CheckedAt, d.st.By = now, "check"
	d.notifyIfChanged(ctx, "")
	d.publish(ctx)
}

// converged records that an onboarding just made Graph match the spec.
func (d *drifter) converged(ctx workflow.Context) {
	now := workflow.Now(ctx)
	if d.st.Status != DriftNone || d.st.Since.IsZero() {
		d.st.Since = now
	}
	d.st.Drift, d.st.Changes, d.st.Status, d.st.LastError = nil, nil, DriftNone, ""
	d.st.CheckedAt, d.st.By = now, "onboarding"
	d.st.NextCheck = now.Add(d.interval(ctx))
	d.notifyIfChanged(ctx, " by an onboarding")
	d.publish(ctx)
}

// convergedDriftState is a new drift check's state when the onboarding that
// starts it has just made Graph match the spec: what converged computes for
// a fresh check, so the onboarding can set it at start.
func convergedDriftState(now time.Time, interval time.Duration) DriftState {
	return DriftState{Status: DriftNone, CheckedAt: now, By: "onboarding", Since: now, Notified: DriftNone,
		Interval: interval, NextCheck: now.Add(interval), Runs: 1}
}

// adoptStartMemo takes the first state the onboarding set in this check's
// memo at start (lean-onboarding version 3), so that neither the interval
// nor the memo is written again; false when there is none.
func (d *drifter) adoptStartMemo(ctx workflow.Context) bool {
	p, ok := workflow.GetInfo(ctx).Memo.GetFields()[DriftMemoKey]
	if !ok || d.st.Runs != 1 {
		return false
	}
	var st DriftState
	if err := converter.GetDefaultDataConverter().FromPayload(p, &st); err != nil || st.Runs != 1 || st.Interval <= 0 {
		return false
	}
	b, err := json.Marshal(st)
	if err != nil {
		return false
	}
	d.st, d.published = st, string(b)
	d.publish(ctx) // the details only: the memo and the attribute already say it
	return true
}

// receiveSpecs takes the specs sent meanwhile (the last one wins) and says
// whether it must be checked now (not when a completed onboarding sent it).
func (d *drifter) receiveSpecs(ctx workflow.Context, c workflow.ReceiveChannel) bool {
	var last DriftInput
	got := false
	for {
		var in DriftInput
		if !c.ReceiveAsync(&in) {
			break
		}
		if why := d.foreign(in.Spec); why != "" {
			workflow.GetLogger(ctx).Warn("drift spec signal ignored", "why", why)
			continue
		}
		last, got = in, true
	}
	if !got {
		return false
	}
	d.in.Spec, d.in.Exchange = last.Spec.Normalized(), last.Exchange
	if last.Webhook != "" {
		// Like a watcher's options: a re-run that names no webhook keeps it.
		d.in.Webhook = last.Webhook
	}
	if last.Converged {
		d.converged(ctx)
		return false
	}
	return true
}

// foreign says why a signalled spec cannot be this check's (invalid, or of
// another tenant or domain: the workflow id names them).
func (d *drifter) foreign(s TenantSpec) string {
	if err := s.Validate(); err != nil {
		return err.Error()
	}
	n, own := s.Normalized(), d.in.Spec.Normalized()
	if n.TenantID != own.TenantID || n.Domain != own.Domain {
		return "the spec is of tenant " + n.TenantID + " domain " + n.Domain + ", not " + own.TenantID + " domain " + own.Domain
	}
	return ""
}

// interval is the worker's drift interval: as the last check reported it,
// else read once from the worker (a local activity: no Graph call).
func (d *drifter) interval(ctx workflow.Context) time.Duration {
	if d.st.Interval > 0 {
		return d.st.Interval
	}
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		ScheduleToCloseTimeout: 30 * time.Second,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 3},
	})
	var iv time.Duration
	if err := workflow.ExecuteLocalActivity(lctx, DriftIntervalActivity).Get(ctx, &iv); err != nil || iv <= 0 {
		workflow.GetLogger(ctx).Warn("drift interval not read from the worker: using the default", "default", DefaultDriftInterval, "error", err)
		return DefaultDriftInterval
	}
	d.st.Interval = iv
	return iv
}

// notifyIfChanged notifies when the drift set differs from the one last
// notified: drift appeared or changed, or it was repaired.
func (d *drifter) notifyIfChanged(ctx workflow.Context, how string) {
	if d.st.Status == d.st.Notified || d.st.Status == DriftUnknown {
		return
	}
	s := d.in.Spec
	kind, msg := NotifyDrift, fmt.Sprintf("the cloud sync configuration of %s in tenant %s differs from its spec (%s): %s; `starter onboard` with its spec repairs it",
		s.Domain, s.TenantID, d.st.Status, changesLine(d.st.Changes))
	if d.st.Status == DriftNone {
		kind, msg = NotifyDriftRepaired, fmt.Sprintf("the cloud sync configuration of %s in tenant %s matches its spec again%s (was: %s)",
			s.Domain, s.TenantID, how, d.st.Notified)
	}
	d.st.Notified = d.st.Status
	ao := notifyOptions(kind)
	drift := d.st.Drift
	if len(drift) == 0 {
		drift = []string{DriftNone}
	}
	n := Notification{TenantID: s.TenantID, Domain: s.Domain, WorkflowID: workflow.GetInfo(ctx).WorkflowExecution.ID,
		Kind: kind, Message: msg, Webhook: d.in.Webhook, Drift: drift}
	f := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, ao), NotifyActivity, n)
	d.notifying++
	workflow.Go(ctx, func(ctx workflow.Context) {
		defer func() { d.notifying-- }()
		if err := f.Get(ctx, nil); err != nil {
			workflow.GetLogger(ctx).Warn("notification not delivered", "kind", kind, "error", rootMessage(err))
		}
	})
}

// changesLine says what an onboarding would change, in one line.
func changesLine(steps []PlanStep) string {
	parts := make([]string, 0, len(steps))
	for _, s := range steps {
		parts = append(parts, s.Step+": "+string(s.Action)+" "+s.Detail)
	}
	return strings.Join(parts, "; ")
}

// publish keeps CloudSyncDrift on the status (one upsert per change: each is
// a billed action) and the memo on the state, and the Web UI's details.
func (d *drifter) publish(ctx workflow.Context) {
	if v, _ := workflow.GetTypedSearchAttributes(ctx).GetKeyword(SearchDrift); v != d.st.Status {
		_ = workflow.UpsertTypedSearchAttributes(ctx, SearchDrift.ValueSet(d.st.Status))
	}
	if b, err := json.Marshal(d.st); err == nil && string(b) != d.published {
		if workflow.UpsertMemo(ctx, map[string]any{DriftMemoKey: d.st}) == nil {
			d.published = string(b)
		}
	}
	det := fmt.Sprintf("**Drift check** of %s · tenant %s · **drift** %s · checked %s (%s) · next %s\n\n", d.in.Spec.Domain, d.in.Spec.TenantID,
		d.st.Status, d.st.CheckedAt.Format(time.RFC3339), d.st.By, d.st.NextCheck.Format(time.RFC3339))
	for _, s := range d.st.Changes {
		det += fmt.Sprintf("- %s: **%s** %s\n", s.Step, s.Action, s.Detail)
	}
	if d.st.LastError != "" {
		det += "\n**Last check failed:** " + d.st.LastError + "\n"
	}
	workflow.SetCurrentDetails(ctx, det)
}

// continueAsNew hands the state and the latest spec to a fresh run once the
// notifications in flight are out and no spec is pending.
func (d *drifter) continueAsNew(ctx workflow.Context, specs workflow.ReceiveChannel) error {
	for {
		if err := workflow.Await(ctx, func() bool { return specs.Len() > 0 || d.notifying == 0 }); err != nil {
			return workflow.ErrCanceled
		}
		if specs.Len() == 0 {
			break
		}
		if d.receiveSpecs(ctx, specs) {
			d.st.NextCheck = workflow.Now(ctx) // the new run checks it at once
		}
	}
	next := d.in
	next.Converged = false
	st := d.st
	next.State = &st
	return workflow.NewContinueAsNewError(ctx, WatchDriftWorkflow, next)
}
