package workflows_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/cloudsync/cloudsync/workflows"
	"github.com/cloudsync/cloudsync/workflows/workflowstest"
)

// The typed contract: the names the workflows call are the method names a
// worker registers for a struct implementing workflows.Activities.
func TestActivityNamesAreMethodNames(t *testing.T) {
	require.Equal(t, "EnsureJobs", workflows.ActivityName(workflows.OnboardingActivities.EnsureJobs))
	require.Equal(t, "RestartForceDeletes", workflows.RestartJobActivity)
	require.Equal(t, "Notify", workflows.ActivityName(workflows.WatchingActivities.Notify))
}

func newEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *workflowstest.Fake) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetTestTimeout(time.Minute)
	workflows.RegisterWorkflows(env)
	f := workflowstest.New()
	env.RegisterActivity(f.Activities())
	return env, f
}

// An onboarding runs every step through the shared fake registered as a
// struct, as the worker registers the real activities.
func TestOnboardingRunsOnTheSharedFake(t *testing.T) {
	env, _ := newEnv(t)
	noWatch := false
	env.ExecuteWorkflow(workflows.OnboardTenantWorkflow, workflows.OnboardInput{Watch: &noWatch, Spec: workflows.TenantSpec{
		TenantID: "11111111-2222-3333-4444-555555555555", Domain: "contoso.com", PasswordHashSync: true, ExchangeHybridWriteback: true}})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res workflows.OnboardResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Len(t, res.Jobs, 3)
	var steps []string
	for _, s := range res.Steps {
		steps = append(steps, s.Step)
	}
	require.Equal(t, []string{workflows.StepTenantSyncFlag, workflows.StepApplication, workflows.StepJobs, workflows.StepSecrets,
		workflows.StepSchema, workflows.StepJobs, workflows.StepStartJobs}, steps, "the writeback job's creation reports as a jobs step")
	require.Equal(t, workflows.ExchangeEnabled, res.Exchange)
}

// A watcher approves through the shared fake: look, restart and notify are
// called by the names the fake registers.
func TestWatcherApprovesOnTheSharedFake(t *testing.T) {
	env, f := newEnv(t)
	const tenant, job = "11111111-2222-3333-4444-555555555555", "AD2AADProvisioning.aa.bb"
	f.Quarantine(tenant, job)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(workflows.ObservedSignal, f.Status(tenant, job)) }, time.Minute)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(workflows.ApproveSignal, workflows.DecisionRequest{Approver: "ops@contoso.com", Reason: "expected clean-up"})
	}, 2*time.Minute)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(workflows.ObservedSignal, workflows.JobStatus{Missing: true, Gone: true})
	}, time.Hour)
	env.ExecuteWorkflow(workflows.WatchSyncJobWorkflow, workflows.WatchInput{TenantID: tenant, Domain: "contoso.com", ServicePrincipalID: "sp-1", JobID: job})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	require.Len(t, f.Restarts(tenant, job), 1)
	require.NotEmpty(t, f.Notified(tenant, job, "awaiting-approval"))
}

func TestWatchWorkflowIDRoundTrips(t *testing.T) {
	id := workflows.WatchWorkflowID(" 11111111-2222-3333-4444-555555555555 ", "AD2AADProvisioning.aa.bb")
	tenant, job, ok := workflows.ParseWatchWorkflowID(id)
	require.True(t, ok)
	require.Equal(t, "11111111-2222-3333-4444-555555555555", tenant)
	require.Equal(t, "AD2AADProvisioning.aa.bb", job)
	_, _, ok = workflows.ParseWatchWorkflowID(workflows.OnboardWorkflowID("t", "contoso.com"))
	require.False(t, ok)
}
