package workflows

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

// fakeConfig stands in for a tenant's configuration as a drift check reads
// it: the plan steps that would change something, or an error.
type fakeConfig struct {
	mu      sync.Mutex
	changes []PlanStep
	fail    error
	checks  []PlanInput
	notes   []Notification
	// intervalReads counts the drift check's reads of the worker's interval.
	intervalReads int
}

func (f *fakeConfig) set(changes ...PlanStep) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.changes = changes
}

func (f *fakeConfig) check(_ context.Context, in PlanInput) (DriftCheckResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.checks = append(f.checks, in)
	if f.fail != nil {
		return DriftCheckResult{}, f.fail
	}
	res := PlanResult{TenantID: in.Spec.TenantID, Domain: in.Spec.Domain}
	res.Add(PlanStep{Step: StepTenantSyncFlag, Action: PlanNone})
	for _, s := range f.changes {
		res.Add(s)
	}
	return DriftCheckResult{Plan: res, Interval: time.Hour}, nil
}

func (f *fakeConfig) notify(_ context.Context, n Notification) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.notes = append(f.notes, n)
	return nil
}

func (f *fakeConfig) kinds() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, n := range f.notes {
		out = append(out, n.Kind)
	}
	return out
}

var missingSecret = PlanStep{Step: StepSecrets, Action: PlanCreate, Detail: "add SyncNotificationSettings", Drift: DriftSecretMissing}

func driftSpec() TenantSpec { return fullSpec().Normalized() }

// newDriftEnv registers WatchDrift with stand-in activities; the worker's
// drift interval is an hour. saUpserts collects CloudSyncDrift's values,
// memos the published states.
func newDriftEnv(t *testing.T) (env *testsuite.TestWorkflowEnvironment, f *fakeConfig, saUpserts *[]string, memos *[]DriftState) {
	var s testsuite.WorkflowTestSuite
	env = s.NewTestWorkflowEnvironment()
	f = &fakeConfig{}
	env.RegisterActivityWithOptions(f.check, activity.RegisterOptions{Name: CheckDriftActivity})
	env.RegisterActivityWithOptions(f.notify, activity.RegisterOptions{Name: NotifyActivity})
	env.RegisterActivityWithOptions(func(context.Context) (time.Duration, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.intervalReads++
		return time.Hour, nil
	}, activity.RegisterOptions{Name: DriftIntervalActivity})
	env.RegisterWorkflowWithOptions(WatchDrift, workflow.RegisterOptions{Name: WatchDriftWorkflow})
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: DriftWorkflowID(tTenant, "contoso.com")})
	require.NoError(t, env.SetTypedSearchAttributesOnStart(temporal.NewSearchAttributes(
		SearchTenant.ValueSet(tTenant), SearchDomain.ValueSet("contoso.com"), SearchDrift.ValueSet(DriftNone))))
	saUpserts, memos = &[]string{}, &[]DriftState{}
	env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		if v, ok := args.Get(0).(temporal.SearchAttributes).GetKeyword(SearchDrift); ok {
			*saUpserts = append(*saUpserts, v)
		}
	}).Return(nil)
	env.OnUpsertMemo(mock.Anything).Run(func(args mock.Arguments) {
		if v, ok := args.Get(0).(map[string]any)[DriftMemoKey]; ok {
			*memos = append(*memos, v.(DriftState))
		}
	}).Return(nil)
	return env, f, saUpserts, memos
}

func requireCancelled(t *testing.T, env *testsuite.TestWorkflowEnvironment) {
	t.Helper()
	require.True(t, env.IsWorkflowCompleted())
	err := env.GetWorkflowError()
	require.Error(t, err)
	require.True(t, temporal.IsCanceledError(err), "a cancelled drift check ends as canceled, not failed: %v", err)
}

// Started by a completed onboarding, the drift check reads nothing at once
// (Graph matches the spec); one interval later it checks. Drift appears: the
// attribute lists it, the memo holds what an onboarding would change, one
// notification goes out; the same drift at the next check is not notified
// again. A re-run of the onboarding (a converged spec signal) repairs it:
// none at once, without a read, and a "repaired" notification.
func TestDriftAppearsIsNotifiedOnceAndRepairedByAnOnboarding(t *testing.T) {
	env, f, sas, memos := newDriftEnv(t)
	at(env, 30*time.Minute, func() { f.set(missingSecret) })
	at(env, 150*time.Minute, func() {
		env.SignalWorkflow(DriftSpecSignal, DriftInput{Spec: driftSpec(), Webhook: "ops", Converged: true})
	})
	at(env, 190*time.Minute, func() { env.CancelWorkflow() })
	env.ExecuteWorkflow(WatchDriftWorkflow, DriftInput{Spec: driftSpec(), Webhook: "ops", Converged: true, Exchange: ExchangeEnabled})
	requireCancelled(t, env)

	require.Len(t, f.checks, 2, "at 1 h and 2 h; the repair at 2 h 30 read nothing, the next check (3 h 30) was cancelled")
	require.Equal(t, ExchangeEnabled, f.checks[0].Exchange)
	require.Equal(t, []string{DriftSecretMissing, DriftNone}, *sas, "one upsert per change")
	require.Equal(t, []string{NotifyDrift, NotifyDriftRepaired}, f.kinds())
	require.Equal(t, []string{DriftSecretMissing}, f.notes[0].Drift)
	require.Equal(t, "ops", f.notes[0].Webhook)
	require.Equal(t, DriftWorkflowID(tTenant, "contoso.com"), f.notes[0].WorkflowID)
	require.Contains(t, f.notes[0].Message, "secrets: create add SyncNotificationSettings")
	require.Contains(t, f.notes[1].Message, "matches its spec again by an onboarding (was: secret-missing)")

	var drifted *DriftState
	for i := range *memos {
		if (*memos)[i].Status == DriftSecretMissing {
			drifted = &(*memos)[i]
		}
	}
	require.NotNil(t, drifted, "the memo published the drift")
	require.Equal(t, []PlanStep{missingSecret}, drifted.Changes)
	require.Equal(t, "check", drifted.By)
	last := (*memos)[len(*memos)-1]
	require.Equal(t, DriftNone, last.Status)
	require.Equal(t, "onboarding", last.By)
	require.Empty(t, last.Changes)
	require.Equal(t, int64(2), last.Checks)
	require.Equal(t, time.Hour, last.Interval)
}

// A spec sent without Converged (by hand, or with changed settings) is
// checked at once, against the new spec.
func TestDriftSpecSignalChecksAtOnce(t *testing.T) {
	env, f, sas, _ := newDriftEnv(t)
	changed := driftSpec()
	changed.PasswordHashSync = false
	var checkedAt []time.Time
	env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		if info.ActivityType.Name == CheckDriftActivity {
			checkedAt = append(checkedAt, env.Now())
		}
	})
	at(env, 10*time.Minute, func() {
		f.set(PlanStep{Step: StepPauseJobs, Action: PlanPause, Detail: "pause " + tPHS, Drift: DriftFeatureJobRunning})
		env.SignalWorkflow(DriftSpecSignal, DriftInput{Spec: changed})
	})
	at(env, 20*time.Minute, func() { env.CancelWorkflow() })
	env.ExecuteWorkflow(WatchDriftWorkflow, DriftInput{Spec: driftSpec()})
	requireCancelled(t, env)

	require.Len(t, f.checks, 2, "at start (not converged) and at the signal")
	require.True(t, f.checks[0].Spec.PasswordHashSync)
	require.False(t, f.checks[1].Spec.PasswordHashSync, "the signalled spec is checked")
	require.Equal(t, 10*time.Minute, checkedAt[1].Sub(checkedAt[0]).Round(time.Minute), "at once, not an interval later")
	require.Equal(t, []string{DriftFeatureJobRunning}, *sas)
	require.Equal(t, []string{NotifyDrift}, f.kinds())
}

// A spec of another tenant or domain, or an invalid one, is not this check's:
// it is ignored (the workflow id names the tenant and domain).
func TestDriftIgnoresAForeignSpec(t *testing.T) {
	env, f, _, _ := newDriftEnv(t)
	other := driftSpec()
	other.Domain = "fabrikam.com"
	at(env, 10*time.Minute, func() { env.SignalWorkflow(DriftSpecSignal, DriftInput{Spec: other}) })
	at(env, 11*time.Minute, func() { env.SignalWorkflow(DriftSpecSignal, DriftInput{Spec: TenantSpec{TenantID: "nope"}}) })
	at(env, 20*time.Minute, func() { env.CancelWorkflow() })
	env.ExecuteWorkflow(WatchDriftWorkflow, DriftInput{Spec: driftSpec(), Converged: true})
	requireCancelled(t, env)
	require.Empty(t, f.checks, "nothing to check before the interval")
}

// A cancellation (offboarding) while a check reads Graph ends the workflow at
// once, as canceled, and no further check starts.
func TestDriftCancelledDuringACheckEndsCleanly(t *testing.T) {
	env, f, _, _ := newDriftEnv(t)
	env.OnActivity(CheckDriftActivity, mock.Anything, mock.Anything).After(10 * time.Minute).Return(func(ctx context.Context, in PlanInput) (DriftCheckResult, error) {
		return f.check(ctx, in)
	})
	started := 0
	env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		if info.ActivityType.Name == CheckDriftActivity {
			started++
		}
	})
	at(env, 5*time.Minute, func() { env.CancelWorkflow() })
	env.ExecuteWorkflow(WatchDriftWorkflow, DriftInput{Spec: driftSpec()})
	requireCancelled(t, env)
	require.Equal(t, 1, started, "the check in flight, none after it")
	require.Empty(t, f.kinds())
}

// A check that fails (Graph refuses, or stays unavailable for the retry
// window) is "unknown", with the reason in the memo, and not notified; the
// next check that succeeds says what it finds.
func TestDriftCheckFailureIsUnknown(t *testing.T) {
	env, f, sas, memos := newDriftEnv(t)
	f.fail = temporal.NewNonRetryableApplicationError("graph: list sync jobs: HTTP 403 Authorization_RequestDenied", "GraphForbidden", nil)
	at(env, 30*time.Minute, func() {
		f.mu.Lock()
		f.fail = nil
		f.mu.Unlock()
	})
	at(env, 90*time.Minute, func() { env.CancelWorkflow() })
	env.ExecuteWorkflow(WatchDriftWorkflow, DriftInput{Spec: driftSpec()})
	requireCancelled(t, env)
	require.Len(t, f.checks, 2)
	require.Equal(t, []string{DriftUnknown, DriftNone}, *sas)
	require.Empty(t, f.kinds(), "neither a failed check nor the first none is a drift to notify")
	var failed bool
	for _, m := range *memos {
		failed = failed || (m.Status == DriftUnknown && m.LastError != "")
	}
	require.True(t, failed, "the memo says why the check failed")
}

// A drift check continues as new after 100 checks, with its state and spec;
// the next run waits for the check that was due.
func TestDriftContinuesAsNewWithItsState(t *testing.T) {
	env, f, _, _ := newDriftEnv(t)
	f.set(missingSecret)
	env.ExecuteWorkflow(WatchDriftWorkflow, DriftInput{Spec: driftSpec(), Webhook: "ops"})
	require.True(t, env.IsWorkflowCompleted())
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(env.GetWorkflowError(), &can), "%v", env.GetWorkflowError())
	require.Len(t, f.checks, driftChecksPerRun)
	require.Equal(t, []string{NotifyDrift}, f.kinds(), "notified once in 100 checks")
	var next DriftInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.NotNil(t, next.State)
	require.Equal(t, int64(driftChecksPerRun), next.State.Checks)
	require.Equal(t, DriftSecretMissing, next.State.Status)
	require.Equal(t, DriftSecretMissing, next.State.Notified, "the next run does not notify the same drift again")
	require.False(t, next.State.NextCheck.IsZero())
	require.Equal(t, "ops", next.Webhook)
	require.False(t, next.Converged)
}

// A completed onboarding with watching on starts its drift check as a child,
// handing it the spec it made Graph match (Converged) and the webhook.
func TestOnboardTenantStartsItsDriftCheck(t *testing.T) {
	env := newEnv(t)
	happy(env, true)
	var started []string
	var driftIn DriftInput
	env.SetOnChildWorkflowStartedListener(func(info *workflow.Info, _ workflow.Context, args converter.EncodedValues) {
		started = append(started, info.WorkflowExecution.ID)
		if info.WorkflowType.Name == WatchDriftWorkflow {
			require.NoError(t, args.Get(&driftIn))
		}
	})
	env.ExecuteWorkflow(OnboardTenantWorkflow, OnboardInput{Spec: fullSpec(), WatchOptions: WatchOptions{Webhook: "ops"}})
	require.NoError(t, env.GetWorkflowError())
	var res OnboardResult
	require.NoError(t, env.GetWorkflowResult(&res))
	id := DriftWorkflowID(tTenant, "contoso.com")
	require.Contains(t, started, id)
	require.Equal(t, id, res.DriftCheck)
	require.True(t, driftIn.Converged)
	require.Equal(t, fullSpec().Normalized(), driftIn.Spec)
	require.Equal(t, "ops", driftIn.Webhook)
	require.Equal(t, ExchangeEnabled, driftIn.Exchange)

	// --no-watch: no drift check either.
	env = newEnv(t)
	happy(env, true)
	started = nil
	env.SetOnChildWorkflowStartedListener(func(info *workflow.Info, _ workflow.Context, _ converter.EncodedValues) {
		started = append(started, info.WorkflowExecution.ID)
	})
	off := false
	env.ExecuteWorkflow(OnboardTenantWorkflow, OnboardInput{Spec: fullSpec(), Watch: &off})
	require.NoError(t, env.GetWorkflowError())
	require.NotContains(t, started, id)
}

// The plan workflow runs the plan activity and returns its result; an
// invalid spec is refused before any read.
func TestPlanTenantWorkflow(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var got []PlanInput
	env.RegisterActivityWithOptions(func(_ context.Context, in PlanInput) (PlanResult, error) {
		got = append(got, in)
		r := PlanResult{TenantID: in.Spec.TenantID, Domain: in.Spec.Domain}
		r.Add(PlanStep{Step: StepTenantSyncFlag, Action: PlanChange, Detail: "set onPremisesSyncEnabled to true", Drift: DriftSyncFlagOff})
		r.Add(PlanStep{Step: StepExchange, Action: PlanUnknown, Detail: "would check the AD schema for mailNickname"})
		return r, nil
	}, activity.RegisterOptions{Name: PlanTenantActivity})
	env.RegisterWorkflowWithOptions(PlanTenant, workflow.RegisterOptions{Name: PlanTenantWorkflow})
	env.ExecuteWorkflow(PlanTenantWorkflow, PlanInput{Spec: fullSpec()})
	require.NoError(t, env.GetWorkflowError())
	var res PlanResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, 1, res.Changes, "unknown is not a change")
	require.Equal(t, []string{DriftSyncFlagOff}, res.Drift())
	require.Equal(t, "contoso.com", got[0].Spec.Domain, "normalised before the activity")

	env = s.NewTestWorkflowEnvironment()
	env.RegisterActivityWithOptions(func(context.Context, PlanInput) (PlanResult, error) { panic("no read for an invalid spec") }, activity.RegisterOptions{Name: PlanTenantActivity})
	env.RegisterWorkflowWithOptions(PlanTenant, workflow.RegisterOptions{Name: PlanTenantWorkflow})
	env.ExecuteWorkflow(PlanTenantWorkflow, PlanInput{Spec: TenantSpec{TenantID: "x"}})
	var ae *temporal.ApplicationError
	require.True(t, errors.As(env.GetWorkflowError(), &ae))
	require.Equal(t, ValidationErrorType, ae.Type())
}

// The first state an onboarding sets in a new drift check's memo
// (lean-onboarding version 3) is the one the check computes itself when
// started without it, so adopting it changes nothing but the cost (the
// interval read and the memo upsert; e2e/drift_test.go checks those on a
// real server: the test suite does not hand a memo set at start to the
// workflow).
func TestDriftFirstStateIsTheChecksOwn(t *testing.T) {
	env, f, _, memos := newDriftEnv(t)
	start := env.Now().UTC()
	at(env, 90*time.Minute, func() { env.CancelWorkflow() })
	env.ExecuteWorkflow(WatchDriftWorkflow, DriftInput{Spec: driftSpec(), Converged: true})
	requireCancelled(t, env)
	require.Equal(t, 1, f.intervalReads)
	require.Len(t, *memos, 2, "the first state, then the first check's")
	require.Equal(t, (*memos)[0], convergedDriftState(start, time.Hour))
}
