package activities

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/cloudsync/cloudsync/graph"
	"github.com/cloudsync/cloudsync/graphsim"
	wf "github.com/cloudsync/cloudsync/workflows"
)

// onboardSpec runs the real OnboardTenant workflow (testsuite) with the real
// activities on graphsim; watchers and the drift check are stand-ins.
func onboardSpec(t *testing.T, a *Activities, spec wf.TenantSpec) wf.OnboardResult {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterActivity(a)
	env.RegisterWorkflowWithOptions(wf.OnboardTenant, workflow.RegisterOptions{Name: wf.OnboardTenantWorkflow})
	env.RegisterWorkflowWithOptions(wf.WatchSyncJob, workflow.RegisterOptions{Name: wf.WatchSyncJobWorkflow})
	env.RegisterWorkflowWithOptions(wf.WatchDrift, workflow.RegisterOptions{Name: wf.WatchDriftWorkflow})
	env.OnWorkflow(wf.WatchSyncJobWorkflow, mock.Anything, mock.Anything).Return(wf.WatchState{}, nil)
	env.OnWorkflow(wf.WatchDriftWorkflow, mock.Anything, mock.Anything).Return(wf.DriftState{}, nil)
	env.ExecuteWorkflow(wf.OnboardTenantWorkflow, wf.OnboardInput{Spec: spec})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res wf.OnboardResult
	require.NoError(t, env.GetWorkflowResult(&res))
	return res
}

func plan(t *testing.T, a *Activities, in wf.PlanInput) wf.PlanResult {
	t.Helper()
	v, err := activityEnv(a).ExecuteActivity(a.PlanTenant, in)
	require.NoError(t, err)
	var res wf.PlanResult
	require.NoError(t, v.Get(&res))
	for _, s := range res.Steps {
		t.Logf("  %-26s %-8s %s", s.Step, s.Action, s.Detail)
	}
	return res
}

// onlyGets fails on any request but GET logged since index from, and
// returns the routes.
func onlyGets(t *testing.T, sim *graphsim.Server, from int) []string {
	t.Helper()
	var routes []string
	for _, r := range sim.RequestLog()[from:] {
		require.Equal(t, "GET", r.Method, "a plan sent %s", r.Route)
		routes = append(routes, fmt.Sprintf("%s %d", r.Route, r.Status))
	}
	return routes
}

func step(t *testing.T, p wf.PlanResult, name string) wf.PlanStep {
	t.Helper()
	for _, s := range p.Steps {
		if s.Step == name {
			return s
		}
	}
	t.Fatalf("no step %s in %+v", name, p.Steps)
	return wf.PlanStep{}
}

func planSpec(domain string) wf.TenantSpec {
	th := 50
	return wf.TenantSpec{TenantID: tenant, Domain: domain, PasswordHashSync: true, ExchangeHybridWriteback: true,
		Notifications: wf.Notifications{Enabled: true, Recipients: []string{"admin@" + domain}}, DeleteThreshold: wf.DeleteThreshold{Value: &th}}
}

// A fresh tenant: every step would create or change something; what depends
// on the application's creation says so; discover is not sent. Only GETs
// reach Graph and nothing is created.
func TestPlanFreshTenant(t *testing.T) {
	a, sim := newActivities(t, graphsim.Options{})
	p := plan(t, a, wf.PlanInput{Spec: planSpec("fresh.contoso.com")})
	require.Equal(t, 6, p.Changes, "flag, application, jobs, secrets, schema, start")
	require.Equal(t, wf.PlanChange, step(t, p, wf.StepTenantSyncFlag).Action)
	require.Equal(t, wf.PlanCreate, step(t, p, wf.StepApplication).Action)
	require.Contains(t, step(t, p, wf.StepApplication).Detail, "no configuration of fresh.contoso.com")
	require.Equal(t, wf.PlanCreate, step(t, p, wf.StepJobs).Action)
	require.Contains(t, step(t, p, wf.StepJobs).Detail, "no configuration yet")
	require.Equal(t, wf.PlanUnknown, step(t, p, wf.StepExchange).Action)
	require.Contains(t, step(t, p, wf.StepExchange).Detail, "mailNickname")
	require.Equal(t, wf.PlanStart, step(t, p, wf.StepStartJobs).Action)
	require.Equal(t, []string{wf.DriftConfigurationMissing, wf.DriftSyncFlagOff}, p.Drift())

	routes := onlyGets(t, sim, 0)
	require.Equal(t, []string{"GET /organization/{id} 200", "GET /servicePrincipals 200", "GET /servicePrincipals 200"}, routes,
		"the flag, then the configurations by template and by name")
	st := sim.Snapshot(tenant)
	require.Empty(t, st.Applications)
	require.False(t, st.OnPremisesSyncEnabled)
	require.Zero(t, sim.Stats().GraphWrites)
}

// Right after an onboarding, a plan changes nothing (plan and apply decide
// alike), in six GETs; a masked AppKey is not a change.
func TestPlanOnboardedTenantChangesNothing(t *testing.T) {
	a, sim := newActivities(t, graphsim.Options{})
	spec := planSpec("done.contoso.com")
	res := onboardSpec(t, a, spec)
	require.Len(t, res.Jobs, 3)
	before := len(sim.RequestLog())
	p := plan(t, a, wf.PlanInput{Spec: spec})
	require.Zero(t, p.Changes, "%+v", p.Steps)
	require.Empty(t, p.Drift())
	require.Equal(t, res.ServicePrincipalID, p.ServicePrincipalID)
	require.Contains(t, step(t, p, wf.StepSecrets).Detail, "AppKey: Graph masks it")
	require.Contains(t, step(t, p, wf.StepStartJobs).Detail, "already running")
	routes := onlyGets(t, sim, before)
	require.Len(t, routes, 6, "flag, configurations, their Domain secret, jobs, secrets, schema: %v", routes)
	require.Equal(t, 1, sim.Snapshot(tenant).DiscoverCalls, "the onboarding's discover; none by the plan")

	// An app that may only read plans all the same.
	sim.SetTenantOptions(tenant, graphsim.TenantOptions{MissingPermission: "Synchronization.ReadWrite.All"})
	require.Zero(t, plan(t, a, wf.PlanInput{Spec: spec}).Changes)
}

// A changed spec: the plan names each change an onboarding then makes, step
// for step; after the onboarding, the plan is empty again.
func TestPlanChangedSpecMatchesTheOnboarding(t *testing.T) {
	a, sim := newActivities(t, graphsim.Options{})
	spec := planSpec("changed.contoso.com")
	onboardSpec(t, a, spec)

	changed := spec
	changed.DisplayName = "Changed Contoso"
	th := 25
	changed.DeleteThreshold = wf.DeleteThreshold{Value: &th}
	changed.PasswordHashSync = false
	changed.ExchangeHybridWriteback = false
	before := len(sim.RequestLog())
	p := plan(t, a, wf.PlanInput{Spec: changed})
	onlyGets(t, sim, before)
	require.Equal(t, wf.PlanChange, step(t, p, wf.StepApplication).Action)
	require.Contains(t, step(t, p, wf.StepApplication).Detail, "rename changed.contoso.com → Changed Contoso")
	require.Equal(t, wf.PlanPause, step(t, p, wf.StepPauseJobs).Action)
	require.Contains(t, step(t, p, wf.StepSecrets).Detail, "delete threshold 50 → 25")
	require.Equal(t, wf.PlanChange, step(t, p, wf.StepSchema).Action)
	require.Contains(t, step(t, p, wf.StepSchema).Detail, "remove CredentialData from")
	require.Equal(t, 4, p.Changes)

	res := onboardSpec(t, a, changed)
	planned := map[string]bool{}
	for _, s := range p.Steps {
		planned[s.Step] = s.Action.Changes()
	}
	for _, s := range res.Steps {
		if s.Step == wf.StepWatch {
			continue
		}
		did := s.Outcome == wf.OutcomeChanged || s.Outcome == wf.OutcomeCreated
		require.Equal(t, planned[s.Step], did, "step %s: planned %v, the onboarding: %s %s", s.Step, planned[s.Step], s.Outcome, s.Detail)
	}
	require.Zero(t, plan(t, a, wf.PlanInput{Spec: changed}).Changes)
}

// Drift made from outside (the portal): a secret key removed, the
// CredentialData mapping removed, the writeback job deleted, the sync flag
// off. A drift check names each; the onboarding's repair leaves none.
func TestCheckDriftNamesWhatChangedAndTheRepairClearsIt(t *testing.T) {
	a, sim := newActivities(t, graphsim.Options{SyncDeactivation: -1})
	a.DriftCheckInterval = 42
	spec := planSpec("drift.contoso.com")
	res := onboardSpec(t, a, spec)
	sp := res.ServicePrincipalID
	require.NoError(t, sim.DeleteSecret(tenant, sp, "SyncNotificationSettings"))
	n, err := sim.RemoveCredentialDataMapping(tenant, res.Jobs[wf.TemplateProvisioning])
	require.NoError(t, err)
	require.Equal(t, 2, n)
	require.NoError(t, sim.DeleteJob(tenant, res.Jobs[wf.TemplateExchangeWriteback]))
	require.NoError(t, sim.SetOnPremisesSyncEnabled(tenant, false))

	var check wf.DriftCheckResult
	drifted := []string{wf.DriftCredentialData, wf.DriftJobMissing, wf.DriftSecretMissing, wf.DriftSyncFlagOff}
	// Reads lag behind the job's delete (graphsim's DeleteLag, as Graph's):
	// the next check names it.
	require.Eventually(t, func() bool {
		before := len(sim.RequestLog())
		v, err := activityEnv(a).ExecuteActivity(a.CheckDrift, wf.PlanInput{Spec: spec, Exchange: res.Exchange})
		require.NoError(t, err)
		require.NoError(t, v.Get(&check))
		onlyGets(t, sim, before)
		return slices.Equal(check.Plan.Drift(), drifted)
	}, 15*time.Second, 500*time.Millisecond, "drift check never named %v", drifted)
	require.EqualValues(t, 42, check.Interval)
	require.Contains(t, step(t, check.Plan, wf.StepSecrets).Detail, "add SyncNotificationSettings")
	require.Equal(t, wf.PlanCreate, step(t, check.Plan, wf.StepExchange).Action, "the AD schema had mailNickname: the job is to create")

	// Without the onboarding's finding, the missing writeback job is unknown
	// (discover would tell, and a plan does not send it).
	p := plan(t, a, wf.PlanInput{Spec: spec})
	require.Equal(t, wf.PlanUnknown, step(t, p, wf.StepExchange).Action)

	onboardSpec(t, a, spec)
	require.Empty(t, plan(t, a, wf.PlanInput{Spec: spec, Exchange: wf.ExchangeEnabled}).Drift())
	require.Empty(t, sim.Violations())
}

// A plan's 403 names the read permissions it needs, and is not retried.
func TestPlanRefusedNamesReadPermissions(t *testing.T) {
	a, sim := newActivities(t, graphsim.Options{})
	sim.SetTenantOptions(tenant, graphsim.TenantOptions{ConsentRevoked: true})
	_, err := activityEnv(a).ExecuteActivity(a.PlanTenant, wf.PlanInput{Spec: planSpec("denied.contoso.com")})
	var ae *temporal.ApplicationError
	require.ErrorAs(t, err, &ae)
	require.True(t, ae.NonRetryable())
	require.Contains(t, ae.Message(), "Organization.Read.All, Application.Read.All and Synchronization.Read.All")

	_, err = activityEnv(a).ExecuteActivity(a.PlanTenant, wf.PlanInput{Spec: wf.TenantSpec{TenantID: "x"}})
	require.ErrorAs(t, err, &ae)
	require.Equal(t, wf.ValidationErrorType, ae.Type())
}

// Directory sync turned off is being deactivated for up to 72 hours, and
// Graph refuses to turn it on meanwhile: the step fails at once saying so
// (re-run later), rather than with Graph's bare 400.
func TestEnableTenantSyncDuringDeactivationSaysWhen(t *testing.T) {
	a, sim := newActivities(t, graphsim.Options{})
	env := activityEnv(a)
	_, err := env.ExecuteActivity(a.EnableTenantSync, wf.TenantInput{TenantID: tenant})
	require.NoError(t, err)
	require.NoError(t, sim.SetOnPremisesSyncEnabled(tenant, false))
	_, err = env.ExecuteActivity(a.EnableTenantSync, wf.TenantInput{TenantID: tenant})
	var ae *temporal.ApplicationError
	require.ErrorAs(t, err, &ae)
	require.True(t, ae.NonRetryable())
	require.Equal(t, string(graph.KindBadRequest), ae.Type())
	require.True(t, strings.Contains(ae.Message(), "refuses to turn it on meanwhile; run the onboarding again once that is done"), ae.Message())
}
