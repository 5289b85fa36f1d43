package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// stopWatchingStep: a few Temporal calls; a worker that cannot reach its own
// Temporal keeps retrying for a while, then the offboarding fails before any
// delete.
var stopWatchingStep = workflow.ActivityOptions{
	StartToCloseTimeout:    time.Minute,
	ScheduleToCloseTimeout: 15 * time.Minute,
	RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second},
}

// deleteStep: one Graph request per attempt, so a short attempt timeout: a
// worker killed mid-delete is retried within half a minute; throttling and
// 5xx back off as graphStep does, for at most an hour.
var deleteStep = workflow.ActivityOptions{
	StartToCloseTimeout:    30 * time.Second,
	ScheduleToCloseTimeout: time.Hour,
	RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
}

// confirmStep: Graph's reads catch up with a delete after a while (Terraform
// waits for five "not found" in a row): the retry policy is the poll loop.
var confirmStep = workflow.ActivityOptions{
	StartToCloseTimeout:    time.Minute,
	ScheduleToCloseTimeout: 10 * time.Minute,
	RetryPolicy:            &temporal.RetryPolicy{InitialInterval: 2 * time.Second, BackoffCoefficient: 1.5, MaximumInterval: 30 * time.Second},
}

// OffboardTenant removes the cloud sync configuration of one tenant and
// domain after a human approves: it finds it (InventoryConfiguration),
// publishes what it would remove, waits for ApproveOffboardUpdate or
// RejectOffboardUpdate, then stops watching and deletes the jobs, the service
// principal and the application, a step each. Every activity is idempotent
// (a 404 is "already gone"), so a crash anywhere is retried or re-run safely.
// It never touches the tenant's sync flag.
func OffboardTenant(ctx workflow.Context, in OffboardInput) (OffboardState, error) {
	o := &offboarding{in: in.Normalized()}
	o.st = OffboardState{TenantID: o.in.TenantID, Domain: o.in.Domain, Phase: PhaseInventory}
	if err := o.setup(ctx); err != nil {
		return o.st, err
	}
	return o.run(ctx)
}

type offboarding struct {
	in        OffboardInput
	st        OffboardState
	published string // the memo as last upserted
	sa        map[string]string
}

func (o *offboarding) setup(ctx workflow.Context) error {
	for _, u := range []struct {
		name    string
		approve bool
	}{{ApproveOffboardUpdate, true}, {RejectOffboardUpdate, false}} {
		approve := u.approve
		err := workflow.SetUpdateHandlerWithOptions(ctx, u.name,
			func(ctx workflow.Context, req OffboardDecisionRequest) (OffboardDecision, error) {
				if o.st.Decision == nil {
					o.st.Decision = &OffboardDecision{Approve: approve, Approver: strings.TrimSpace(req.Approver), Reason: strings.TrimSpace(req.Reason), At: workflow.Now(ctx)}
				}
				return *o.st.Decision, nil
			},
			workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, req OffboardDecisionRequest) error {
				return o.validDecision(req)
			}})
		if err != nil {
			return err
		}
	}
	return nil
}

// validDecision refuses, before the history, a malformed decision, an
// approver not allowed, and a decision when nothing awaits one (the inventory
// is not published yet, or a decision was made).
func (o *offboarding) validDecision(req OffboardDecisionRequest) error {
	if err := validDecider(req.Validate, o.in.Approvers, req.Approver, "this offboarding"); err != nil {
		return err
	}
	switch {
	case o.st.Decision != nil:
		verb := "rejected"
		if o.st.Decision.Approve {
			verb = "approved"
		}
		return fmt.Errorf("already decided: %s by %s (%s)", verb, o.st.Decision.Approver, o.st.Decision.Reason)
	case o.st.Phase == PhaseInventory:
		return errors.New("nothing awaits approval yet: the offboarding is still finding what to remove")
	case o.st.Phase != PhaseAwaitingOffboardApproval:
		return fmt.Errorf("nothing awaits approval: the offboarding is %s", o.st.Phase)
	}
	return nil
}

func (o *offboarding) run(ctx workflow.Context) (OffboardState, error) {
	o.upsert(ctx, map[string]string{SearchPhase.GetName(): PhaseInventory, SearchOutcome.GetName(): OnboardingRunning})
	if err := o.in.Validate(); err != nil {
		return o.fail(ctx, StepInventory, temporal.NewNonRetryableApplicationError(err.Error(), ValidationErrorType, nil))
	}

	// 1. What is there.
	inv, err := offboardStep(ctx, o, StepInventory, graphStep, OffboardingActivities.InventoryConfiguration,
		InventoryInput{TenantID: o.in.TenantID, Domain: o.in.Domain, DisplayName: o.in.DisplayName})
	if err != nil {
		return o.fail(ctx, StepInventory, err)
	}
	o.st.Inventory = &inv
	if !inv.Found {
		o.report(StepReport{Step: StepInventory, Outcome: OutcomeUnchanged, Detail: "no configuration syncs " + o.in.Domain + ": nothing to remove"})
		return o.finish(ctx, PhaseNothingToRemove)
	}
	o.report(StepReport{Step: StepInventory, Outcome: OutcomeUnchanged, Detail: fmt.Sprintf("found service principal %s with %d job(s)", inv.ServicePrincipalID, len(inv.Jobs))})

	// 2. A human decides, on what was published.
	o.st.Phase, o.st.AwaitingSince = PhaseAwaitingOffboardApproval, workflow.Now(ctx)
	o.setAwaiting(ctx, true)
	o.publish(ctx, StepApproval)
	if err := workflow.Await(ctx, func() bool { return o.st.Decision != nil }); err != nil {
		return o.cancelled(ctx, "cancelled while awaiting approval: nothing removed")
	}
	d := *o.st.Decision
	o.setAwaiting(ctx, false)
	if !d.Approve {
		o.report(StepReport{Step: StepApproval, Outcome: OutcomeSkipped, Detail: "rejected by " + d.Approver + ": " + d.Reason})
		return o.finish(ctx, PhaseOffboardRejected)
	}
	o.report(StepReport{Step: StepApproval, Outcome: OutcomeChanged, Detail: "approved by " + d.Approver + ": " + d.Reason})
	o.st.Phase = PhaseOffboarding

	// 3. Nobody watches what is about to go.
	reason := clipTo("offboarding of "+o.in.Domain+" approved: "+d.Reason, MaxReasonLength)
	stopped, err := offboardStep(ctx, o, StepStopWatching, stopWatchingStep, OffboardingActivities.StopWatching,
		StopWatchingInput{TenantID: o.in.TenantID, Domain: o.in.Domain, JobIDs: inv.jobIDs(), By: d.Approver, Reason: reason})
	if err != nil {
		return o.fail(ctx, StepStopWatching, err)
	}
	o.report(stopped)

	// 4. The jobs, the service principal, the application: each checked
	// against the domain before it goes.
	for _, j := range inv.Jobs {
		rep, err := offboardStep(ctx, o, StepDeleteJobs, deleteStep, OffboardingActivities.DeleteSyncJob,
			DeleteJobInput{TenantID: o.in.TenantID, Domain: o.in.Domain, ServicePrincipalID: inv.ServicePrincipalID, JobID: j.ID})
		if err != nil {
			return o.fail(ctx, StepDeleteJobs, err)
		}
		o.report(rep)
	}
	obj := DeleteObjectInput{TenantID: o.in.TenantID, Domain: o.in.Domain, ServicePrincipalID: inv.ServicePrincipalID, AppID: inv.AppID, ApplicationObjectID: inv.ApplicationObjectID}
	for _, s := range []struct {
		step     string
		activity func(OffboardingActivities, context.Context, DeleteObjectInput) (StepReport, error)
	}{{StepDeleteSP, OffboardingActivities.DeleteServicePrincipal}, {StepDeleteApp, OffboardingActivities.DeleteApplication}} {
		rep, err := offboardStep(ctx, o, s.step, deleteStep, s.activity, obj)
		if err != nil {
			return o.fail(ctx, s.step, err)
		}
		o.report(rep)
	}
	// 5. Done once Graph's reads agree: a re-run right after finds nothing
	// rather than asking again about what is already gone.
	confirmed, err := offboardStep(ctx, o, StepConfirmRemoved, confirmStep, OffboardingActivities.ConfirmRemoved, ConfirmRemovedInput{TenantID: o.in.TenantID, Domain: o.in.Domain,
		DisplayName: o.in.DisplayName, ServicePrincipalID: inv.ServicePrincipalID, AppID: inv.AppID})
	switch {
	case temporal.IsCanceledError(err):
		return o.cancelled(ctx, "cancelled during step "+StepConfirmRemoved+": everything was deleted")
	case err != nil:
		// Deleted all the same: Graph's reads catch up by themselves.
		confirmed = StepReport{Step: StepConfirmRemoved, Outcome: OutcomeSkipped, Detail: "Graph's reads still showed what was deleted (" + rootMessage(err) +
			"); they catch up by themselves, and a re-run meanwhile finds those objects already gone"}
	}
	o.report(confirmed)
	o.report(StepReport{Step: StepSyncFlagUntouched, Outcome: OutcomeSkipped, Detail: SyncFlagNote})
	return o.finish(ctx, PhaseOffboarded)
}

func (inv Inventory) jobIDs() []string {
	ids := make([]string, 0, len(inv.Jobs))
	for _, j := range inv.Jobs {
		ids = append(ids, j.ID)
	}
	return ids
}

// offboardStep runs one activity, publishing the step first.
func offboardStep[I, O any](ctx workflow.Context, o *offboarding, step string, opts workflow.ActivityOptions, m func(OffboardingActivities, context.Context, I) (O, error), in I) (O, error) {
	o.publish(ctx, step)
	opts.Summary = step + " for " + o.in.TenantID + " (" + o.in.Domain + ")"
	return Execute(workflow.WithActivityOptions(ctx, opts), m, in).Get(ctx)
}

func (o *offboarding) report(r StepReport) { o.st.Steps = append(o.st.Steps, r) }

// fail ends the offboarding with what was done so far; a cancellation (of the
// workflow, so of its activity) ends it as cancelled.
func (o *offboarding) fail(ctx workflow.Context, step string, err error) (OffboardState, error) {
	if temporal.IsCanceledError(err) {
		return o.cancelled(ctx, "cancelled during step "+step)
	}
	msg := rootMessage(err)
	o.report(StepReport{Step: step, Outcome: OutcomeFailed, Detail: msg})
	o.st.Error = msg
	if o.st.Phase == PhaseAwaitingOffboardApproval {
		o.setAwaiting(ctx, false)
	}
	st, _ := o.finish(ctx, PhaseOffboardFailed)
	full := fmt.Sprintf("offboarding %s (%s) failed at step %s: %s", o.in.TenantID, o.in.Domain, step, msg)
	return st, temporal.NewNonRetryableApplicationError(full, OffboardFailureType, err, st)
}

// cancelled ends a cancelled offboarding, publishing it on a context that is
// not cancelled.
func (o *offboarding) cancelled(ctx workflow.Context, why string) (OffboardState, error) {
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	if o.st.Phase == PhaseAwaitingOffboardApproval {
		o.setAwaiting(ctx, false)
	}
	o.st.Error = why
	st, _ := o.finish(ctx, PhaseOffboardCancelled)
	return st, temporal.NewCanceledError(why)
}

func (o *offboarding) finish(ctx workflow.Context, phase string) (OffboardState, error) {
	o.st.Phase = phase
	o.publish(ctx, "done")
	workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"outcome": phase}).Counter("cloudsync_offboardings_total").Inc(1)
	return o.st, nil
}

// setAwaiting publishes "needs approval" to visibility, as the watchers do:
// starter list --awaiting-approval and the Web UI read it from there.
func (o *offboarding) setAwaiting(ctx workflow.Context, v bool) {
	since := SearchAwaitingSince.ValueUnset()
	if v {
		since = SearchAwaitingSince.ValueSet(o.st.AwaitingSince)
	}
	_ = workflow.UpsertTypedSearchAttributes(ctx, SearchAwaitingApproval.ValueSet(v), since)
}

// publish puts the state in the memo, and the phase and outcome in the
// search attributes, when they changed (each upsert is a billed action: the
// step is in the memo and the details, not in a search attribute).
func (o *offboarding) publish(ctx workflow.Context, step string) {
	outcome := OnboardingRunning
	if o.st.Settled() {
		outcome = o.st.Phase
	}
	o.upsert(ctx, map[string]string{SearchPhase.GetName(): o.st.Phase, SearchOutcome.GetName(): outcome})
	b, _ := json.Marshal(o.st)
	if string(b) != o.published && workflow.UpsertMemo(ctx, map[string]any{OffboardMemoKey: o.st}) == nil {
		o.published = string(b)
	}
	workflow.SetCurrentDetails(ctx, o.details(step))
}

// upsert sets the keyword attributes whose value changed, in one command.
func (o *offboarding) upsert(ctx workflow.Context, kv map[string]string) {
	if o.sa == nil {
		o.sa = map[string]string{}
		current := workflow.GetTypedSearchAttributes(ctx)
		for _, k := range []temporal.SearchAttributeKeyKeyword{SearchPhase, SearchOutcome} {
			if v, ok := current.GetKeyword(k); ok {
				o.sa[k.GetName()] = v
			}
		}
	}
	var set []temporal.SearchAttributeUpdate
	for _, k := range []temporal.SearchAttributeKeyKeyword{SearchPhase, SearchOutcome} {
		if v, ok := kv[k.GetName()]; ok && o.sa[k.GetName()] != v {
			set = append(set, k.ValueSet(v))
			o.sa[k.GetName()] = v
		}
	}
	if len(set) > 0 {
		_ = workflow.UpsertTypedSearchAttributes(ctx, set...)
	}
}

// details is the Markdown the Web UI shows on the workflow page.
func (o *offboarding) details(step string) string {
	s := o.st
	d := fmt.Sprintf("**Offboarding** %s · **tenant** %s · **phase** %s · **step** %s\n\n", s.Domain, s.TenantID, s.Phase, step)
	if s.Phase == PhaseAwaitingOffboardApproval {
		d += fmt.Sprintf("**Awaiting approval** (update `%s` or `%s` with {\"approver\",\"reason\"}) to remove:\n\n", ApproveOffboardUpdate, RejectOffboardUpdate)
	}
	if s.Inventory != nil && s.Phase == PhaseAwaitingOffboardApproval {
		for _, l := range s.Inventory.Lines() {
			d += "- " + l + "\n"
		}
		d += "\n"
	}
	for _, r := range s.Steps {
		d += fmt.Sprintf("- %s: **%s** %s\n", r.Step, r.Outcome, r.Detail)
	}
	if s.Error != "" {
		d += "\n**Error:** " + s.Error + "\n"
	}
	return d
}

func clipTo(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
