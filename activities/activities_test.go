package activities

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/cloudsync/cloudsync/graph"
	"github.com/cloudsync/cloudsync/graphsim"
	wf "github.com/cloudsync/cloudsync/workflows"
)

const (
	simClient = "5e1f0c1d-0000-4000-8000-00000000ac71"
	simSecret = "activities-test-secret"
	tenant    = "0b7f4c3e-1d2a-4e5f-8a9b-0c1d2e3f4b01"
)

// newActivities wires the real Graph client to an in-process graphsim.
// waitTicks waits until graphsim's sync engine has ticked n more times.
func waitTicks(t *testing.T, sim *graphsim.Server, n int) {
	t.Helper()
	before := sim.Stats().EngineTicks
	require.Eventually(t, func() bool { return sim.Stats().EngineTicks >= before+n }, 5*time.Second, 5*time.Millisecond, "%d engine ticks", n)
}

func newActivities(t *testing.T, opts graphsim.Options) (*Activities, *graphsim.Server) {
	t.Helper()
	opts.Clients = map[string]string{simClient: simSecret}
	if opts.SyncSettle == 0 {
		// The test environment does not retry: a fresh service principal's
		// settling 403/409 are covered by TestSyncCallsRetryWhileTheServicePrincipalSettles.
		opts.SyncSettle = -1
	}
	srv, err := graphsim.New(opts)
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	tr, err := graph.TransportWithCA(srv.CAFile())
	require.NoError(t, err)
	f := &graph.Factory{
		Cloud:       graph.CloudGlobal.WithOverrides(srv.GraphURL(), srv.AuthorityHost()),
		Credentials: graph.CredentialConfig{Mode: graph.AuthClientSecret, ClientID: simClient, ClientSecret: simSecret},
		Transport:   tr,
	}
	return &Activities{Graph: f}, srv
}

func activityEnv(a *Activities) *testsuite.TestActivityEnvironment {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	return env
}

// runner runs activities of a in a test activity environment, failing the
// test on an error: exec(a.EnsureJobs, in, &out).
func runner(t *testing.T, a *Activities) func(fn, in, out any) {
	env := activityEnv(a)
	return func(fn, in, out any) {
		t.Helper()
		v, err := env.ExecuteActivity(fn, in)
		require.NoError(t, err)
		require.NoError(t, v.Get(out))
	}
}

// newSP runs EnsureApplication and gives the service principal's id.
func newSP(exec func(fn, in, out any), a *Activities, in wf.EnsureApplicationInput) string {
	var app wf.ApplicationResult
	exec(a.EnsureApplication, in, &app)
	return app.ServicePrincipalID
}

func TestEnsureApplicationLooksBeforeInstantiating(t *testing.T) {
	a, srv := newActivities(t, graphsim.Options{})
	env := activityEnv(a)
	in := wf.EnsureApplicationInput{TenantID: tenant, DisplayName: "contoso.com", Domain: "contoso.com"}

	v, err := env.ExecuteActivity(a.EnsureApplication, in)
	require.NoError(t, err)
	var first wf.ApplicationResult
	require.NoError(t, v.Get(&first))
	require.Equal(t, wf.OutcomeCreated, first.Report.Outcome)

	v, err = env.ExecuteActivity(a.EnsureApplication, in)
	require.NoError(t, err)
	var second wf.ApplicationResult
	require.NoError(t, v.Get(&second))
	require.Equal(t, wf.OutcomeUnchanged, second.Report.Outcome)
	require.Equal(t, first.ServicePrincipalID, second.ServicePrincipalID)
	require.Len(t, srv.Snapshot(tenant).Applications, 1)
}

// A retry after an attempt that instantiated (heartbeat recorded) but lost the
// answer waits for Graph's list rather than create a second app.
func TestEnsureApplicationRetryWaitsForTheListBeforeInstantiatingAgain(t *testing.T) {
	a, srv := newActivities(t, graphsim.Options{ListLag: time.Hour})
	in := wf.EnsureApplicationInput{TenantID: tenant, DisplayName: "fabrikam.com", Domain: "fabrikam.com"}

	env := activityEnv(a)
	_, err := env.ExecuteActivity(a.EnsureApplication, in) // the "lost" attempt
	require.NoError(t, err)
	require.Len(t, srv.Snapshot(tenant).Applications, 1)

	retry := activityEnv(a)
	retry.SetHeartbeatDetails(time.Now().Add(-10 * time.Second))
	before := len(srv.RequestLog())
	_, err = retry.ExecuteActivity(a.EnsureApplication, in)
	var ae *temporal.ApplicationError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, ErrWaitingForList, ae.Type())
	require.False(t, ae.NonRetryable())
	require.Equal(t, temporal.ApplicationErrorCategoryBenign, ae.Category(), "waiting for the list is expected: no ERROR log")
	require.Len(t, srv.Snapshot(tenant).Applications, 1, "no second app while the list may lag")
	require.Len(t, srv.RequestLog()[before:], 1, "while it waits, one list (by template) per attempt")

	late := activityEnv(a)
	late.SetHeartbeatDetails(time.Now().Add(-2 * ListGrace))
	_, err = late.ExecuteActivity(a.EnsureApplication, in)
	require.NoError(t, err, "after the grace period the retry goes on")
	require.Len(t, srv.Snapshot(tenant).Applications, 2)
}

// A refused instantiate (Graph answered 4xx: nothing created) clears the
// marker, so the retry does not wait for the list; one that may have reached
// Graph keeps it.
func TestEnsureApplicationRefusedInstantiateClearsTheMarker(t *testing.T) {
	a, srv := newActivities(t, graphsim.Options{})
	srv.SetTenantOptions(tenant, graphsim.TenantOptions{MissingPermission: "Application.ReadWrite.OwnedBy"})
	env := activityEnv(a)
	var last time.Time
	beats := 0
	env.SetOnActivityHeartbeatListener(func(_ *activity.Info, d converter.EncodedValues) {
		beats++
		require.NoError(t, d.Get(&last))
	})
	_, err := env.ExecuteActivity(a.EnsureApplication, wf.EnsureApplicationInput{TenantID: tenant, DisplayName: "refused.com", Domain: "refused.com"})
	require.Error(t, err)
	require.Equal(t, 2, beats, "marked before instantiating, cleared after the refusal")
	require.True(t, last.IsZero())
	require.Empty(t, srv.Snapshot(tenant).Applications)
}

// Graph answers 403 and 409 to a new service principal's synchronization
// calls for a while: within SyncSettleWindow of its creation they are
// retryable; on a service principal we found, a 403 is the missing permission.
func TestSyncCallsRetryWhileTheServicePrincipalSettles(t *testing.T) {
	a, _ := newActivities(t, graphsim.Options{SyncSettle: time.Hour})
	a.LagWindow = time.Millisecond // one try per attempt: each attempt meets one answer
	env := activityEnv(a)
	v, err := env.ExecuteActivity(a.EnsureApplication, wf.EnsureApplicationInput{TenantID: tenant, DisplayName: "settle.contoso.com", Domain: "settle.contoso.com"})
	require.NoError(t, err)
	var app wf.ApplicationResult
	require.NoError(t, v.Get(&app))
	require.False(t, app.CreatedAt.IsZero(), "the step says when it created the service principal")
	in := wf.EnsureJobsInput{TenantID: tenant, ServicePrincipalID: app.ServicePrincipalID, Templates: []string{wf.TemplateProvisioning}, SPCreated: app.CreatedAt}
	for range 2 { // 403, then 409
		_, err = env.ExecuteActivity(a.EnsureJobs, in)
		var ae *temporal.ApplicationError
		require.ErrorAs(t, err, &ae)
		require.False(t, ae.NonRetryable(), "settling: retry (%v)", err)
		require.Contains(t, ae.Error(), "refuses its synchronization calls for a few minutes")
	}
	in.SPCreated = time.Time{} // found, not created: a 403 is the missing permission
	_, err = env.ExecuteActivity(a.EnsureJobs, in)
	var ae *temporal.ApplicationError
	require.ErrorAs(t, err, &ae)
	require.True(t, ae.NonRetryable(), "%v", err)
	require.Contains(t, ae.Error(), "Synchronization.ReadWrite.All")
}

// The documented create answer labels a provisioning job "ADDCInPassthrough":
// jobs are recognised by their id too, so a second run finds the job instead
// of creating another.
func TestJobsRecognisedByIDPrefix(t *testing.T) {
	a, sim := newActivities(t, graphsim.Options{})
	env := activityEnv(a)
	v, err := env.ExecuteActivity(a.EnsureApplication, wf.EnsureApplicationInput{TenantID: tenant, DisplayName: "prefix.contoso.com", Domain: "prefix.contoso.com"})
	require.NoError(t, err)
	var app wf.ApplicationResult
	require.NoError(t, v.Get(&app))
	in := wf.EnsureJobsInput{TenantID: tenant, ServicePrincipalID: app.ServicePrincipalID, Templates: []string{wf.TemplateProvisioning}}
	v, err = env.ExecuteActivity(a.EnsureJobs, in)
	require.NoError(t, err)
	var first wf.EnsureJobsResult
	require.NoError(t, v.Get(&first))
	require.Equal(t, wf.TemplateProvisioning, first.Seen.Jobs[0].TemplateID, "the listing handed on names the template, not Graph's label")
	in.Templates = []string{wf.TemplateProvisioning, wf.TemplatePasswordHash}
	in.Seen = first.Seen
	v, err = env.ExecuteActivity(a.EnsureJobs, in)
	require.NoError(t, err)
	var second wf.EnsureJobsResult
	require.NoError(t, v.Get(&second))
	require.Equal(t, first.Jobs[wf.TemplateProvisioning], second.Jobs[wf.TemplateProvisioning])
	for _, v := range sim.Violations() {
		require.NotEqual(t, graphsim.ViolationDuplicateJob, v.Kind, v.Detail)
	}
}

// After writing the secrets, the step reads the provisioning job back and
// says which delete threshold Graph applies.
func TestSecretsConfirmTheEffectiveDeleteThreshold(t *testing.T) {
	a, _ := newActivities(t, graphsim.Options{})
	env := activityEnv(a)
	v, err := env.ExecuteActivity(a.EnsureApplication, wf.EnsureApplicationInput{TenantID: tenant, DisplayName: "threshold.contoso.com", Domain: "threshold.contoso.com"})
	require.NoError(t, err)
	var app wf.ApplicationResult
	require.NoError(t, v.Get(&app))
	v, err = env.ExecuteActivity(a.EnsureJobs, wf.EnsureJobsInput{TenantID: tenant, ServicePrincipalID: app.ServicePrincipalID, Templates: []string{wf.TemplateProvisioning}})
	require.NoError(t, err)
	var jobs wf.EnsureJobsResult
	require.NoError(t, v.Get(&jobs))
	fifty := 50
	v, err = env.ExecuteActivity(a.ApplySecrets, wf.SecretsInput{TenantID: tenant, ServicePrincipalID: app.ServicePrincipalID, Domain: "threshold.contoso.com",
		DeleteThreshold: wf.DeleteThreshold{Value: &fifty}, ProvisioningJobID: jobs.Jobs[wf.TemplateProvisioning]})
	require.NoError(t, err)
	var rep wf.StepReport
	require.NoError(t, v.Get(&rep))
	require.Contains(t, rep.Detail, "effective delete threshold 50 confirmed on the provisioning job")
}

// Expected conditions (Graph's replication lag, a 429 to wait out) are benign
// application errors: the SDK logs them at debug and does not count them as
// failed activities, so real failures are not buried. The others are not.
func TestExpectedConditionsAreBenign(t *testing.T) {
	cat := func(err error) temporal.ApplicationErrorCategory {
		var ae *temporal.ApplicationError
		require.ErrorAs(t, err, &ae)
		return ae.Category()
	}
	benignCat := temporal.ApplicationErrorCategoryBenign
	require.Equal(t, benignCat, cat(toTemporal(&graph.Error{Op: "get job", Kind: graph.KindNotFound, Status: 404}, true)), "a fresh object's 404 is the lag")
	require.Equal(t, benignCat, cat(toTemporal(&graph.Error{Op: "list jobs", Kind: graph.KindThrottled, Status: 429, RetryAfter: time.Second}, false)))
	require.NotEqual(t, benignCat, cat(toTemporal(&graph.Error{Op: "get job", Kind: graph.KindNotFound, Status: 404}, false)))
	require.NotEqual(t, benignCat, cat(toTemporal(&graph.Error{Op: "create job", Kind: graph.KindForbidden, Status: 403}, false)))
	require.NotEqual(t, benignCat, cat(toTemporal(&graph.Error{Op: "discover", Kind: graph.KindUnavailable, Status: 500}, false)))

	// The service principal not visible yet (replication lag) is benign too.
	a, _ := newActivities(t, graphsim.Options{ReplicationLag: time.Hour})
	a.LagWindow = time.Millisecond
	env := activityEnv(a)
	v, err := env.ExecuteActivity(a.EnsureApplication, wf.EnsureApplicationInput{TenantID: tenant, DisplayName: "lag.contoso.com", Domain: "lag.contoso.com"})
	require.NoError(t, err)
	var app wf.ApplicationResult
	require.NoError(t, v.Get(&app))
	_, err = activityEnv(a).ExecuteActivity(a.WaitForServicePrincipal, wf.ServicePrincipalInput{TenantID: tenant, ServicePrincipalID: app.ServicePrincipalID})
	var ae *temporal.ApplicationError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, wf.ErrServicePrincipalNotVisible, ae.Type())
	require.Equal(t, benignCat, ae.Category())
}
