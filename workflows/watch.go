package workflows

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// WatchSyncJob is the entity of one watched sync job. It is idle between
// changes: the poller signals it (ObservedSignal) only when something it acts
// on changed. A TooManyDeletes quarantine is presented to humans as one
// episode (job, seriesBegan); an approval or rejection applies to the episode
// presented when it was received, and the ForceDeletes restart is issued only
// if the job is still in that very episode.
func WatchSyncJob(ctx workflow.Context, in WatchInput) (WatchState, error) {
	w := &watcher{in: in, opts: in.Options.WithDefaults()}
	if in.State != nil {
		w.st = *in.State
		w.st.Runs++
	} else {
		w.st = newWatchState()
	}
	if err := w.setup(ctx); err != nil {
		return w.st, err
	}
	return w.run(ctx)
}

type watcher struct {
	in   WatchInput
	opts WatchOptions
	st   WatchState

	look           workflow.Channel // a decision found nothing to decide: look at the job now
	wake           workflow.Channel // an update handler changed what the main loop acts on
	cancelReminder workflow.CancelFunc
	reminder       workflow.Future
	notifying      int // notifications in flight: waited for before closing
	unwatch        *UnwatchRequest
	restarting     *Episode // an approval of this episode is being acted on

	published string // what the memo holds now ("": unknown)
	phaseSA   string // what the CloudSyncPhase search attribute holds
}

func (w *watcher) setup(ctx workflow.Context) error {
	w.look = workflow.NewBufferedChannel(ctx, 1)
	w.wake = workflow.NewBufferedChannel(ctx, 1)
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
				defer w.wake.SendAsync(true) // the main loop checks the history's length
				return w.decide(ctx, approve, req), nil
			},
			workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, req DecisionRequest) error {
				return w.validDecision(req)
			}})
		if err != nil {
			return err
		}
	}
	err := workflow.SetUpdateHandlerWithOptions(ctx, ResumeUpdate, w.resume,
		workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, req ResumeRequest) error {
			if err := req.Validate(); err != nil {
				return err
			}
			return w.validDecision(DecisionRequest{Approver: req.By, Reason: req.Reason})
		}})
	if err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, UnwatchUpdate,
		func(ctx workflow.Context, req UnwatchRequest) (WatchState, error) {
			if w.unwatch == nil {
				w.unwatch = &req
				w.wake.SendAsync(true)
			}
			return w.st, nil
		},
		workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, req UnwatchRequest) error { return req.Validate() }})
}

func (w *watcher) run(ctx workflow.Context) (WatchState, error) {
	w.ensureMemo(ctx)
	observed := workflow.GetSignalChannel(ctx, ObservedSignal)
	approveCh := workflow.GetSignalChannel(ctx, ApproveSignal)
	rejectCh := workflow.GetSignalChannel(ctx, RejectSignal)
	if w.st.Phase == PhaseAwaitingApproval {
		w.startReminder(ctx)
	}
	// What the start set costs nothing to keep: neither is written again
	// unless it changes.
	w.phaseSA, _ = workflow.GetTypedSearchAttributes(ctx).GetKeyword(SearchPhase)
	if w.in.State == nil && w.in.LookFirst {
		w.firstLook(ctx)
	}
	w.details(ctx)
	silence := workflow.NewTimer(ctx, w.opts.SilentAfter)
	for {
		cancelled := false
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(observed, func(c workflow.ReceiveChannel, _ bool) {
			var s JobStatus
			c.Receive(ctx, &s)
			w.observe(ctx, s)
		})
		sel.AddReceive(approveCh, func(c workflow.ReceiveChannel, _ bool) { w.signal(ctx, c, true) })
		sel.AddReceive(rejectCh, func(c workflow.ReceiveChannel, _ bool) { w.signal(ctx, c, false) })
		sel.AddReceive(w.look, func(c workflow.ReceiveChannel, _ bool) {
			c.Receive(ctx, nil)
			w.lookNow(ctx)
		})
		sel.AddReceive(w.wake, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil) })
		sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) { cancelled = true })
		sel.AddFuture(silence, func(workflow.Future) {
			// A daily look at the poller: it refreshes every watcher at least
			// every 12 h, so this long without a word means it stopped.
			if !w.st.Silent && workflow.Now(ctx).Sub(w.lastHeard(ctx)) >= w.opts.SilentAfter {
				w.st.Silent = true
				w.notify(ctx, "silent", fmt.Sprintf("no news of job %s from the cloudsync poller since %s: is a worker running with watching on?",
					w.in.JobID, w.lastHeard(ctx).Format(time.RFC3339)))
				w.details(ctx)
			}
			silence = workflow.NewTimer(ctx, w.opts.SilentAfter)
		})
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

		switch {
		case cancelled:
			return w.end(ctx, "watching cancelled", workflow.ErrCanceled)
		case w.unwatch != nil:
			return w.end(ctx, "unwatched by "+w.unwatch.By+": "+w.unwatch.Reason, nil)
		case w.st.Phase == PhaseEnded:
			return w.end(ctx, w.st.Outcome, nil)
		}
		info := workflow.GetInfo(ctx)
		if info.GetContinueAsNewSuggested() || info.GetCurrentHistoryLength() >= w.opts.MaxHistoryEvents {
			return w.st, w.continueAsNew(ctx, observed, approveCh, rejectCh)
		}
	}
}

// ensureMemo registers the watcher with the poller (its memo says what to
// poll) when whoever started it did not. A new watcher started with WatchMemo
// (or given it here) holds its first state in the memo already.
func (w *watcher) ensureMemo(ctx workflow.Context) {
	fields := workflow.GetInfo(ctx).Memo.GetFields()
	if fields[WatchMemoKey] == nil {
		_ = workflow.UpsertMemo(ctx, WatchMemo(w.in))
		fields = map[string]*commonpb.Payload{WatchStateMemoKey: nil}
	}
	if _, ok := fields[WatchStateMemoKey]; ok && w.in.State == nil {
		// Its presence is enough: only WatchMemo writes it on a new watcher
		// (reading it back would need the payload codec).
		b, _ := json.Marshal(newWatchState().Published())
		w.published = string(b)
	}
}

func (w *watcher) lastHeard(ctx workflow.Context) time.Time {
	if w.st.LastHeard.IsZero() {
		return workflow.GetInfo(ctx).WorkflowStartTime
	}
	return w.st.LastHeard
}

// observe acts on a change the poller (or a look) reported.
func (w *watcher) observe(ctx workflow.Context, s JobStatus) {
	prev := w.st.Job
	w.st.Job = s
	w.st.Observations++
	w.st.LastHeard = workflow.Now(ctx)
	w.st.Silent = false
	if state, prevState := jobState(s), jobState(prev); state != prevState {
		_ = workflow.UpsertTypedSearchAttributes(ctx, SearchJobState.ValueSet(state))
		workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"state": state}).Counter("cloudsync_job_state_changes_total").Inc(1)
	}
	ep, inEpisode := s.Episode(w.in.JobID)
	switch {
	case s.Gone:
		w.leaveAwaiting(ctx)
		w.st.Phase, w.st.Outcome, w.st.Advice = PhaseEnded, fmt.Sprintf("job %s is gone: missing from its service principal's jobs since %s", w.in.JobID, s.MissingSince.Format(time.RFC3339)), ""
	case s.Unreachable != "":
		if w.st.Phase != PhaseUnreachable {
			w.st.Phase = PhaseUnreachable
			w.st.Advice = "Graph refuses to show job " + w.in.JobID + ": " + s.Unreachable + ". Check the app's consent and the worker's credential for this tenant; watching resumes by itself"
			w.notify(ctx, "unreachable", w.st.Advice)
		}
	case s.Missing:
		w.st.Advice = fmt.Sprintf("job %s is not in its service principal's job list since %s (a new job can take a while to show; it counts as gone after the poller's gone-after)",
			w.in.JobID, s.MissingSince.Format(time.RFC3339))
	case inEpisode:
		w.onEpisode(ctx, ep)
	case s.QuarantineReason != "":
		w.leaveAwaiting(ctx)
		if w.st.Phase != PhaseQuarantined || prev.QuarantineReason != s.QuarantineReason {
			w.st.Phase, w.st.Advice = PhaseQuarantined, adviceFor(s)
			w.notify(ctx, "quarantined", "job "+w.in.JobID+" is quarantined ("+s.QuarantineReason+"): "+w.st.Advice)
		}
	default:
		w.leaveAwaiting(ctx)
		was := w.st.Phase
		w.st.Phase, w.st.Advice = PhaseWatching, ""
		if s.Paused() {
			w.st.Advice = "job " + w.in.JobID + " is paused (an admin paused it; cloudsync never resumes it)"
		}
		if was != PhaseWatching {
			w.notify(ctx, "recovered", "job "+w.in.JobID+" is out of "+was+" ("+s.ScheduleState+"/"+s.StatusCode+")")
		}
	}
	w.details(ctx)
}

// onEpisode presents a TooManyDeletes episode, unless it was decided already
// (Graph re-evaluates the same quarantine about daily: never ask twice).
func (w *watcher) onEpisode(ctx workflow.Context, ep Episode) {
	if r := w.restarting; r != nil && r.ID() == ep.ID() {
		w.st.Phase = PhaseRestarting // its approval is being acted on
		return
	}
	if d, ok := w.st.decided(ep.ID()); ok {
		w.leaveAwaiting(ctx)
		if d.Approve {
			// Graph shows the old quarantine until the job's next cycle.
			w.st.Phase = PhaseRestarting
		} else {
			w.st.Phase = PhaseRejected
		}
		return
	}
	if p := w.st.Presented; p != nil && p.ID() == ep.ID() {
		if w.st.Phase != PhaseAwaitingApproval {
			w.st.Phase = PhaseAwaitingApproval
			w.setAwaiting(ctx, true)
		}
		return
	}
	w.leaveAwaiting(ctx)
	superseded := ""
	if w.st.Presented != nil {
		superseded = " (it replaces episode " + w.st.Presented.ID() + ", which ended undecided)"
	}
	w.st.Presented = &ep
	w.st.Phase, w.st.AwaitingSince, w.st.Reminders = PhaseAwaitingApproval, workflow.Now(ctx), 0
	w.st.Advice = fmt.Sprintf("the accidental-delete threshold held deletions back on job %s (episode %s)%s. If they are intended, approve "+
		"(starter approve, or update %q with {\"approver\",\"reason\",\"episode\"}); if not, fix the cause on-premises and reject",
		w.in.JobID, ep.ID(), superseded, ApproveUpdate)
	w.setAwaiting(ctx, true)
	w.notify(ctx, "awaiting-approval", "job "+w.in.JobID+" is quarantined for too many deletes and awaits an approval: "+w.st.Advice)
	w.startReminder(ctx)
}

func jobState(s JobStatus) string {
	switch {
	case s.Gone:
		return "Deleted"
	case s.Missing:
		return "Missing"
	case s.Unreachable != "":
		return "Unreachable"
	}
	return s.StatusCode
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

// validDecision refuses malformed decisions (updates: before the history;
// signals: recorded as not acted upon). Whether anything awaits is not its
// business: a well-formed decision is recorded either way.
func (w *watcher) validDecision(req DecisionRequest) error {
	return validDecider(req.Validate, w.opts.Approvers, req.Approver, "this tenant")
}

// validDecider is what the watcher's and the offboarding's decisions share: a
// well-formed request (validate), from anyone when approvers is empty, else
// from one of them (case and surrounding spaces ignored); of names what they
// approve for.
func validDecider(validate func() error, approvers []string, approver, of string) error {
	if err := validate(); err != nil {
		return err
	}
	if len(approvers) == 0 {
		return nil
	}
	for _, a := range approvers {
		if strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(approver)) {
			return nil
		}
	}
	return fmt.Errorf("%s is not an allowed approver for %s", approver, of)
}

func (w *watcher) signal(ctx workflow.Context, c workflow.ReceiveChannel, approve bool) {
	var req DecisionRequest
	c.Receive(ctx, &req)
	if err := w.validDecision(req); err != nil {
		w.record(Decision{Approve: approve, Approver: clipText(req.Approver), Reason: clipText(req.Reason), Episode: clipText(req.Episode),
			At: workflow.Now(ctx), Outcome: OutcomeNotActedUpon + err.Error()})
		w.details(ctx)
		return
	}
	w.decide(ctx, approve, req)
}

// decide binds a decision to the episode presented now and acts on it: an
// approval restarts the job with ForceDeletes if it is still in that episode;
// a rejection leaves it quarantined. A decision for no episode, or for another
// one, is recorded as not acted upon and makes the watcher look at the job.
func (w *watcher) decide(ctx workflow.Context, approve bool, req DecisionRequest) Decision {
	d := Decision{Approve: approve, Approver: strings.TrimSpace(req.Approver), Reason: strings.TrimSpace(req.Reason), Episode: req.Episode, At: workflow.Now(ctx)}
	if req.Episode != "" {
		if prev, ok := w.st.decided(req.Episode); ok && prev.Approve == approve {
			return prev // the same decision again: a no-op
		}
	}
	p := w.st.Presented
	if p == nil || (req.Episode != "" && req.Episode != p.ID()) {
		why := fmt.Sprintf("nothing awaited a decision on job %s (phase %s)", w.in.JobID, w.st.Phase)
		if p != nil {
			why = fmt.Sprintf("episode %s is not the one awaiting a decision: decide on episode %s (starter status shows it)", req.Episode, p.ID())
		}
		d.Outcome = OutcomeNotActedUpon + why
		w.record(d)
		w.details(ctx)
		w.look.SendAsync(true)
		return d
	}
	ep := *p
	d.Episode = ep.ID()
	w.leaveAwaiting(ctx)
	w.st.Presented = nil
	metrics := workflow.GetMetricsHandler(ctx)
	if !approve {
		w.st.Phase = PhaseRejected
		w.st.Advice = "deletions rejected by " + d.Approver + ": the job stays quarantined (fix the cause on-premises, then restart it); " +
			"re-evaluations of this quarantine are not asked again"
		d.Outcome = OutcomeRejected
		w.record(d)
		metrics.WithTags(map[string]string{"decision": "reject"}).Counter("cloudsync_delete_decisions_total").Inc(1)
		w.notify(ctx, "decision", "deletions on job "+w.in.JobID+" (episode "+ep.ID()+") rejected by "+d.Approver+": "+d.Reason)
		w.details(ctx)
		return d
	}
	w.st.Phase = PhaseRestarting
	w.st.Advice = "approved by " + d.Approver + ": restarting with ForceDeletes if the job is still in episode " + ep.ID()
	w.details(ctx)
	w.restarting = &ep
	ao := workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute, ScheduleToCloseTimeout: 10 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second},
		Summary:     "ForceDeletes restart of episode " + ep.ID() + " approved by " + d.Approver,
	}
	res, err := Execute(workflow.WithActivityOptions(ctx, ao), WatchingActivities.RestartForceDeletes,
		RestartInput{TenantID: w.in.TenantID, ServicePrincipalID: w.in.ServicePrincipalID, JobID: w.in.JobID, Episode: ep, Decision: d}).Get(ctx)
	w.restarting = nil
	switch {
	case err != nil:
		// Present the same episode again: the human may retry.
		d.Outcome = "restart failed: " + rootMessage(err)
		w.record(d)
		w.st.Presented, w.st.Phase, w.st.AwaitingSince = &ep, PhaseAwaitingApproval, workflow.Now(ctx)
		w.setAwaiting(ctx, true)
		w.startReminder(ctx)
	case res.Restarted:
		d.Outcome = OutcomeRestartIssued
		w.record(d)
		w.st.Phase = PhaseRestarting
		w.st.Advice = "approved by " + d.Approver + ": restarted with ForceDeletes; the job returns to healthy at its next cycle"
	default:
		// The job is no longer in that episode: whatever it shows now (a new
		// series, a paused job) is presented afresh.
		d.Outcome = OutcomeRefused + res.Detail
		w.record(d)
		w.st.Phase = PhaseWatching
		w.observe(ctx, res.Job)
	}
	metrics.WithTags(map[string]string{"decision": "approve"}).Counter("cloudsync_delete_decisions_total").Inc(1)
	w.notify(ctx, "decision", "deletions on job "+w.in.JobID+" (episode "+ep.ID()+") approved by "+d.Approver+" ("+d.Reason+"): "+d.Outcome)
	w.details(ctx)
	return d
}

// resume starts the job again on an operator's explicit request, recorded
// with who and why. It never forces deletions: Graph's start clears a
// quarantine, and deletions still over the threshold quarantine the job again
// at its next run, as a new episode for a new decision.
func (w *watcher) resume(ctx workflow.Context, req ResumeRequest) (Decision, error) {
	defer w.wake.SendAsync(true) // the main loop checks the history's length
	d := Decision{Resume: true, Approver: strings.TrimSpace(req.By), Reason: strings.TrimSpace(req.Reason), At: workflow.Now(ctx)}
	if p := w.st.Presented; p != nil {
		d.Outcome = OutcomeNotActedUpon + "episode " + p.ID() + " awaits a decision: approve or reject it first"
		w.record(d)
		w.details(ctx)
		return d, nil
	}
	ao := workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute, ScheduleToCloseTimeout: 10 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second},
		Summary:     "start " + w.in.JobID + " again, asked by " + d.Approver,
	}
	in := ResumeInput{TenantID: w.in.TenantID, ServicePrincipalID: w.in.ServicePrincipalID, JobID: w.in.JobID, By: d.Approver, Reason: d.Reason}
	if last, ok := w.st.LastDecision(); ok && w.st.Phase == PhaseRejected && last.Outcome == OutcomeRejected {
		in.Rejected = last.Episode
	}
	res, err := Execute(workflow.WithActivityOptions(ctx, ao), WatchingActivities.ResumeJob, in).Get(ctx)
	switch {
	case err != nil:
		d.Outcome = "start failed: " + rootMessage(err)
	case res.Refused:
		d.Outcome = OutcomeRefused + res.Detail
		w.record(d)
		w.observe(ctx, res.Job) // present the episode it found
		w.notify(ctx, "decision", "job "+w.in.JobID+" not started for "+d.Approver+": "+res.Detail)
		return d, nil
	case res.Started:
		d.Outcome = "started"
		if w.st.Phase == PhaseRejected || w.st.Phase == PhaseQuarantined {
			w.st.Phase, w.st.Advice = PhaseWatching, "started again by "+d.Approver+": the poller reports what the job does next"
		}
	default:
		d.Outcome = "not needed: " + res.Detail
	}
	w.record(d)
	w.notify(ctx, "decision", "job "+w.in.JobID+" started again by "+d.Approver+" ("+d.Reason+"): "+d.Outcome)
	w.details(ctx)
	return d, nil
}

// lookNow reads the job at once (a decision arrived when nothing was
// presented: an admin reacting to Microsoft's own mail before the next poll).
func (w *watcher) lookNow(ctx workflow.Context) {
	ao := workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute, ScheduleToCloseTimeout: 5 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 2 * time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
		Summary:     "look at " + w.in.JobID,
	}
	s, err := Execute(workflow.WithActivityOptions(ctx, ao), WatchingActivities.LookAtJob, w.in.Target()).Get(ctx)
	if err != nil {
		workflow.GetLogger(ctx).Warn("look at job failed; the poller reports the next change", "error", err)
		return
	}
	if s.Fingerprint() != w.st.Job.Fingerprint() || w.st.Observations == 0 {
		w.observe(ctx, s)
	}
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

// setAwaiting publishes "needs approval" to visibility: the Web UI, `starter
// list --awaiting-approval` and the workers' cloudsync_watch_awaiting_approval
// gauge read it from there.
func (w *watcher) setAwaiting(ctx workflow.Context, v bool) {
	since := SearchAwaitingSince.ValueUnset()
	if v {
		since = SearchAwaitingSince.ValueSet(w.st.AwaitingSince)
	}
	_ = workflow.UpsertTypedSearchAttributes(ctx, SearchAwaitingApproval.ValueSet(v), since)
}

// publishPhase keeps the CloudSyncPhase search attribute on the watcher's
// phase (one upsert per change: each is a billed action).
func (w *watcher) publishPhase(ctx workflow.Context) {
	if w.st.Phase == w.phaseSA {
		return
	}
	if workflow.UpsertTypedSearchAttributes(ctx, SearchPhase.ValueSet(w.st.Phase)) == nil {
		w.phaseSA = w.st.Phase
	}
}

// notifyOptions are the Notify activity's, the watcher's and the drift
// check's: a webhook down is retried for half an hour, one not configured is
// not retried.
func notifyOptions(kind string) workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second, ScheduleToCloseTimeout: 30 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 2 * time.Second, BackoffCoefficient: 2, MaximumInterval: 5 * time.Minute,
			NonRetryableErrorTypes: []string{ErrUnknownWebhook}},
		Summary: "notify " + kind,
	}
}

// notify sends a notification without holding the watcher up; end and
// continue-as-new wait for every one in flight, so none is dropped.
func (w *watcher) notify(ctx workflow.Context, kind, msg string) {
	ao := notifyOptions(kind)
	n := Notification{TenantID: w.in.TenantID, Domain: w.in.Domain, JobID: w.in.JobID, WorkflowID: workflow.GetInfo(ctx).WorkflowExecution.ID,
		Kind: kind, Message: msg, Job: w.st.Job, Webhook: w.opts.Webhook}
	f := ExecuteErr(workflow.WithActivityOptions(ctx, ao), WatchingActivities.Notify, n)
	w.notifying++
	workflow.Go(ctx, func(ctx workflow.Context) {
		defer func() { w.notifying-- }()
		if err := f.Get(ctx, nil); err != nil {
			workflow.GetLogger(ctx).Warn("notification not delivered", "kind", kind, "error", rootMessage(err))
		}
	})
}

func (w *watcher) details(ctx workflow.Context) {
	w.publishPhase(ctx)
	j := w.st.Job
	d := fmt.Sprintf("**Job** `%s` · **tenant** %s · **phase** %s · **status** %s/%s", w.in.JobID, w.in.TenantID, w.st.Phase, j.ScheduleState, j.StatusCode)
	if j.QuarantineReason != "" {
		d += fmt.Sprintf(" · **quarantine** %s (%s)", j.QuarantineReason, j.QuarantineError)
	}
	if p := w.st.Presented; p != nil {
		d += "\n\n**Awaiting a decision:** episode `" + p.ID() + "`"
	}
	if j.LastExecutionState != "" {
		d += fmt.Sprintf("\n\nLast run %s, ended %s, exported %d", j.LastExecutionState, j.LastExecutionEnded.Format(time.RFC3339), j.CountExported)
	}
	if w.st.Advice != "" {
		d += "\n\n**Action:** " + w.st.Advice
	}
	if last, ok := w.st.LastDecision(); ok {
		verb := "rejection"
		switch {
		case last.Resume:
			verb = "start"
		case last.Approve:
			verb = "approval"
		}
		d += fmt.Sprintf("\n\nLast decision: %s by %s (%s): %s", verb, last.Approver, last.Reason, last.Outcome)
	}
	workflow.SetCurrentDetails(ctx, d)
	w.publish(ctx)
}

// publish puts the state in the memo (WatchStateMemoKey) when it changed, so
// the starter reads it from Describe and listings without a query.
func (w *watcher) publish(ctx workflow.Context) {
	p := w.st.Published()
	b, err := json.Marshal(p)
	if err != nil || string(b) == w.published {
		return
	}
	if workflow.UpsertMemo(ctx, map[string]any{WatchStateMemoKey: p}) == nil {
		w.published = string(b)
	}
}

// firstLook reads the job once before waiting for the poller (LookFirst), so
// whoever started the watcher learns at once whether the job is there.
func (w *watcher) firstLook(ctx workflow.Context) {
	ao := workflow.ActivityOptions{
		StartToCloseTimeout: 15 * time.Second, ScheduleToCloseTimeout: 20 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 5 * time.Second},
		Summary:     "first look at " + w.in.JobID,
	}
	s, err := Execute(workflow.WithActivityOptions(ctx, ao), WatchingActivities.LookAtJob, w.in.Target()).Get(ctx)
	if err != nil {
		w.st.FirstLook = rootMessage(err)
		return
	}
	w.observe(ctx, s)
}

// end closes the watcher once its notifications are out.
func (w *watcher) end(ctx workflow.Context, outcome string, err error) (WatchState, error) {
	if err != nil {
		// Cancelled: what is left to do runs on a context that is not.
		ctx, _ = workflow.NewDisconnectedContext(ctx)
	}
	w.leaveAwaiting(ctx)
	w.st.Presented = nil
	w.st.Phase, w.st.Outcome, w.st.Advice = PhaseEnded, outcome, ""
	w.notify(ctx, "ended", "no longer watching job "+w.in.JobID+": "+outcome)
	w.details(ctx)
	_ = workflow.Await(ctx, func() bool { return w.notifying == 0 && workflow.AllHandlersFinished(ctx) })
	return w.st, err
}

// continueAsNew hands the state to a fresh run once pending signals, update
// handlers and notifications are done, so no decision or message is lost.
func (w *watcher) continueAsNew(ctx workflow.Context, observed, approveCh, rejectCh workflow.ReceiveChannel) error {
	pending := func() bool {
		return observed.Len() > 0 || approveCh.Len() > 0 || rejectCh.Len() > 0 || w.look.Len() > 0
	}
	// Waiting for notifications lets more signals arrive (a decision sent
	// meanwhile): drain again after each wait, until nothing is left.
	for {
		for pending() {
			switch {
			case observed.Len() > 0:
				var s JobStatus
				observed.Receive(ctx, &s)
				w.observe(ctx, s)
			case approveCh.Len() > 0:
				w.signal(ctx, approveCh, true)
			case rejectCh.Len() > 0:
				w.signal(ctx, rejectCh, false)
			default:
				w.look.Receive(ctx, nil)
				w.lookNow(ctx)
			}
		}
		if err := workflow.Await(ctx, func() bool {
			return pending() || (w.notifying == 0 && workflow.AllHandlersFinished(ctx))
		}); err != nil {
			return err
		}
		if !pending() {
			break
		}
	}
	if w.cancelReminder != nil {
		w.cancelReminder()
	}
	next := w.in
	st := w.st
	next.State = &st
	return workflow.NewContinueAsNewError(ctx, WatchSyncJobWorkflow, next)
}
