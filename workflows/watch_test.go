package workflows

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

// fakeJob is a sync job the test drives. Observations reach the watcher as the
// poller's signals; the fake restart checks the episode like the real one.
type fakeJob struct {
	mu       sync.Mutex
	status   JobStatus
	restarts []RestartInput
	forced   []string // episodes actually restarted with ForceDeletes
	looks    int
	notified []string // kinds
}

func (f *fakeJob) set(s JobStatus) { f.mu.Lock(); f.status = s; f.mu.Unlock() }

func (f *fakeJob) restart(_ context.Context, in RestartInput) (RestartResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.restarts = append(f.restarts, in)
	ep, ok := f.status.Episode(in.JobID)
	switch {
	case !ok:
		return RestartResult{Detail: "no longer quarantined for too many deletes", Job: f.status}, nil
	case ep.ID() != in.Episode.ID():
		return RestartResult{Detail: "a new series", Job: f.status}, nil
	case f.status.Paused():
		return RestartResult{Detail: "paused", Job: f.status}, nil
	}
	f.forced = append(f.forced, in.Episode.ID())
	return RestartResult{Restarted: true, Job: f.status}, nil
}

func (f *fakeJob) look(_ context.Context, _ WatchTarget) (JobStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.looks++
	return f.status, nil
}

func (f *fakeJob) notify(_ context.Context, n Notification) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.notified = append(f.notified, n.Kind)
	return nil
}

func (f *fakeJob) count(kind string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, k := range f.notified {
		if k == kind {
			n++
		}
	}
	return n
}

var (
	seriesA    = time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	seriesB    = seriesA.Add(3 * time.Hour)
	active     = JobStatus{ScheduleState: "Active", StatusCode: "Active", LastExecutionState: "Succeeded"}
	tooManyA   = quarantined(seriesA, seriesA)
	tooManyB   = quarantined(seriesB, seriesB)
	badCreds   = JobStatus{ScheduleState: "Active", StatusCode: "Quarantine", QuarantineReason: "EncounteredQuarantineException", QuarantineError: "AzureActiveDirectoryInvalidCredential", TenantActionable: true}
	gone       = JobStatus{Missing: true, Gone: true, MissingSince: seriesA}
	watchJobID = "AD2AADProvisioning.aa.bb"
	episodeA   = Episode{JobID: watchJobID, SeriesBegan: seriesA}.ID()
	episodeB   = Episode{JobID: watchJobID, SeriesBegan: seriesB}.ID()
	defaultIn  = WatchInput{TenantID: tTenant, Domain: "contoso.com", ServicePrincipalID: tSP, JobID: watchJobID}
)

// quarantined is a TooManyDeletes quarantine of the series that began at
// series, last evaluated at current.
func quarantined(series, current time.Time) JobStatus {
	return JobStatus{ScheduleState: "Active", StatusCode: "Quarantine", QuarantineReason: "TooManyDeletes", QuarantineError: "DeleteThresholdExceeded",
		TenantActionable: true, SeriesBegan: series, QuarantineSince: current}
}

func newWatchEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *fakeJob) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	f := &fakeJob{status: active}
	env.RegisterActivityWithOptions(f.restart, activity.RegisterOptions{Name: RestartJobActivity})
	env.RegisterActivityWithOptions(f.look, activity.RegisterOptions{Name: LookAtJobActivity})
	env.RegisterActivityWithOptions(f.notify, activity.RegisterOptions{Name: NotifyActivity})
	env.RegisterWorkflowWithOptions(WatchSyncJob, workflow.RegisterOptions{Name: WatchSyncJobWorkflow})
	return env, f
}

// at runs fn at simulated time d after the start.
func at(env *testsuite.TestWorkflowEnvironment, d time.Duration, fn func()) {
	env.RegisterDelayedCallback(fn, d)
}

// observe is the job changing and the poller reporting it.
func observe(env *testsuite.TestWorkflowEnvironment, f *fakeJob, d time.Duration, s JobStatus) {
	at(env, d, func() {
		f.set(s)
		env.SignalWorkflow(ObservedSignal, s)
	})
}

func decide(env *testsuite.TestWorkflowEnvironment, d time.Duration, name string, req DecisionRequest) {
	at(env, d, func() { env.SignalWorkflow(name, req) })
}

func queryState(t *testing.T, env *testsuite.TestWorkflowEnvironment) WatchState {
	t.Helper()
	v, err := env.QueryWorkflow(StatusQuery)
	require.NoError(t, err)
	var st WatchState
	require.NoError(t, v.Get(&st))
	return st
}

func finalState(t *testing.T, env *testsuite.TestWorkflowEnvironment) WatchState {
	t.Helper()
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var st WatchState
	require.NoError(t, env.GetWorkflowResult(&st))
	return st
}

func outcomes(ds []Decision) []string {
	var out []string
	for _, d := range ds {
		o := d.Outcome
		if i := strings.Index(o, ": "); i > 0 {
			o = o[:i]
		}
		out = append(out, o)
	}
	return out
}

func TestWatchIsIdleUntilTheJobChangesAndEndsOnlyWhenGone(t *testing.T) {
	env, f := newWatchEnv(t)
	observe(env, f, time.Minute, active)
	missing := JobStatus{Missing: true, MissingSince: seriesA}
	observe(env, f, time.Hour, missing)
	var whileMissing WatchState
	at(env, 2*time.Hour, func() { whileMissing = queryState(t, env) })
	observe(env, f, 3*time.Hour, active) // a lagging list shows it again
	observe(env, f, 10*time.Hour, gone)
	env.ExecuteWorkflow(WatchSyncJobWorkflow, defaultIn)
	st := finalState(t, env)
	require.Equal(t, PhaseWatching, whileMissing.Phase, "a missing job does not end the watcher")
	require.Contains(t, whileMissing.Advice, "not in its service principal's job list")
	require.Equal(t, PhaseEnded, st.Phase)
	require.Contains(t, st.Outcome, "gone")
	require.Equal(t, int64(4), st.Observations)
	require.Equal(t, 1, f.count("ended"), "the ended notice is sent before the watcher closes")
	require.Zero(t, f.looks)
}

func TestWatchApprovalForcesOnlyThePresentedEpisode(t *testing.T) {
	env, f := newWatchEnv(t)
	observe(env, f, time.Minute, active)
	observe(env, f, time.Hour, tooManyA)
	var awaiting WatchState
	at(env, 2*time.Hour, func() { awaiting = queryState(t, env) })
	decide(env, 3*time.Hour, ApproveSignal, DecisionRequest{Approver: "alice@contoso.com", Reason: "HR offboarding batch"})
	observe(env, f, 4*time.Hour, active)
	observe(env, f, 5*time.Hour, gone)
	env.ExecuteWorkflow(WatchSyncJobWorkflow, defaultIn)
	st := finalState(t, env)

	require.Equal(t, PhaseAwaitingApproval, awaiting.Phase)
	require.Equal(t, episodeA, awaiting.Presented.ID())
	require.Equal(t, []string{episodeA}, f.forced, "exactly one ForceDeletes restart, for episode A")
	require.Equal(t, "alice@contoso.com", f.restarts[0].Decision.Approver)
	require.Equal(t, []string{OutcomeRestartIssued}, outcomes(st.Decisions))
	require.Equal(t, episodeA, st.Decisions[0].Episode)
	require.Equal(t, 1, f.count("awaiting-approval"))
}

// The approval was sent for episode A while no worker ran; meanwhile A was
// lifted and B imposed. It binds to A at receipt, the restart finds B, refuses,
// and B is presented for its own decision.
func TestWatchApprovalOfAnEarlierEpisodeNeverForcesALaterOne(t *testing.T) {
	env, f := newWatchEnv(t)
	observe(env, f, time.Minute, tooManyA)
	at(env, time.Hour, func() {
		f.set(tooManyB) // Graph moved on; the poller has not reported it yet
		env.SignalWorkflow(ApproveSignal, DecisionRequest{Approver: "alice@contoso.com", Reason: "batch A"})
	})
	var after WatchState
	at(env, 2*time.Hour, func() { after = queryState(t, env) })
	observe(env, f, 3*time.Hour, gone)
	env.ExecuteWorkflow(WatchSyncJobWorkflow, defaultIn)
	finalState(t, env)

	require.Empty(t, f.forced, "no ForceDeletes: the job is in episode B")
	require.Len(t, f.restarts, 1)
	require.Equal(t, episodeA, f.restarts[0].Episode.ID(), "the approval bound to the episode presented at receipt")
	require.Equal(t, PhaseAwaitingApproval, after.Phase)
	require.Equal(t, episodeB, after.Presented.ID(), "B is presented and asked again")
	require.Equal(t, []string{"refused"}, outcomes(after.Decisions))
	require.Equal(t, 2, f.count("awaiting-approval"))
}

func TestWatchRejectedEpisodeIsNotAskedAgainOnReevaluation(t *testing.T) {
	env, f := newWatchEnv(t)
	observe(env, f, time.Minute, tooManyA)
	decide(env, time.Hour, RejectSignal, DecisionRequest{Approver: "bob@contoso.com", Reason: "a bad OU move"})
	// Graph re-evaluates the same series daily: currentBegan moves.
	observe(env, f, 25*time.Hour, quarantined(seriesA, seriesA.Add(24*time.Hour)))
	var reevaluated WatchState
	at(env, 26*time.Hour, func() { reevaluated = queryState(t, env) })
	// The admin fixes the cause and lifts it; a later batch is a new series.
	observe(env, f, 30*time.Hour, active)
	observe(env, f, 31*time.Hour, tooManyB)
	var second WatchState
	at(env, 32*time.Hour, func() { second = queryState(t, env) })
	observe(env, f, 33*time.Hour, gone)
	env.ExecuteWorkflow(WatchSyncJobWorkflow, defaultIn)
	finalState(t, env)

	require.Empty(t, f.restarts, "a rejection never restarts")
	require.Equal(t, PhaseRejected, reevaluated.Phase)
	require.Nil(t, reevaluated.Presented)
	require.Equal(t, PhaseAwaitingApproval, second.Phase)
	require.Equal(t, episodeB, second.Presented.ID())
	require.Equal(t, 2, f.count("awaiting-approval"), "A once, B once; never A again")
}

func TestWatchEarlyDecisionIsRecordedAndLooksAtTheJob(t *testing.T) {
	env, f := newWatchEnv(t)
	observe(env, f, time.Minute, active)
	// Microsoft's mail arrived before the poller's next look.
	at(env, time.Hour, func() {
		f.set(tooManyA)
		env.SignalWorkflow(ApproveSignal, DecisionRequest{Approver: "alice@contoso.com", Reason: "saw the mail"})
	})
	var st WatchState
	at(env, 2*time.Hour, func() { st = queryState(t, env) })
	observe(env, f, 3*time.Hour, gone)
	env.ExecuteWorkflow(WatchSyncJobWorkflow, defaultIn)
	finalState(t, env)

	require.Empty(t, f.restarts, "an early decision is never acted upon")
	require.Equal(t, 1, f.looks, "it made the watcher look at once")
	require.Equal(t, []string{"not acted upon"}, outcomes(st.Decisions))
	require.Contains(t, st.Decisions[0].Outcome, "nothing awaited a decision")
	require.Equal(t, PhaseAwaitingApproval, st.Phase, "the look found the episode and presents it")
	require.Equal(t, episodeA, st.Presented.ID())
}

func TestWatchUpdateBindsToTheEpisodeItWasShown(t *testing.T) {
	env, f := newWatchEnv(t)
	in := defaultIn
	in.Options.Approvers = []string{"alice@contoso.com"}
	observe(env, f, time.Minute, tooManyA)
	var refused error
	var stale, approved, again Decision
	update := func(d time.Duration, id string, req DecisionRequest, out *Decision) {
		at(env, d, func() {
			env.UpdateWorkflow(ApproveUpdate, id, &testsuite.TestUpdateCallback{
				OnReject: func(err error) { refused = err }, OnAccept: func() {},
				OnComplete: func(v any, err error) {
					require.NoError(t, err)
					*out = v.(Decision)
				},
			}, req)
		})
	}
	update(time.Hour, "u0", DecisionRequest{Approver: "mallory@contoso.com", Reason: "trust me"}, &stale)
	update(2*time.Hour, "u1", DecisionRequest{Approver: "alice@contoso.com", Reason: "old", Episode: episodeB}, &stale)
	update(3*time.Hour, DecisionUpdateID(episodeA, true), DecisionRequest{Approver: "Alice@Contoso.com", Reason: "planned", Episode: episodeA}, &approved)
	update(4*time.Hour, "u3", DecisionRequest{Approver: "alice@contoso.com", Reason: "planned", Episode: episodeA}, &again)
	observe(env, f, 5*time.Hour, gone)
	env.ExecuteWorkflow(WatchSyncJobWorkflow, in)
	st := finalState(t, env)

	require.ErrorContains(t, refused, "not an allowed approver")
	require.True(t, strings.HasPrefix(stale.Outcome, OutcomeNotActedUpon), stale.Outcome)
	require.Contains(t, stale.Outcome, "is not the one awaiting a decision")
	require.Equal(t, OutcomeRestartIssued, approved.Outcome)
	require.Equal(t, approved, again, "the same decision again is a no-op")
	require.Equal(t, []string{episodeA}, f.forced)
	require.Equal(t, []string{"not acted upon", OutcomeRestartIssued}, outcomes(st.Decisions))
}

func TestWatchPausedJobIsNotForcedAndIsAskedAgain(t *testing.T) {
	env, f := newWatchEnv(t)
	observe(env, f, time.Minute, tooManyA)
	paused := tooManyA
	paused.ScheduleState = "Paused"
	at(env, time.Hour, func() {
		f.set(paused) // paused in the portal; the poller has not reported it yet
		env.SignalWorkflow(ApproveSignal, DecisionRequest{Approver: "alice@contoso.com", Reason: "ok"})
	})
	var st WatchState
	at(env, 2*time.Hour, func() { st = queryState(t, env) })
	observe(env, f, 3*time.Hour, gone)
	env.ExecuteWorkflow(WatchSyncJobWorkflow, defaultIn)
	finalState(t, env)
	require.Empty(t, f.forced)
	require.Equal(t, []string{"refused"}, outcomes(st.Decisions))
	require.Equal(t, PhaseAwaitingApproval, st.Phase, "the same episode is presented again")
}

func TestWatchOtherQuarantineIsExplainedNeverForced(t *testing.T) {
	env, f := newWatchEnv(t)
	observe(env, f, time.Minute, badCreds)
	var q WatchState
	at(env, time.Hour, func() { q = queryState(t, env) })
	decide(env, 2*time.Hour, ApproveSignal, DecisionRequest{Approver: "alice@contoso.com", Reason: "force it"})
	observe(env, f, 3*time.Hour, gone)
	env.ExecuteWorkflow(WatchSyncJobWorkflow, defaultIn)
	finalState(t, env)
	require.Equal(t, PhaseQuarantined, q.Phase)
	require.Contains(t, q.Advice, "never answers this with ForceDeletes")
	require.Empty(t, f.restarts)
	require.Equal(t, 1, f.count("quarantined"))
}

func TestWatchUnreachableNotifiesOnceAndRecovers(t *testing.T) {
	env, f := newWatchEnv(t)
	observe(env, f, time.Minute, active)
	observe(env, f, time.Hour, JobStatus{Unreachable: "GraphForbidden (HTTP 403 Authorization_RequestDenied)"})
	var down WatchState
	at(env, 2*time.Hour, func() { down = queryState(t, env) })
	observe(env, f, 3*time.Hour, active)
	var up WatchState
	at(env, 4*time.Hour, func() { up = queryState(t, env) })
	observe(env, f, 5*time.Hour, gone)
	env.ExecuteWorkflow(WatchSyncJobWorkflow, defaultIn)
	finalState(t, env)
	require.Equal(t, PhaseUnreachable, down.Phase)
	require.Contains(t, down.Advice, "consent")
	require.Equal(t, 1, f.count("unreachable"))
	require.Equal(t, PhaseWatching, up.Phase)
	require.Equal(t, 1, f.count("recovered"))
}

func TestWatchRemindsWhileAwaitingAndSaysWhenThePollerIsSilent(t *testing.T) {
	env, f := newWatchEnv(t)
	in := defaultIn
	in.Options.ReminderInterval = time.Hour
	in.Options.SilentAfter = 10 * time.Hour
	observe(env, f, time.Minute, tooManyA)
	decide(env, 3*time.Hour+30*time.Minute, ApproveSignal, DecisionRequest{Approver: "alice@contoso.com", Reason: "ok"})
	var silent WatchState
	at(env, 21*time.Hour, func() { silent = queryState(t, env) })
	observe(env, f, 22*time.Hour, gone)
	env.ExecuteWorkflow(WatchSyncJobWorkflow, in)
	finalState(t, env)
	require.Equal(t, 3, f.count("reminder"), "reminders at 1h, 2h, 3h; none after the approval")
	require.True(t, silent.Silent)
	require.Equal(t, 1, f.count("silent"), "said once, not at every check")
}

func TestWatchUnwatchAndCancelEndCleanly(t *testing.T) {
	t.Run("unwatch", func(t *testing.T) {
		env, f := newWatchEnv(t)
		observe(env, f, time.Minute, tooManyA)
		at(env, time.Hour, func() {
			env.UpdateWorkflow(UnwatchUpdate, "x", &testsuite.TestUpdateCallback{OnReject: func(err error) { t.Error(err) }, OnAccept: func() {}, OnComplete: func(any, error) {}},
				UnwatchRequest{By: "alice@contoso.com", Reason: "tenant handed over"})
		})
		env.ExecuteWorkflow(WatchSyncJobWorkflow, defaultIn)
		st := finalState(t, env)
		require.Equal(t, PhaseEnded, st.Phase)
		require.Equal(t, "unwatched by alice@contoso.com: tenant handed over", st.Outcome)
		require.Nil(t, st.Presented)
		require.Equal(t, 1, f.count("ended"))
	})
	t.Run("cancel", func(t *testing.T) {
		env, f := newWatchEnv(t)
		observe(env, f, time.Minute, active)
		at(env, time.Hour, func() { env.CancelWorkflow() })
		env.ExecuteWorkflow(WatchSyncJobWorkflow, defaultIn)
		require.True(t, env.IsWorkflowCompleted())
		require.ErrorIs(t, env.GetWorkflowError(), workflow.ErrCanceled)
		require.Equal(t, 1, f.count("ended"), "the ended notice still goes out")
	})
}

func TestWatchContinuesAsNewCarryingState(t *testing.T) {
	env, f := newWatchEnv(t)
	observe(env, f, time.Minute, tooManyA)
	decide(env, time.Hour, RejectSignal, DecisionRequest{Approver: "bob@contoso.com", Reason: "no"})
	at(env, 2*time.Hour, func() { env.SetContinueAsNewSuggested(true) })
	observe(env, f, 2*time.Hour+time.Minute, quarantined(seriesA, seriesA.Add(time.Hour)))
	env.ExecuteWorkflow(WatchSyncJobWorkflow, defaultIn)
	require.True(t, env.IsWorkflowCompleted())
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(env.GetWorkflowError(), &can), "got %v", env.GetWorkflowError())
	var next WatchInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.NotNil(t, next.State)
	require.Equal(t, PhaseRejected, next.State.Phase, "a decided episode stays decided across continue-as-new")
	require.Equal(t, []string{OutcomeRejected}, outcomes(next.State.Decisions))
	require.Equal(t, 1, next.State.Runs)
	require.Equal(t, watchJobID, next.JobID)
	require.Equal(t, 2, f.count("awaiting-approval")+f.count("decision"), "notifications were out before continuing")
}

func TestWatchResumedRunKeepsThePresentedEpisode(t *testing.T) {
	env, f := newWatchEnv(t)
	f.set(tooManyA)
	in := defaultIn
	ep := Episode{JobID: watchJobID, SeriesBegan: seriesA}
	in.State = &WatchState{Phase: PhaseAwaitingApproval, Job: tooManyA, Presented: &ep, AwaitingSince: time.Now(), Observations: 7, Runs: 3}
	decide(env, time.Hour, ApproveSignal, DecisionRequest{Approver: "alice@contoso.com", Reason: "planned"})
	observe(env, f, 2*time.Hour, gone)
	env.ExecuteWorkflow(WatchSyncJobWorkflow, in)
	st := finalState(t, env)
	require.Equal(t, 0, f.count("awaiting-approval"), "no second notification for the same episode")
	require.Equal(t, []string{episodeA}, f.forced)
	require.Equal(t, 4, st.Runs)
}

func TestDecisionAndOptionsValidation(t *testing.T) {
	require.NoError(t, DecisionRequest{Approver: "a@b.c", Reason: "x"}.Validate())
	require.ErrorContains(t, DecisionRequest{Approver: " ", Reason: "x"}.Validate(), "approver is required")
	require.ErrorContains(t, DecisionRequest{Approver: "a", Reason: strings.Repeat("x", MaxReasonLength+1)}.Validate(), "at most")
	// An approver is an e-mail address, in decisions and in watch options alike.
	require.ErrorContains(t, DecisionRequest{Approver: "alice", Reason: "x"}.Validate(), "not an e-mail address")
	require.ErrorContains(t, WatchOptions{Approvers: []string{"alice@contoso.com", "bob"}}.Validate(), `approver "bob" is not an e-mail address`)
	require.NoError(t, WatchOptions{Approvers: []string{"alice@contoso.com", "Bob.Smith+ops@sub.contoso.co.uk"}}.Validate())
	require.NoError(t, WatchOptions{Webhook: "teams-ops"}.Validate())
	require.ErrorContains(t, WatchOptions{Webhook: "https://hooks.example/x"}.Validate(), "not a webhook name")
	require.ErrorContains(t, WatchOptions{ReminderInterval: time.Second}.Validate(), "too short")
	// Re-evaluations (currentBegan) do not change what the poller reports.
	require.Equal(t, tooManyA.Fingerprint(), quarantined(seriesA, seriesA.Add(48*time.Hour)).Fingerprint())
	require.NotEqual(t, tooManyA.Fingerprint(), tooManyB.Fingerprint())
	require.Equal(t, ShardOf("x", 4), ShardOf("x", 4))
}

// While an approval of episode A is being acted on, a report of A (a change
// of its last run, say) does not present A again.
func TestWatchEpisodeBeingRestartedIsNotPresentedAgain(t *testing.T) {
	env, f := newWatchEnv(t)
	env.OnActivity(RestartJobActivity, mock.Anything, mock.Anything).After(time.Hour).Return(
		func(_ context.Context, in RestartInput) (RestartResult, error) {
			return f.restart(context.Background(), in)
		})
	observe(env, f, time.Minute, tooManyA)
	at(env, time.Hour, func() { // an update runs beside the main loop
		env.UpdateWorkflow(ApproveUpdate, "u", &testsuite.TestUpdateCallback{OnReject: func(err error) { t.Error(err) }, OnAccept: func() {}, OnComplete: func(any, error) {}},
			DecisionRequest{Approver: "alice@contoso.com", Reason: "ok"})
	})
	later := tooManyA
	later.LastExecutionState = "Failed"
	observe(env, f, time.Hour+10*time.Minute, later)
	var mid WatchState
	at(env, time.Hour+20*time.Minute, func() { mid = queryState(t, env) })
	observe(env, f, 4*time.Hour, gone)
	env.ExecuteWorkflow(WatchSyncJobWorkflow, defaultIn)
	finalState(t, env)
	require.Equal(t, PhaseRestarting, mid.Phase)
	require.Nil(t, mid.Presented)
	require.Equal(t, 1, f.count("awaiting-approval"))
	require.Equal(t, []string{episodeA}, f.forced)
}

// An operator starts a rejected job again explicitly; it is refused while an
// episode awaits a decision.
func TestWatchResumeIsExplicitAndNeverWhileAnEpisodeAwaits(t *testing.T) {
	env, f := newWatchEnv(t)
	var resumed []ResumeInput
	env.RegisterActivityWithOptions(func(_ context.Context, in ResumeInput) (ResumeResult, error) {
		resumed = append(resumed, in)
		return ResumeResult{Started: true}, nil
	}, activity.RegisterOptions{Name: ResumeJobActivity})
	var early, later Decision
	update := func(d time.Duration, id string, out *Decision) {
		at(env, d, func() {
			env.UpdateWorkflow(ResumeUpdate, id, &testsuite.TestUpdateCallback{OnReject: func(err error) { t.Error(err) }, OnAccept: func() {},
				OnComplete: func(v any, err error) { require.NoError(t, err); *out = v.(Decision) }},
				ResumeRequest{By: "alice@contoso.com", Reason: "OU move reverted"})
		})
	}
	observe(env, f, time.Minute, tooManyA)
	update(time.Hour, "r1", &early)
	decide(env, 2*time.Hour, RejectSignal, DecisionRequest{Approver: "bob@contoso.com", Reason: "bad OU move"})
	update(3*time.Hour, "r2", &later)
	observe(env, f, 4*time.Hour, gone)
	env.ExecuteWorkflow(WatchSyncJobWorkflow, defaultIn)
	st := finalState(t, env)
	require.True(t, strings.HasPrefix(early.Outcome, OutcomeNotActedUpon), early.Outcome)
	require.Equal(t, "started", later.Outcome)
	require.Len(t, resumed, 1)
	require.Equal(t, "alice@contoso.com", resumed[0].By)
	require.Empty(t, f.forced, "a resume never forces deletions")
	require.Equal(t, []string{"not acted upon", OutcomeRejected, "started"}, outcomes(st.Decisions))
}

// The watcher publishes its state in its memo whenever it changes, so the
// starter reads it from Describe and listings instead of the billed status
// query; the memo carries the presented episode and the last decisions.
func TestWatchPublishesItsStateInTheMemo(t *testing.T) {
	env, f := newWatchEnv(t)
	var memos []WatchState
	env.OnUpsertMemo(mock.Anything).Run(func(args mock.Arguments) {
		if v, ok := args.Get(0).(map[string]any)[WatchStateMemoKey]; ok {
			memos = append(memos, v.(WatchState))
		}
	}).Return(nil)
	observe(env, f, time.Minute, tooManyA)
	decide(env, time.Hour, RejectSignal, DecisionRequest{Approver: "bob@contoso.com", Reason: "no"})
	observe(env, f, 2*time.Hour, gone)
	env.ExecuteWorkflow(WatchSyncJobWorkflow, defaultIn)
	finalState(t, env)
	require.NotEmpty(t, memos)
	var sawPresented bool
	for i, m := range memos {
		if m.Presented != nil && m.Presented.ID() == episodeA && m.Phase == PhaseAwaitingApproval {
			sawPresented = true
		}
		if i > 0 {
			require.NotEqual(t, memos[i-1], m, "published only when the state changed")
		}
	}
	require.True(t, sawPresented, "the presented episode is in the memo")
	last := memos[len(memos)-1]
	require.Equal(t, PhaseEnded, last.Phase)
	require.Equal(t, []string{OutcomeRejected}, outcomes(last.Decisions))
}

// LookFirst (starter watch): the watcher looks at the job before waiting for
// the poller, so a job that is not there shows as missing at once.
func TestWatchLookFirstShowsAMissingJobAtOnce(t *testing.T) {
	env, f := newWatchEnv(t)
	f.set(JobStatus{Missing: true, MissingSince: seriesA, ObservedAt: seriesA})
	in := defaultIn
	in.LookFirst = true
	var st WatchState
	at(env, time.Minute, func() { st = queryState(t, env) })
	observe(env, f, time.Hour, gone)
	env.ExecuteWorkflow(WatchSyncJobWorkflow, in)
	finalState(t, env)
	require.Equal(t, 1, f.looks)
	require.EqualValues(t, 1, st.Observations)
	require.True(t, st.Job.Missing)
	require.Contains(t, st.Advice, "not in its service principal's job list")

	// Without LookFirst (onboarding's watchers), no look: the poller reports.
	env2, f2 := newWatchEnv(t)
	observe(env2, f2, time.Hour, gone)
	env2.ExecuteWorkflow(WatchSyncJobWorkflow, defaultIn)
	finalState(t, env2)
	require.Equal(t, 0, f2.looks)
}

// A decision that arrives while the run waits for its notifications before
// continuing as new is acted on, not lost with the closing run.
func TestWatchDecisionDuringContinueAsNewIsNotLost(t *testing.T) {
	env, f := newWatchEnv(t)
	env.OnActivity(NotifyActivity, mock.Anything, mock.Anything).After(30 * time.Minute).Return(nil)
	observe(env, f, time.Minute, tooManyA)
	at(env, 2*time.Minute, func() { env.SetContinueAsNewSuggested(true) })
	later := tooManyA
	later.LastExecutionState = "Failed"
	observe(env, f, 3*time.Minute, later) // a loop turn: it starts continuing as new
	decide(env, 10*time.Minute, ApproveSignal, DecisionRequest{Approver: "alice@contoso.com", Reason: "sent meanwhile"})
	env.ExecuteWorkflow(WatchSyncJobWorkflow, defaultIn)
	require.True(t, env.IsWorkflowCompleted())
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(env.GetWorkflowError(), &can), "got %v", env.GetWorkflowError())
	var next WatchInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.Equal(t, []string{episodeA}, f.forced, "the approval was acted on before the run closed")
	require.Equal(t, []string{OutcomeRestartIssued}, outcomes(next.State.Decisions))
}

// Work done by an update handler grows the history too: once it is done, the
// main loop looks at the history's length and continues as new when due.
func TestWatchContinuesAsNewAfterAnUpdate(t *testing.T) {
	env, f := newWatchEnv(t)
	env.RegisterActivityWithOptions(func(context.Context, ResumeInput) (ResumeResult, error) { return ResumeResult{Started: true}, nil },
		activity.RegisterOptions{Name: ResumeJobActivity})
	observe(env, f, time.Minute, tooManyA)
	decide(env, 2*time.Minute, RejectSignal, DecisionRequest{Approver: "bob@contoso.com", Reason: "bad OU move"})
	at(env, 3*time.Minute, func() { env.SetContinueAsNewSuggested(true) })
	at(env, time.Hour, func() {
		env.UpdateWorkflow(ResumeUpdate, "r", &testsuite.TestUpdateCallback{OnReject: func(err error) { t.Error(err) }, OnAccept: func() {}, OnComplete: func(any, error) {}},
			ResumeRequest{By: "carol@contoso.com", Reason: "fixed on-premises"})
	})
	began := env.Now()
	env.ExecuteWorkflow(WatchSyncJobWorkflow, defaultIn)
	require.True(t, env.IsWorkflowCompleted())
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(env.GetWorkflowError(), &can), "got %v", env.GetWorkflowError())
	require.Less(t, env.Now().Sub(began), 2*time.Hour, "right after the update, not at the next timer")
	var next WatchInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.Equal(t, []string{OutcomeRejected, "started"}, outcomes(next.State.Decisions))
}

// A watcher started as the onboarding and `starter watch` start one (memo
// WatchMemo, search attributes WatchSearchAttributes) writes nothing at start:
// its phase and first state are already there, and each write is a billed
// action. Started without them, it writes both.
func TestWatchStartedWithItsMemoAndAttributesWritesNothingAtStart(t *testing.T) {
	for _, given := range []bool{true, false} {
		env, f := newWatchEnv(t)
		if given {
			require.NoError(t, env.SetMemoOnStart(WatchMemo(defaultIn)))
			require.NoError(t, env.SetTypedSearchAttributesOnStart(WatchSearchAttributes(defaultIn)))
		}
		var memos, upserts int
		var observed bool
		env.OnUpsertMemo(mock.Anything).Run(func(mock.Arguments) {
			if !observed {
				memos++
			}
		}).Return(nil)
		env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(mock.Arguments) {
			if !observed {
				upserts++
			}
		}).Return(nil)
		at(env, time.Minute, func() { observed = true })
		observe(env, f, time.Hour, gone)
		env.ExecuteWorkflow(WatchSyncJobWorkflow, defaultIn)
		finalState(t, env)
		if given {
			require.Zero(t, memos, "no memo upsert before anything happened")
			require.Zero(t, upserts, "no search attribute upsert before anything happened")
		} else {
			require.Equal(t, 1, memos, "registration, with the first state")
			require.Equal(t, 1, upserts, "the phase")
		}
	}
}

// A webhook URL given where a name belongs is a secret: the refusal says so
// without repeating it (it would reach a terminal, a log or a history).
func TestWebhookURLGivenAsANameIsNotRepeated(t *testing.T) {
	const url = "https://hooks.example.com/services/T000/B000/secret-token-xyz"
	err := WatchOptions{Webhook: url}.Validate()
	require.Error(t, err)
	require.NotContains(t, err.Error(), "hooks.example.com")
	require.NotContains(t, err.Error(), "secret-token")
	require.Contains(t, err.Error(), "give the name")
	require.Contains(t, WatchOptions{Webhook: "Bad Name"}.Validate().Error(), `"Bad Name" is not a webhook name`)
}

func TestClipTextNeverSplitsACharacter(t *testing.T) {
	c := clipText(strings.Repeat("é", 30))
	require.True(t, utf8.ValidString(c), c)
	require.True(t, strings.HasSuffix(c, "…"))
}
