package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Watch defaults.
const (
	DefaultPollInterval     = 2 * time.Minute
	DefaultRefreshInterval  = 6 * time.Hour
	DefaultReminderInterval = 4 * time.Hour
	DefaultMaxHistoryEvents = 10000
	maxDecisionsKept        = 20
)

// WithDefaults fills unset watch options.
func (o WatchOptions) WithDefaults() WatchOptions {
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.RefreshInterval <= 0 {
		o.RefreshInterval = DefaultRefreshInterval
	}
	if o.ReminderInterval <= 0 {
		o.ReminderInterval = DefaultReminderInterval
	}
	if o.MaxHistoryEvents <= 0 {
		o.MaxHistoryEvents = DefaultMaxHistoryEvents
	}
	return o
}

// WatchSyncJob watches one sync job for as long as the tenant is managed. It
// polls with one long-retrying activity (the retry policy is the loop: one
// action per poll, no history per poll), asks a human when the job is
// quarantined for too many deletes, and restarts with ForceDeletes only on an
// explicit approval, which the history records with who and why.
func WatchSyncJob(ctx workflow.Context, in WatchInput) (WatchState, error) {
	w := &watcher{in: in, opts: in.Options.WithDefaults()}
	if in.State != nil {
		w.st = *in.State
	} else {
		w.st = WatchState{Phase: PhaseWatching}
	}
	w.st.Runs++
	if err := w.setup(ctx); err != nil {
		return w.st, err
	}
	return w.run(ctx)
}

type watcher struct {
	in   WatchInput
	opts WatchOptions
	st   WatchState

	cancelReminder workflow.CancelFunc
	reminder       workflow.Future
	deciding       bool // a decision is being acted on (signal and update share it)
}

func (w *watcher) setup(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, StatusQuery, func() (WatchState, error) { return w.st, nil }); err != nil {
		return err
	}
	for _, u := range []struct {
		name    string
		approve bool
	}{{ApproveUpdate, true}, {RejectUpdate, false}} {
		approve := u.approve
		err := workflow.SetUpdateHandlerWithOptions(ctx, u.name,
			func(ctx workflow.Context, req DecisionRequest) (Decision, error) {
				return w.decide(ctx, approve, req), nil
			},
			workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, req DecisionRequest) error {
				return w.canDecide(approve, req)
			}})
		if err != nil {
			return err
		}
	}
	return nil
}

func (w *watcher) run(ctx workflow.Context) (WatchState, error) {
	logger := workflow.GetLogger(ctx)
	approveCh := workflow.GetSignalChannel(ctx, ApproveSignal)
	rejectCh := workflow.GetSignalChannel(ctx, RejectSignal)
	if w.st.Phase == PhaseAwaitingApproval {
		w.startReminder(ctx)
	}
	w.details(ctx)

	poll := w.startPoll(ctx)
	for {
		polled := false
		sel := workflow.NewSelector(ctx)
		sel.AddFuture(poll, func(f workflow.Future) {
			polled = true
			var s JobStatus
			if err := f.Get(ctx, &s); err != nil {
				// The poll retries forever; this is a bug or a cancellation. Do
				// not spin: the next poll waits one interval.
				logger.Error("poll failed", "error", err)
				_ = workflow.Sleep(ctx, w.opts.PollInterval)
				return
			}
			w.observe(ctx, s)
		})
		sel.AddReceive(approveCh, func(c workflow.ReceiveChannel, _ bool) { w.signal(ctx, c, true) })
		sel.AddReceive(rejectCh, func(c workflow.ReceiveChannel, _ bool) { w.signal(ctx, c, false) })
		if w.reminder != nil {
			sel.AddFuture(w.reminder, func(f workflow.Future) {
				if f.Get(ctx, nil) == nil && w.st.Phase == PhaseAwaitingApproval {
					w.st.Reminders++
					w.notify(ctx, "reminder", fmt.Sprintf("reminder %d: job %s has held deletions back since %s and still awaits a decision",
						w.st.Reminders, w.in.JobID, w.st.AwaitingSince.Format(time.RFC3339)))
					w.startReminder(ctx)
				}
			})
		}
		sel.Select(ctx)

		if w.st.Phase == PhaseEnded {
			w.details(ctx)
			return w.st, nil
		}
		if !polled {
			continue
		}
		info := workflow.GetInfo(ctx)
		if info.GetContinueAsNewSuggested() || info.GetCurrentHistoryLength() >= w.opts.MaxHistoryEvents {
			return w.st, w.continueAsNew(ctx, approveCh, rejectCh)
		}
		poll = w.startPoll(ctx)
	}
}

// startPoll schedules one poll. Its retry policy is the loop: every
// PollInterval the activity looks again and fails with JobUnchanged until
// something changes, which costs one action and no history.
func (w *watcher) startPoll(ctx workflow.Context) workflow.Future {
	last := w.st.Job
	in := PollJobInput{TenantID: w.in.TenantID, ServicePrincipalID: w.in.ServicePrincipalID, JobID: w.in.JobID, RefreshAfter: w.opts.RefreshInterval}
	if !last.ObservedAt.IsZero() {
		in.Last = &last
	}
	ao := workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: w.opts.PollInterval, BackoffCoefficient: 1, MaximumInterval: w.opts.PollInterval,
		},
		Summary: "poll " + w.in.JobID,
	}
	return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, ao), PollJobActivity, in)
}

// observe acts on a status change.
func (w *watcher) observe(ctx workflow.Context, s JobStatus) {
	prev := w.st.Job
	w.st.Job = s
	w.st.Polls++
	if s.StatusCode != prev.StatusCode || s.Gone {
		state := s.StatusCode
		if s.Gone {
			state = "Deleted"
		}
		_ = workflow.UpsertTypedSearchAttributes(ctx, SearchJobState.ValueSet(state))
		workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"state": state}).Counter("cloudsync_job_state_changes_total").Inc(1)
	}
	switch {
	case s.Gone:
		w.leaveAwaiting(ctx)
		w.st.Phase, w.st.Outcome = PhaseEnded, "the job or its service principal was deleted: nothing left to watch"
		w.st.Advice = ""
		w.notify(ctx, "ended", w.st.Outcome)
	case s.QuarantineReason == "TooManyDeletes":
		// A new quarantine (a later start) after a restart or a rejection is a new
		// episode that needs its own decision.
		newEpisode := prev.QuarantineReason != "TooManyDeletes" || !s.QuarantineSince.Equal(prev.QuarantineSince)
		switch {
		case w.st.Phase == PhaseAwaitingApproval:
			// Still waiting for the decision.
		case (w.st.Phase == PhaseRejected || w.st.Phase == PhaseRestarting) && !newEpisode:
			// Same episode: the decision was refused, or is being applied.
		default:
			w.st.Phase, w.st.AwaitingSince, w.st.Reminders = PhaseAwaitingApproval, workflow.Now(ctx), 0
			w.st.Advice = fmt.Sprintf("the accidental-delete threshold held deletions back on job %s. If they are intended, approve "+
				"(starter approve, or signal %q with {\"approver\",\"reason\"}); if not, fix the cause on-premises and reject", w.in.JobID, ApproveSignal)
			w.setAwaiting(ctx, true)
			w.notify(ctx, "awaiting-approval", "job "+w.in.JobID+" is quarantined for too many deletes and awaits an approval: "+w.st.Advice)
			w.startReminder(ctx)
		}
	case s.QuarantineReason != "":
		w.leaveAwaiting(ctx)
		if w.st.Phase != PhaseQuarantined || prev.QuarantineReason != s.QuarantineReason {
			w.st.Phase, w.st.Advice = PhaseQuarantined, adviceFor(s)
			w.notify(ctx, "quarantined", "job "+w.in.JobID+" is quarantined ("+s.QuarantineReason+"): "+w.st.Advice)
		}
	default:
		if w.st.Phase != PhaseWatching {
			w.leaveAwaiting(ctx)
			w.st.Phase, w.st.Advice = PhaseWatching, ""
			w.notify(ctx, "recovered", "job "+w.in.JobID+" is healthy again ("+s.StatusCode+")")
		}
	}
	w.details(ctx)
}

// adviceFor explains a quarantine that no approval can answer.
func adviceFor(s JobStatus) string {
	who := "Microsoft's sync service reports it; if it persists, open a support case with the job id"
	if s.TenantActionable {
		who = "the tenant's admin must fix it"
	}
	advice := fmt.Sprintf("reason %s, error %s (%s): %s; cloudsync never answers this with ForceDeletes", s.QuarantineReason, s.QuarantineError, s.QuarantineMessage, who)
	switch s.QuarantineError {
	case "HybridIdentityServiceNoActiveAgents":
		advice += ". Install or restart the provisioning agent for this domain"
	case "AzureActiveDirectoryInvalidCredential":
		advice += ". Re-run the agent configuration to refresh the sync credentials"
	}
	return advice
}

// canDecide is the validator shared by updates (refused before history) and
// signals (ignored with a log line).
func (w *watcher) canDecide(approve bool, req DecisionRequest) error {
	if strings.TrimSpace(req.Approver) == "" {
		return errors.New("approver is required: who is deciding")
	}
	if strings.TrimSpace(req.Reason) == "" {
		return errors.New("reason is required: why the deletions are (or are not) intended")
	}
	if w.st.Phase != PhaseAwaitingApproval || w.deciding {
		return fmt.Errorf("nothing awaits a decision on job %s (phase %s)", w.in.JobID, w.st.Phase)
	}
	if len(w.opts.Approvers) > 0 {
		ok := false
		for _, a := range w.opts.Approvers {
			if strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(req.Approver)) {
				ok = true
			}
		}
		if !ok {
			return fmt.Errorf("%s is not an allowed approver for this tenant", req.Approver)
		}
	}
	return nil
}

func (w *watcher) signal(ctx workflow.Context, c workflow.ReceiveChannel, approve bool) {
	var req DecisionRequest
	c.Receive(ctx, &req)
	if err := w.canDecide(approve, req); err != nil {
		workflow.GetLogger(ctx).Warn("decision ignored", "approve", approve, "approver", req.Approver, "why", err.Error())
		w.record(Decision{Approve: approve, Approver: req.Approver, Reason: req.Reason, At: workflow.Now(ctx), Outcome: "ignored: " + err.Error()})
		return
	}
	w.decide(ctx, approve, req)
}

// decide acts on a valid decision: an approval restarts the job with
// ForceDeletes; a rejection leaves it quarantined.
func (w *watcher) decide(ctx workflow.Context, approve bool, req DecisionRequest) Decision {
	d := Decision{Approve: approve, Approver: strings.TrimSpace(req.Approver), Reason: strings.TrimSpace(req.Reason), At: workflow.Now(ctx)}
	w.deciding = true
	defer func() { w.deciding = false }()
	w.leaveAwaiting(ctx)
	if !approve {
		w.st.Phase = PhaseRejected
		w.st.Advice = "deletions rejected by " + d.Approver + ": the job stays quarantined until its state changes (fix the cause on-premises, then restart it)"
		d.Outcome = "rejected"
		w.record(d)
		workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"decision": "reject"}).Counter("cloudsync_delete_decisions_total").Inc(1)
		w.notify(ctx, "decision", "deletions on job "+w.in.JobID+" rejected by "+d.Approver+": "+d.Reason)
		w.details(ctx)
		return d
	}
	w.st.Phase = PhaseRestarting
	w.st.Advice = "approved by " + d.Approver + ": restarting with ForceDeletes; the next polls confirm the job is healthy"
	w.details(ctx)
	ao := workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute, ScheduleToCloseTimeout: time.Hour,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
		Summary:     "ForceDeletes restart approved by " + d.Approver,
	}
	var res RestartResult
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, ao), RestartJobActivity,
		RestartInput{TenantID: w.in.TenantID, ServicePrincipalID: w.in.ServicePrincipalID, JobID: w.in.JobID, Decision: d}).Get(ctx, &res)
	switch {
	case err != nil:
		d.Outcome = "restart failed: " + rootMessage(err)
		w.st.Phase, w.st.AwaitingSince = PhaseAwaitingApproval, workflow.Now(ctx)
		w.setAwaiting(ctx, true)
		w.startReminder(ctx)
	case res.Restarted:
		d.Outcome = "restart-issued"
	default:
		d.Outcome = "not needed: " + res.Detail
		w.st.Phase, w.st.Advice = PhaseWatching, ""
	}
	w.record(d)
	workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"decision": "approve"}).Counter("cloudsync_delete_decisions_total").Inc(1)
	w.notify(ctx, "decision", "deletions on job "+w.in.JobID+" approved by "+d.Approver+" ("+d.Reason+"): "+d.Outcome)
	w.details(ctx)
	return d
}

func (w *watcher) record(d Decision) {
	w.st.Decisions = append(w.st.Decisions, d)
	if n := len(w.st.Decisions); n > maxDecisionsKept {
		w.st.Decisions = w.st.Decisions[n-maxDecisionsKept:]
	}
}

func (w *watcher) startReminder(ctx workflow.Context) {
	if w.cancelReminder != nil {
		w.cancelReminder()
	}
	tctx, cancel := workflow.WithCancel(ctx)
	w.cancelReminder = cancel
	w.reminder = workflow.NewTimer(tctx, w.opts.ReminderInterval)
}

// leaveAwaiting stops reminders and clears the "needs approval" flag.
func (w *watcher) leaveAwaiting(ctx workflow.Context) {
	if w.cancelReminder != nil {
		w.cancelReminder()
		w.cancelReminder, w.reminder = nil, nil
	}
	if w.st.Phase == PhaseAwaitingApproval {
		w.setAwaiting(ctx, false)
	}
}

// setAwaiting publishes "needs approval" to the Web UI (search attribute) and
// to metrics (a 0/1 gauge per job, so alerts can sum pending approvals).
func (w *watcher) setAwaiting(ctx workflow.Context, v bool) {
	_ = workflow.UpsertTypedSearchAttributes(ctx, SearchAwaitingApproval.ValueSet(fmt.Sprint(v)))
	g := 0.0
	if v {
		g = 1
	}
	workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"tenant": w.in.TenantID, "job": w.in.JobID}).Gauge("cloudsync_watch_awaiting_approval").Update(g)
}

func (w *watcher) notify(ctx workflow.Context, kind, msg string) {
	ao := workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second, ScheduleToCloseTimeout: 10 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 2 * time.Second, MaximumAttempts: 5},
		Summary:     "notify " + kind,
	}
	n := Notification{TenantID: w.in.TenantID, Domain: w.in.Domain, JobID: w.in.JobID, WorkflowID: workflow.GetInfo(ctx).WorkflowExecution.ID,
		Kind: kind, Message: msg, Job: w.st.Job, WebhookURL: w.opts.WebhookURL}
	// Best effort and not awaited in order: a failing webhook must not stop watching.
	workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, ao), NotifyActivity, n)
}

func (w *watcher) details(ctx workflow.Context) {
	j := w.st.Job
	d := fmt.Sprintf("**Job** `%s` · **tenant** %s · **phase** %s · **status** %s/%s", w.in.JobID, w.in.TenantID, w.st.Phase, j.ScheduleState, j.StatusCode)
	if j.QuarantineReason != "" {
		d += fmt.Sprintf(" · **quarantine** %s (%s)", j.QuarantineReason, j.QuarantineError)
	}
	if j.LastExecutionState != "" {
		d += fmt.Sprintf("\n\nLast run %s, ended %s, exported %d", j.LastExecutionState, j.LastExecutionEnded.Format(time.RFC3339), j.CountExported)
	}
	if w.st.Advice != "" {
		d += "\n\n**Action:** " + w.st.Advice
	}
	if n := len(w.st.Decisions); n > 0 {
		last := w.st.Decisions[n-1]
		d += fmt.Sprintf("\n\nLast decision: approve=%t by %s (%s): %s", last.Approve, last.Approver, last.Reason, last.Outcome)
	}
	workflow.SetCurrentDetails(ctx, d)
}

// continueAsNew hands the state to a fresh run once pending signals and
// update handlers are done, so no decision is lost.
func (w *watcher) continueAsNew(ctx workflow.Context, approveCh, rejectCh workflow.ReceiveChannel) error {
	for drained := false; !drained; {
		drained = true
		if approveCh.Len() > 0 {
			w.signal(ctx, approveCh, true)
			drained = false
		}
		if rejectCh.Len() > 0 {
			w.signal(ctx, rejectCh, false)
			drained = false
		}
	}
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return err
	}
	if w.cancelReminder != nil {
		w.cancelReminder()
	}
	next := w.in
	st := w.st
	next.State = &st
	return workflow.NewContinueAsNewError(ctx, WatchSyncJobWorkflow, next)
}
