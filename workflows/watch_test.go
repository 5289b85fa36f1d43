package workflows

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

// fakeJob is a sync job the test drives; the fake activities read and restart it.
type fakeJob struct {
	mu        sync.Mutex
	status    JobStatus
	polls     int // attempts, including "unchanged"
	restarts  []RestartInput
	notified  []string // kinds
	lastInput PollJobInput
}

func (f *fakeJob) set(s JobStatus) { f.mu.Lock(); f.status = s; f.mu.Unlock() }

func (f *fakeJob) poll(_ context.Context, in PollJobInput) (JobStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.polls++
	f.lastInput = in
	s := f.status
	if in.Last != nil && s.SameState(*in.Last) {
		return JobStatus{}, temporal.NewApplicationError("unchanged", ErrJobUnchanged)
	}
	s.ObservedAt = time.Now()
	return s, nil
}

func (f *fakeJob) restart(_ context.Context, in RestartInput) (RestartResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.restarts = append(f.restarts, in)
	if f.status.QuarantineReason != "TooManyDeletes" {
		return RestartResult{Detail: "not quarantined"}, nil
	}
	f.status = active
	return RestartResult{Restarted: true}, nil
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
	active       = JobStatus{ScheduleState: "Active", StatusCode: "Active", LastExecutionState: "Succeeded"}
	tooMany      = JobStatus{ScheduleState: "Active", StatusCode: "Quarantine", QuarantineReason: "TooManyDeletes", QuarantineError: "DeleteThresholdExceeded", TenantActionable: true}
	badCreds     = JobStatus{ScheduleState: "Active", StatusCode: "Quarantine", QuarantineReason: "EncounteredQuarantineException", QuarantineError: "AzureActiveDirectoryInvalidCredential", TenantActionable: true}
	gone         = JobStatus{Gone: true}
	watchJobID   = "AD2AADProvisioning.aa.bb"
	defaultWatch = WatchInput{TenantID: tTenant, Domain: "contoso.com", ServicePrincipalID: tSP, JobID: watchJobID}
)

func newWatchEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *fakeJob) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	f := &fakeJob{status: active}
	env.RegisterActivityWithOptions(f.poll, activity.RegisterOptions{Name: PollJobActivity})
	env.RegisterActivityWithOptions(f.restart, activity.RegisterOptions{Name: RestartJobActivity})
	env.RegisterActivityWithOptions(f.notify, activity.RegisterOptions{Name: NotifyActivity})
	env.RegisterWorkflowWithOptions(WatchSyncJob, workflow.RegisterOptions{Name: WatchSyncJobWorkflow})
	return env, f
}

// at runs fn at simulated time d after the start.
func at(env *testsuite.TestWorkflowEnvironment, d time.Duration, fn func()) {
	env.RegisterDelayedCallback(fn, d)
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

func TestWatchPollsCheaplyAndEndsWhenJobIsDeleted(t *testing.T) {
	env, f := newWatchEnv(t)
	var mid WatchState
	at(env, 3*time.Hour, func() { mid = queryState(t, env) })
	at(env, 10*time.Hour, func() { f.set(gone) })
	env.ExecuteWorkflow(WatchSyncJobWorkflow, defaultWatch)
	st := finalState(t, env)
	require.Equal(t, PhaseEnded, st.Phase)
	require.Contains(t, st.Outcome, "deleted")
	require.Equal(t, PhaseWatching, mid.Phase)
	require.Equal(t, "Active", mid.Job.StatusCode)
	// 10 h at a 2 min interval: ~300 attempts, but only 2 observed changes.
	require.Greater(t, f.polls, 250)
	require.Equal(t, int64(2), st.Polls)
	require.Equal(t, DefaultRefreshInterval, f.lastInput.RefreshAfter)
}

func TestWatchQuarantineApprovalRestartsWithForceDeletes(t *testing.T) {
	env, f := newWatchEnv(t)
	var awaiting WatchState
	at(env, time.Hour, func() { f.set(tooMany) })
	at(env, 2*time.Hour, func() { awaiting = queryState(t, env) })
	at(env, 3*time.Hour, func() {
		env.SignalWorkflow(ApproveSignal, DecisionRequest{Approver: "alice@contoso.com", Reason: "HR offboarding batch"})
	})
	var after WatchState
	at(env, 4*time.Hour, func() { after = queryState(t, env) })
	at(env, 5*time.Hour, func() { f.set(gone) })
	env.ExecuteWorkflow(WatchSyncJobWorkflow, defaultWatch)
	st := finalState(t, env)

	require.Equal(t, PhaseAwaitingApproval, awaiting.Phase)
	require.Contains(t, awaiting.Advice, "approve")
	require.Len(t, f.restarts, 1, "exactly one ForceDeletes restart")
	require.Equal(t, "alice@contoso.com", f.restarts[0].Decision.Approver)
	require.Equal(t, "HR offboarding batch", f.restarts[0].Decision.Reason)
	require.Equal(t, PhaseWatching, after.Phase, "healthy again after the restart")
	require.Equal(t, "restart-issued", st.Decisions[0].Outcome)
	require.Equal(t, 1, f.count("awaiting-approval"))
	require.Equal(t, 1, f.count("recovered"))
}

func TestWatchRejectionLeavesJobQuarantined(t *testing.T) {
	env, f := newWatchEnv(t)
	at(env, time.Hour, func() { f.set(tooMany) })
	at(env, 2*time.Hour, func() { env.SignalWorkflow(RejectSignal, DecisionRequest{Approver: "bob", Reason: "a bad OU move"}) })
	var rejected WatchState
	at(env, 3*time.Hour, func() { rejected = queryState(t, env) })
	// A later approval is ignored: nothing awaits one after a rejection.
	at(env, 4*time.Hour, func() { env.SignalWorkflow(ApproveSignal, DecisionRequest{Approver: "mallory", Reason: "oops"}) })
	at(env, 6*time.Hour, func() { f.set(active) }) // fixed on-premises and restarted by the admin
	var recovered WatchState
	at(env, 7*time.Hour, func() { recovered = queryState(t, env) })
	at(env, 8*time.Hour, func() { f.set(gone) })
	env.ExecuteWorkflow(WatchSyncJobWorkflow, defaultWatch)
	st := finalState(t, env)

	require.Empty(t, f.restarts, "a rejection never restarts")
	require.Equal(t, PhaseRejected, rejected.Phase)
	require.Equal(t, "rejected", rejected.Decisions[0].Outcome)
	require.Equal(t, "bob", rejected.Decisions[0].Approver)
	require.Equal(t, PhaseWatching, recovered.Phase)
	require.Len(t, st.Decisions, 2)
	require.True(t, strings.HasPrefix(st.Decisions[1].Outcome, "ignored"), st.Decisions[1].Outcome)
}

func TestWatchRemindsWhileAwaiting(t *testing.T) {
	env, f := newWatchEnv(t)
	in := defaultWatch
	in.Options.ReminderInterval = time.Hour
	at(env, time.Minute, func() { f.set(tooMany) })
	at(env, 3*time.Hour+30*time.Minute, func() {
		env.SignalWorkflow(ApproveSignal, DecisionRequest{Approver: "alice", Reason: "ok"})
	})
	at(env, 8*time.Hour, func() { f.set(gone) })
	env.ExecuteWorkflow(WatchSyncJobWorkflow, in)
	st := finalState(t, env)
	require.Equal(t, 3, f.count("reminder"), "reminders at 1h, 2h, 3h; none after the approval")
	require.Equal(t, 3, st.Reminders)
}

func TestWatchApprovalWithNothingPendingIsNeverActedUpon(t *testing.T) {
	env, f := newWatchEnv(t)
	at(env, time.Hour, func() { env.SignalWorkflow(ApproveSignal, DecisionRequest{Approver: "alice", Reason: "why not"}) })
	var rejectedErr error
	at(env, 2*time.Hour, func() {
		env.UpdateWorkflow(ApproveUpdate, "u1", &testsuite.TestUpdateCallback{
			OnReject: func(err error) { rejectedErr = err },
			OnAccept: func() { t.Error("update accepted with nothing pending") },
		}, DecisionRequest{Approver: "alice", Reason: "why not"})
	})
	at(env, 3*time.Hour, func() { f.set(gone) })
	env.ExecuteWorkflow(WatchSyncJobWorkflow, defaultWatch)
	st := finalState(t, env)
	require.Empty(t, f.restarts)
	require.Error(t, rejectedErr)
	require.Contains(t, rejectedErr.Error(), "nothing awaits a decision")
	require.Len(t, st.Decisions, 1)
	require.Contains(t, st.Decisions[0].Outcome, "ignored")
}

func TestWatchUpdateApprovalAnswersSynchronously(t *testing.T) {
	env, f := newWatchEnv(t)
	in := defaultWatch
	in.Options.Approvers = []string{"alice@contoso.com"}
	at(env, time.Hour, func() { f.set(tooMany) })
	var refused error
	var decision Decision
	at(env, 2*time.Hour, func() {
		env.UpdateWorkflow(ApproveUpdate, "u1", &testsuite.TestUpdateCallback{
			OnReject: func(err error) { refused = err }, OnAccept: func() {}, OnComplete: func(any, error) {},
		}, DecisionRequest{Approver: "mallory@contoso.com", Reason: "trust me"})
	})
	at(env, 3*time.Hour, func() {
		env.UpdateWorkflow(ApproveUpdate, "u2", &testsuite.TestUpdateCallback{
			OnReject: func(err error) { t.Errorf("refused: %v", err) }, OnAccept: func() {},
			OnComplete: func(v any, err error) {
				require.NoError(t, err)
				decision = v.(Decision)
			},
		}, DecisionRequest{Approver: "Alice@Contoso.com", Reason: "planned cleanup"})
	})
	at(env, 5*time.Hour, func() { f.set(gone) })
	env.ExecuteWorkflow(WatchSyncJobWorkflow, in)
	finalState(t, env)
	require.ErrorContains(t, refused, "not an allowed approver")
	require.Equal(t, "restart-issued", decision.Outcome)
	require.Len(t, f.restarts, 1)
	require.Equal(t, "Alice@Contoso.com", f.restarts[0].Decision.Approver)
}

func TestWatchOtherQuarantineIsExplainedNeverForced(t *testing.T) {
	env, f := newWatchEnv(t)
	at(env, time.Hour, func() { f.set(badCreds) })
	var q WatchState
	at(env, 2*time.Hour, func() { q = queryState(t, env) })
	at(env, 3*time.Hour, func() { env.SignalWorkflow(ApproveSignal, DecisionRequest{Approver: "alice", Reason: "force it"}) })
	at(env, 4*time.Hour, func() { f.set(gone) })
	env.ExecuteWorkflow(WatchSyncJobWorkflow, defaultWatch)
	finalState(t, env)
	require.Equal(t, PhaseQuarantined, q.Phase)
	require.Contains(t, q.Advice, "AzureActiveDirectoryInvalidCredential")
	require.Contains(t, q.Advice, "never answers this with ForceDeletes")
	require.Empty(t, f.restarts)
	require.Equal(t, 1, f.count("quarantined"))
}

func TestWatchContinuesAsNewCarryingState(t *testing.T) {
	env, f := newWatchEnv(t)
	at(env, time.Hour, func() { f.set(tooMany) })
	at(env, 2*time.Hour, func() { env.SetContinueAsNewSuggested(true) })
	at(env, 2*time.Hour+time.Minute, func() { // a change, so a poll completes
		s := tooMany
		s.LastExecutionState = "Failed"
		f.set(s)
	})
	env.ExecuteWorkflow(WatchSyncJobWorkflow, defaultWatch)
	require.True(t, env.IsWorkflowCompleted())
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(env.GetWorkflowError(), &can), "got %v", env.GetWorkflowError())
	var next WatchInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.NotNil(t, next.State)
	require.Equal(t, PhaseAwaitingApproval, next.State.Phase, "a pending decision survives continue-as-new")
	require.False(t, next.State.AwaitingSince.IsZero())
	require.GreaterOrEqual(t, next.State.Polls, int64(2), "%+v", next.State)
	require.Equal(t, 1, next.State.Runs)
	require.Equal(t, watchJobID, next.JobID)
	require.Equal(t, "TooManyDeletes", next.State.Job.QuarantineReason, "the last status travels, so the next run does not re-notify")
	require.False(t, next.State.Job.ObservedAt.IsZero())
}

func TestWatchResumedRunKeepsAwaitingAndAcceptsApproval(t *testing.T) {
	env, f := newWatchEnv(t)
	f.set(tooMany)
	in := defaultWatch
	in.State = &WatchState{Phase: PhaseAwaitingApproval, Job: tooMany, AwaitingSince: time.Now(), Polls: 7, Runs: 3}
	in.State.Job.ObservedAt = time.Now()
	at(env, time.Hour, func() { env.SignalWorkflow(ApproveSignal, DecisionRequest{Approver: "alice", Reason: "planned"}) })
	at(env, 2*time.Hour, func() { f.set(gone) })
	env.ExecuteWorkflow(WatchSyncJobWorkflow, in)
	st := finalState(t, env)
	require.Equal(t, 0, f.count("awaiting-approval"), "no second notification for the same episode")
	require.Len(t, f.restarts, 1)
	require.Equal(t, 4, st.Runs)
}

func TestWatchNewQuarantineRightAfterRestartIsANewEpisode(t *testing.T) {
	env, f := newWatchEnv(t)
	first := tooMany
	first.QuarantineSince = time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	second := tooMany
	second.QuarantineSince = first.QuarantineSince.Add(5 * time.Minute)
	at(env, time.Hour, func() { f.set(first) })
	at(env, 2*time.Hour, func() {
		env.SignalWorkflow(ApproveSignal, DecisionRequest{Approver: "alice", Reason: "batch 1"})
	})
	// Before the watcher sees the job healthy, a second batch quarantines it again.
	at(env, 2*time.Hour+time.Second, func() { f.set(second) })
	var again WatchState
	at(env, 3*time.Hour, func() { again = queryState(t, env) })
	at(env, 4*time.Hour, func() { f.set(gone) })
	env.ExecuteWorkflow(WatchSyncJobWorkflow, defaultWatch)
	finalState(t, env)
	require.Equal(t, PhaseAwaitingApproval, again.Phase, "the second batch needs its own approval")
	require.Equal(t, 2, f.count("awaiting-approval"))
	require.Len(t, f.restarts, 1, "one approval, one ForceDeletes")
}
