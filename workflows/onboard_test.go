package workflows

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
)

const (
	tTenant = "0b7f4c3e-1d2a-4e5f-8a9b-0c1d2e3f4a99"
	tSP     = "sp-1"
	tProv   = "AD2AADProvisioning.aa.bb"
	tPHS    = "AD2AADPasswordHash.cc.dd"
	tExch   = "AAD2ADExchangeHybridWriteback.ee.ff"
)

// newEnv registers stand-ins with the activities' names and signatures; each
// test says what they return.
func newEnv(t *testing.T) *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	reg := func(fn any, name string) { env.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name}) }
	reg(func(context.Context, TenantInput) (StepReport, error) { panic("mock") }, EnableTenantSyncActivity)
	reg(func(context.Context, EnsureApplicationInput) (ApplicationResult, error) { panic("mock") }, EnsureApplicationActivity)
	reg(func(context.Context, ServicePrincipalInput) error { panic("mock") }, WaitForServicePrincipalActivity)
	reg(func(context.Context, EnsureJobsInput) (EnsureJobsResult, error) { panic("mock") }, EnsureJobsActivity)
	reg(func(context.Context, SecretsInput) (StepReport, error) { panic("mock") }, ApplySecretsActivity)
	reg(func(context.Context, JobInput) (SchemaResult, error) { panic("mock") }, PatchSchemaActivity)
	reg(func(context.Context, JobInput) (SchemaResult, error) { panic("mock") }, UnpatchSchemaActivity)
	reg(func(context.Context, PauseJobsInput) (PauseJobsResult, error) { panic("mock") }, PauseJobsActivity)
	reg(func(context.Context, ExchangeCheckInput) (ExchangeCheckResult, error) { panic("mock") }, CheckExchangeSchemaActivity)
	reg(func(context.Context, StartJobsInput) (StartJobsResult, error) { panic("mock") }, StartJobsActivity)
	env.RegisterWorkflowWithOptions(OnboardTenant, workflowOpts(OnboardTenantWorkflow))
	env.RegisterWorkflowWithOptions(WatchSyncJob, workflowOpts(WatchSyncJobWorkflow))
	env.RegisterWorkflowWithOptions(WatchDrift, workflowOpts(WatchDriftWorkflow))
	// Watchers run for months; here they end at once.
	env.OnWorkflow(WatchSyncJobWorkflow, mock.Anything, mock.Anything).Return(WatchState{Phase: PhaseEnded}, nil)
	// So do drift checks (drift_test.go runs them for real).
	env.OnWorkflow(WatchDriftWorkflow, mock.Anything, mock.Anything).Return(DriftState{Status: DriftNone}, nil)
	return env
}

func fullSpec() TenantSpec {
	return TenantSpec{TenantID: tTenant, Domain: "Contoso.com", PasswordHashSync: true, ExchangeHybridWriteback: true,
		Notifications: Notifications{Enabled: true, Recipients: []string{"admin@contoso.com"}}}
}

// happy mocks a first onboarding where everything gets created, except the
// activities named in skip (the test mocks those itself; "exchange-jobs" is
// the second EnsureJobs call).
func happy(env *testsuite.TestWorkflowEnvironment, changed bool, skip ...string) {
	on := func(name string) bool {
		for _, s := range skip {
			if s == name {
				return false
			}
		}
		return true
	}
	oc := func(created Outcome) Outcome {
		if changed {
			return created
		}
		return OutcomeUnchanged
	}
	if on(EnableTenantSyncActivity) {
		env.OnActivity(EnableTenantSyncActivity, mock.Anything, TenantInput{tTenant}).Return(StepReport{Step: StepTenantSyncFlag, Outcome: oc(OutcomeChanged)}, nil)
	}
	if on(EnsureApplicationActivity) {
		env.OnActivity(EnsureApplicationActivity, mock.Anything, EnsureApplicationInput{TenantID: tTenant, DisplayName: "contoso.com", Domain: "contoso.com"}).
			Return(ApplicationResult{AppID: "app-1", ServicePrincipalID: tSP, Report: StepReport{Step: StepApplication, Outcome: oc(OutcomeCreated)}}, nil)
	}
	if on(WaitForServicePrincipalActivity) {
		env.OnActivity(WaitForServicePrincipalActivity, mock.Anything, ServicePrincipalInput{tTenant, tSP}).Return(nil)
	}
	if on(EnsureJobsActivity) {
		var created []string
		if changed {
			created = []string{TemplateProvisioning, TemplatePasswordHash}
		}
		env.OnActivity(EnsureJobsActivity, mock.Anything, EnsureJobsInput{TenantID: tTenant, ServicePrincipalID: tSP, Templates: []string{TemplateProvisioning, TemplatePasswordHash}, Seen: nil}).
			Return(EnsureJobsResult{Jobs: map[string]string{TemplateProvisioning: tProv, TemplatePasswordHash: tPHS}, Created: created, Report: StepReport{Step: StepJobs, Outcome: oc(OutcomeCreated)}}, nil)
	}
	if on(ApplySecretsActivity) {
		env.OnActivity(ApplySecretsActivity, mock.Anything, mock.Anything).Return(StepReport{Step: StepSecrets, Outcome: oc(OutcomeChanged)}, nil)
	}
	if on(PatchSchemaActivity) {
		env.OnActivity(PatchSchemaActivity, mock.Anything, JobInput{TenantID: tTenant, ServicePrincipalID: tSP, JobID: tProv}).Return(SchemaResult{ADDirectoryID: "ad-dir", Report: StepReport{Step: StepSchema, Outcome: oc(OutcomeChanged)}}, nil)
	}
	if on(CheckExchangeSchemaActivity) {
		env.OnActivity(CheckExchangeSchemaActivity, mock.Anything, ExchangeCheckInput{TenantID: tTenant, ServicePrincipalID: tSP, JobID: tProv, ADDirectoryID: "ad-dir"}).Return(ExchangeCheckResult{MailNicknamePresent: true, ADDirectoryID: "ad-dir"}, nil)
	}
	if on("exchange-jobs") {
		env.OnActivity(EnsureJobsActivity, mock.Anything, EnsureJobsInput{TenantID: tTenant, ServicePrincipalID: tSP, Templates: []string{TemplateExchangeWriteback}, Seen: nil}).
			Return(EnsureJobsResult{Jobs: map[string]string{TemplateProvisioning: tProv, TemplatePasswordHash: tPHS, TemplateExchangeWriteback: tExch}, Report: StepReport{Step: StepJobs, Outcome: oc(OutcomeCreated)}}, nil)
	}
	if on(StartJobsActivity) {
		env.OnActivity(StartJobsActivity, mock.Anything, StartJobsInput{TenantID: tTenant, ServicePrincipalID: tSP, JobIDs: []string{tProv, tPHS, tExch}, Seen: nil}).
			Return(StartJobsResult{Started: []string{tProv, tPHS, tExch}, Report: StepReport{Step: StepStartJobs, Outcome: oc(OutcomeChanged)}}, nil)
	}
}

func TestOnboardTenantFullOnboarding(t *testing.T) {
	env := newEnv(t)
	happy(env, true, ApplySecretsActivity)
	var secrets SecretsInput
	env.OnActivity(ApplySecretsActivity, mock.Anything, mock.Anything).Run(func(args mock.Arguments) { secrets = args.Get(1).(SecretsInput) }).
		Return(StepReport{Step: StepSecrets, Outcome: OutcomeChanged}, nil)

	env.ExecuteWorkflow(OnboardTenantWorkflow, OnboardInput{Spec: fullSpec()})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res OnboardResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.True(t, res.Changed)
	require.Equal(t, "contoso.com", res.Domain, "domain normalised")
	require.Equal(t, ExchangeEnabled, res.Exchange)
	require.Equal(t, map[string]string{TemplateProvisioning: tProv, TemplatePasswordHash: tPHS, TemplateExchangeWriteback: tExch}, res.Jobs)
	require.Equal(t, tSP, res.ServicePrincipalID)
	require.Equal(t, []string{WatchWorkflowID(tTenant, tProv), WatchWorkflowID(tTenant, tPHS), WatchWorkflowID(tTenant, tExch)}, res.Watchers)
	// Graph's defaults for the threshold reach the secrets step.
	require.True(t, *secrets.DeleteThreshold.Enabled)
	require.Equal(t, DefaultDeleteThreshold, *secrets.DeleteThreshold.Value)
	require.True(t, secrets.PasswordHashSync)
	env.AssertExpectations(t)
}

func TestOnboardTenantRerunReportsNoChange(t *testing.T) {
	env := newEnv(t)
	happy(env, false)
	env.ExecuteWorkflow(OnboardTenantWorkflow, OnboardInput{Spec: fullSpec()})
	require.NoError(t, env.GetWorkflowError())
	var res OnboardResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.False(t, res.Changed)
	require.Contains(t, res.Summary(), "nothing changed")
}

func TestOnboardTenantInvalidSpecRunsNoActivity(t *testing.T) {
	env := newEnv(t)
	env.ExecuteWorkflow(OnboardTenantWorkflow, OnboardInput{Spec: TenantSpec{TenantID: "contoso", Domain: "x", Notifications: Notifications{Enabled: true}}})
	err := env.GetWorkflowError()
	require.Error(t, err)
	var ae *temporal.ApplicationError
	require.True(t, errors.As(err, &ae))
	require.Equal(t, ValidationErrorType, ae.Type())
	var ve ValidationError
	require.NoError(t, ae.Details(&ve))
	fields := map[string]bool{}
	for _, f := range ve.Errors {
		fields[f.Field] = true
	}
	require.Equal(t, map[string]bool{"tenantId": true, "domain": true, "notifications.recipients": true}, fields)
	env.AssertNotCalled(t, EnableTenantSyncActivity, mock.Anything, mock.Anything)
}

func TestOnboardTenantExchangeSchemaMissingIsAnOutcome(t *testing.T) {
	env := newEnv(t)
	happy(env, true, CheckExchangeSchemaActivity, "exchange-jobs", StartJobsActivity)
	env.OnActivity(CheckExchangeSchemaActivity, mock.Anything, mock.Anything).Return(ExchangeCheckResult{MailNicknamePresent: false}, nil)
	env.OnActivity(StartJobsActivity, mock.Anything, StartJobsInput{TenantID: tTenant, ServicePrincipalID: tSP, JobIDs: []string{tProv, tPHS}, Seen: nil}).Return(StartJobsResult{Report: StepReport{Step: StepStartJobs, Outcome: OutcomeChanged}}, nil)

	env.ExecuteWorkflow(OnboardTenantWorkflow, OnboardInput{Spec: fullSpec()})
	require.NoError(t, env.GetWorkflowError())
	var res OnboardResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, ExchangeSchemaMissing, res.Exchange)
	require.NotContains(t, res.Jobs, TemplateExchangeWriteback)
}

func TestOnboardTenantNonRetryableFailureListsWhatExists(t *testing.T) {
	env := newEnv(t)
	happy(env, true, ApplySecretsActivity)
	calls := 0
	env.OnActivity(ApplySecretsActivity, mock.Anything, mock.Anything).Run(func(mock.Arguments) { calls++ }).
		Return(StepReport{}, temporal.NewNonRetryableApplicationError("graph: put sync secrets: HTTP 400 UnknownError (InvalidNotificationSettings)", "GraphBadRequest", nil))

	env.ExecuteWorkflow(OnboardTenantWorkflow, OnboardInput{Spec: fullSpec()})
	err := env.GetWorkflowError()
	require.Error(t, err)
	require.Equal(t, 1, calls, "a non-retryable error is not retried")
	var ae *temporal.ApplicationError
	require.True(t, errors.As(err, &ae))
	require.Equal(t, FailureType, ae.Type())
	require.Contains(t, ae.Error(), "step secrets")
	require.Contains(t, ae.Error(), "InvalidNotificationSettings")
	var partial OnboardResult
	require.NoError(t, ae.Details(&partial))
	require.Equal(t, tSP, partial.ServicePrincipalID)
	require.Equal(t, tProv, partial.Jobs[TemplateProvisioning])
	env.AssertNotCalled(t, PatchSchemaActivity, mock.Anything, mock.Anything)
}

func TestOnboardTenantRetriesThroughReplicationLag(t *testing.T) {
	env := newEnv(t)
	happy(env, true, WaitForServicePrincipalActivity)
	attempts := 0
	env.OnActivity(WaitForServicePrincipalActivity, mock.Anything, mock.Anything).Return(func(context.Context, ServicePrincipalInput) error {
		attempts++
		if attempts < 4 {
			return temporal.NewApplicationError("not visible yet", ErrServicePrincipalNotVisible)
		}
		return nil
	})
	env.ExecuteWorkflow(OnboardTenantWorkflow, OnboardInput{Spec: fullSpec()})
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, 4, attempts)
}

func TestOnboardTenantDiscoverRetriesAreBounded(t *testing.T) {
	env := newEnv(t)
	happy(env, true, CheckExchangeSchemaActivity)
	attempts := 0
	env.OnActivity(CheckExchangeSchemaActivity, mock.Anything, mock.Anything).Return(func(context.Context, ExchangeCheckInput) (ExchangeCheckResult, error) {
		attempts++
		return ExchangeCheckResult{}, temporal.NewApplicationError("graph: discover directory: HTTP 500 UnknownError", "GraphUnavailable")
	})
	env.ExecuteWorkflow(OnboardTenantWorkflow, OnboardInput{Spec: fullSpec()})
	require.Error(t, env.GetWorkflowError())
	require.Equal(t, int(discoverStep.RetryPolicy.MaximumAttempts), attempts)
	require.Contains(t, env.GetWorkflowError().Error(), "step exchange")
}

func TestOnboardTenantNoStartLeavesJobsDisabled(t *testing.T) {
	env := newEnv(t)
	happy(env, true)
	spec := fullSpec()
	spec.StartJobs = ptr(false)
	env.ExecuteWorkflow(OnboardTenantWorkflow, OnboardInput{Spec: spec})
	require.NoError(t, env.GetWorkflowError())
	env.AssertNotCalled(t, StartJobsActivity, mock.Anything, mock.Anything)
}

func TestOnboardTenantProgressQuery(t *testing.T) {
	env := newEnv(t)
	happy(env, true, WaitForServicePrincipalActivity)
	env.OnActivity(WaitForServicePrincipalActivity, mock.Anything, mock.Anything).After(time.Minute).Return(nil)
	var mid Progress
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(ProgressQuery)
		require.NoError(t, err)
		require.NoError(t, v.Get(&mid))
	}, 30*time.Second)
	env.ExecuteWorkflow(OnboardTenantWorkflow, OnboardInput{Spec: fullSpec()})
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, OnboardingRunning, mid.Status)
	require.Equal(t, StepSPVisible, mid.CurrentStep)
	require.Equal(t, tSP, mid.Result.ServicePrincipalID)
	require.Len(t, mid.Result.Steps, 2)
}

// The lean path upserts a search attribute only when its value changes, and
// none of those set at start: a full onboarding started by the starter makes 7
// upserts (application, jobs, secrets, schema, exchange, start-jobs, finish).
func TestOnboardTenantUpsertsOnlyChanges(t *testing.T) {
	env := newEnv(t)
	happy(env, true)
	require.NoError(t, env.SetTypedSearchAttributesOnStart(temporal.NewSearchAttributes(
		SearchTenant.ValueSet(tTenant), SearchDomain.ValueSet("contoso.com"),
		SearchOutcome.ValueSet(OnboardingRunning), SearchStep.ValueSet(StepTenantSyncFlag))))
	var steps []string
	env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		sa := args.Get(0).(temporal.SearchAttributes)
		step, _ := sa.GetKeyword(SearchStep)
		steps = append(steps, step)
		_, tenantSet := sa.GetKeyword(SearchTenant)
		require.False(t, tenantSet, "the tenant was set at start")
	}).Return(nil)
	env.ExecuteWorkflow(OnboardTenantWorkflow, OnboardInput{Spec: fullSpec()})
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, []string{StepApplication, StepJobs, StepSecrets, StepSchema, StepExchange, StepStartJobs, StepDone}, steps)
}

// The jobs steps hand their listing on: the writeback step and start-jobs get
// the listing the step before them made.
func TestOnboardTenantHandsJobListingsOn(t *testing.T) {
	env := newEnv(t)
	happy(env, true, EnsureJobsActivity, "exchange-jobs", StartJobsActivity)
	first := &JobsSeen{RunID: "run", Jobs: []SeenJob{{ID: tProv, TemplateID: TemplateProvisioning}, {ID: tPHS, TemplateID: TemplatePasswordHash}}}
	second := &JobsSeen{RunID: "run", Jobs: append(append([]SeenJob(nil), first.Jobs...), SeenJob{ID: tExch, TemplateID: TemplateExchangeWriteback})}
	env.OnActivity(EnsureJobsActivity, mock.Anything, EnsureJobsInput{TenantID: tTenant, ServicePrincipalID: tSP, Templates: []string{TemplateProvisioning, TemplatePasswordHash}, Seen: nil}).
		Return(EnsureJobsResult{Jobs: map[string]string{TemplateProvisioning: tProv, TemplatePasswordHash: tPHS}, Created: []string{TemplateProvisioning, TemplatePasswordHash}, Seen: first, Report: StepReport{Step: StepJobs, Outcome: OutcomeCreated}}, nil)
	env.OnActivity(EnsureJobsActivity, mock.Anything, EnsureJobsInput{TenantID: tTenant, ServicePrincipalID: tSP, Templates: []string{TemplateExchangeWriteback}, Seen: first}).
		Return(EnsureJobsResult{Jobs: map[string]string{TemplateProvisioning: tProv, TemplatePasswordHash: tPHS, TemplateExchangeWriteback: tExch}, Seen: second, Report: StepReport{Step: StepJobs, Outcome: OutcomeCreated}}, nil)
	env.OnActivity(StartJobsActivity, mock.Anything, StartJobsInput{TenantID: tTenant, ServicePrincipalID: tSP, JobIDs: []string{tProv, tPHS, tExch}, Seen: second}).
		Return(StartJobsResult{Started: []string{tProv, tPHS, tExch}, Report: StepReport{Step: StepStartJobs, Outcome: OutcomeChanged}}, nil)
	env.ExecuteWorkflow(OnboardTenantWorkflow, OnboardInput{Spec: fullSpec()})
	require.NoError(t, env.GetWorkflowError())
	env.AssertExpectations(t)
}
