package workflows

import (
	"testing"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
)

// A re-run whose spec turned password hash sync and Exchange writeback off:
// the jobs step lists all three jobs but asks only for provisioning; the
// pause-jobs step pauses the other two (with the listing handed on), the
// schema step removes CredentialData, exchange is skipped, and start-jobs
// gets only the provisioning job and the listing the pause step updated.
func TestOnboardTenantFeaturesTurnedOffArePausedAndUnpatched(t *testing.T) {
	env := newEnv(t)
	happy(env, false, EnsureJobsActivity, PatchSchemaActivity, CheckExchangeSchemaActivity, "exchange-jobs", StartJobsActivity)
	listed := &JobsSeen{RunID: "run", Jobs: []SeenJob{{ID: tProv, TemplateID: TemplateProvisioning}, {ID: tPHS, TemplateID: TemplatePasswordHash}, {ID: tExch, TemplateID: TemplateExchangeWriteback}}}
	afterPause := &JobsSeen{RunID: "run", Jobs: listed.Jobs[:1]}
	env.OnActivity(EnsureJobsActivity, mock.Anything, EnsureJobsInput{TenantID: tTenant, ServicePrincipalID: tSP, Templates: []string{TemplateProvisioning}}).
		Return(EnsureJobsResult{Jobs: map[string]string{TemplateProvisioning: tProv, TemplatePasswordHash: tPHS, TemplateExchangeWriteback: tExch}, Seen: listed,
			Report: StepReport{Step: StepJobs, Outcome: OutcomeUnchanged}}, nil)
	env.OnActivity(PauseJobsActivity, mock.Anything, PauseJobsInput{TenantID: tTenant, ServicePrincipalID: tSP, Seen: listed,
		Jobs: []FeatureJob{{ID: tPHS, Feature: FeaturePasswordHash}, {ID: tExch, Feature: FeatureExchange}}}).
		Return(PauseJobsResult{Paused: []string{tPHS, tExch}, Seen: afterPause, Report: StepReport{Step: StepPauseJobs, Outcome: OutcomeChanged, Detail: "changed: paused …"}}, nil)
	env.OnActivity(UnpatchSchemaActivity, mock.Anything, JobInput{TenantID: tTenant, ServicePrincipalID: tSP, JobID: tProv}).
		Return(SchemaResult{ADDirectoryID: "ad-dir", Report: StepReport{Step: StepSchema, Outcome: OutcomeChanged, Detail: "changed: removed CredentialData …"}}, nil)
	env.OnActivity(StartJobsActivity, mock.Anything, StartJobsInput{TenantID: tTenant, ServicePrincipalID: tSP, JobIDs: []string{tProv}, Seen: afterPause}).
		Return(StartJobsResult{AlreadyRunning: []string{tProv}, Report: StepReport{Step: StepStartJobs, Outcome: OutcomeUnchanged}}, nil)

	spec := fullSpec()
	spec.PasswordHashSync, spec.ExchangeHybridWriteback = false, false
	env.ExecuteWorkflow(OnboardTenantWorkflow, OnboardInput{Spec: spec})
	require.NoError(t, env.GetWorkflowError())
	var res OnboardResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.True(t, res.Changed)
	require.Equal(t, map[string]string{TemplateProvisioning: tProv}, res.Jobs)
	var steps []string
	for _, s := range res.Steps {
		steps = append(steps, s.Step+" "+string(s.Outcome))
	}
	require.Equal(t, []string{"tenant-sync-flag unchanged", "application unchanged", "jobs unchanged", "pause-jobs changed", "secrets unchanged",
		"schema changed", "exchange skipped", "start-jobs unchanged", "watch created"}, steps)
	env.AssertNotCalled(t, CheckExchangeSchemaActivity, mock.Anything, mock.Anything)
	env.AssertNotCalled(t, PatchSchemaActivity, mock.Anything, mock.Anything)
	env.AssertExpectations(t)
}

// Features off that never were on (no job of theirs): nothing to pause or
// remove, no extra activity.
func TestOnboardTenantFeaturesNeverOnCostNothing(t *testing.T) {
	env := newEnv(t)
	happy(env, false, EnsureJobsActivity, StartJobsActivity)
	env.OnActivity(EnsureJobsActivity, mock.Anything, mock.Anything).
		Return(EnsureJobsResult{Jobs: map[string]string{TemplateProvisioning: tProv}, Report: StepReport{Step: StepJobs, Outcome: OutcomeUnchanged}}, nil)
	env.OnActivity(StartJobsActivity, mock.Anything, StartJobsInput{TenantID: tTenant, ServicePrincipalID: tSP, JobIDs: []string{tProv}}).
		Return(StartJobsResult{Report: StepReport{Step: StepStartJobs, Outcome: OutcomeUnchanged}}, nil)
	spec := fullSpec()
	spec.PasswordHashSync, spec.ExchangeHybridWriteback = false, false
	env.ExecuteWorkflow(OnboardTenantWorkflow, OnboardInput{Spec: spec})
	require.NoError(t, env.GetWorkflowError())
	var res OnboardResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.False(t, res.Changed)
	env.AssertNotCalled(t, PauseJobsActivity, mock.Anything, mock.Anything)
	env.AssertNotCalled(t, UnpatchSchemaActivity, mock.Anything, mock.Anything)
}

// Password hash sync turned back on: the schema step had to add CredentialData
// again to an existing job's schema, so start-jobs may resume the paused PHS
// job. With the mapping in place (an admin paused a configured PHS job) it
// may not.
func TestOnboardTenantPasswordHashBackOnResumesItsJob(t *testing.T) {
	for _, restored := range []bool{true, false} {
		env := newEnv(t)
		happy(env, false, PatchSchemaActivity, StartJobsActivity)
		outcome := OutcomeUnchanged
		var resume []FeatureJob
		if restored {
			outcome, resume = OutcomeChanged, []FeatureJob{{ID: tPHS, Feature: FeaturePasswordHash}}
		}
		env.OnActivity(PatchSchemaActivity, mock.Anything, mock.Anything).Return(SchemaResult{ADDirectoryID: "ad-dir", Report: StepReport{Step: StepSchema, Outcome: outcome}}, nil)
		env.OnActivity(StartJobsActivity, mock.Anything, StartJobsInput{TenantID: tTenant, ServicePrincipalID: tSP, JobIDs: []string{tProv, tPHS, tExch}, Resume: resume}).
			Return(StartJobsResult{Report: StepReport{Step: StepStartJobs, Outcome: OutcomeUnchanged}}, nil)
		env.ExecuteWorkflow(OnboardTenantWorkflow, OnboardInput{Spec: fullSpec()})
		require.NoError(t, env.GetWorkflowError(), "restored %v", restored)
		env.AssertExpectations(t)
	}
}

// Once the jobs of features turned off are paused, later re-runs see it in
// the jobs step's listing: no pause-jobs activity runs, the step still says
// they stay paused.
func TestOnboardTenantJobsAlreadyPausedRunNoActivity(t *testing.T) {
	env := newEnv(t)
	happy(env, false, EnsureJobsActivity, PatchSchemaActivity, CheckExchangeSchemaActivity, "exchange-jobs", StartJobsActivity)
	listed := &JobsSeen{RunID: "run", Jobs: []SeenJob{{ID: tProv, TemplateID: TemplateProvisioning, ScheduleState: "Active", StatusCode: "Active", Running: true},
		{ID: tPHS, TemplateID: TemplatePasswordHash, ScheduleState: "Paused", StatusCode: "Paused"},
		{ID: tExch, TemplateID: TemplateExchangeWriteback, ScheduleState: "Paused", StatusCode: "Paused"}}}
	env.OnActivity(EnsureJobsActivity, mock.Anything, mock.Anything).
		Return(EnsureJobsResult{Jobs: map[string]string{TemplateProvisioning: tProv, TemplatePasswordHash: tPHS, TemplateExchangeWriteback: tExch}, Seen: listed,
			Report: StepReport{Step: StepJobs, Outcome: OutcomeUnchanged}}, nil)
	env.OnActivity(UnpatchSchemaActivity, mock.Anything, mock.Anything).Return(SchemaResult{Report: StepReport{Step: StepSchema, Outcome: OutcomeUnchanged}}, nil)
	env.OnActivity(StartJobsActivity, mock.Anything, StartJobsInput{TenantID: tTenant, ServicePrincipalID: tSP, JobIDs: []string{tProv}, Seen: listed}).
		Return(StartJobsResult{AlreadyRunning: []string{tProv}, Report: StepReport{Step: StepStartJobs, Outcome: OutcomeUnchanged}}, nil)
	spec := fullSpec()
	spec.PasswordHashSync, spec.ExchangeHybridWriteback = false, false
	env.ExecuteWorkflow(OnboardTenantWorkflow, OnboardInput{Spec: spec})
	require.NoError(t, env.GetWorkflowError())
	var res OnboardResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.False(t, res.Changed)
	env.AssertNotCalled(t, PauseJobsActivity, mock.Anything, mock.Anything)
	var pause StepReport
	for _, s := range res.Steps {
		if s.Step == StepPauseJobs {
			pause = s
		}
	}
	require.Equal(t, StepReport{Step: StepPauseJobs, Outcome: OutcomeUnchanged,
		Detail: tPHS + " already stopped (schedule Paused, password hash sync off); " + tExch + " already stopped (schedule Paused, Exchange hybrid writeback off)"}, pause)
	env.AssertExpectations(t)
}
