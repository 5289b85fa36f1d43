package activities

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/cloudsync/cloudsync/graphsim"
	wf "github.com/cloudsync/cloudsync/workflows"
)

// configure makes a configuration of domain as onboarding does (application,
// Domain secret, jobs) and returns it as the inventory should find it.
func configure(t *testing.T, a *Activities, env *testsuite.TestActivityEnvironment, domain string, templates ...string) wf.ApplicationResult {
	t.Helper()
	v, err := env.ExecuteActivity(a.EnsureApplication, wf.EnsureApplicationInput{TenantID: tenant, DisplayName: domain, Domain: domain})
	require.NoError(t, err)
	var app wf.ApplicationResult
	require.NoError(t, v.Get(&app))
	_, err = env.ExecuteActivity(a.ApplySecrets, wf.SecretsInput{TenantID: tenant, ServicePrincipalID: app.ServicePrincipalID, Domain: domain})
	require.NoError(t, err)
	_, err = env.ExecuteActivity(a.EnsureJobs, wf.EnsureJobsInput{TenantID: tenant, ServicePrincipalID: app.ServicePrincipalID, Templates: templates})
	require.NoError(t, err)
	return app
}

func inventory(t *testing.T, a *Activities, env *testsuite.TestActivityEnvironment, domain string) wf.Inventory {
	t.Helper()
	v, err := env.ExecuteActivity(a.InventoryConfiguration, wf.InventoryInput{TenantID: tenant, Domain: domain})
	require.NoError(t, err)
	var inv wf.Inventory
	require.NoError(t, v.Get(&inv))
	return inv
}

func report(t *testing.T, env *testsuite.TestActivityEnvironment, fn, in any) (wf.StepReport, error) {
	t.Helper()
	v, err := env.ExecuteActivity(fn, in)
	if err != nil {
		return wf.StepReport{}, err
	}
	var rep wf.StepReport
	require.NoError(t, v.Get(&rep))
	return rep, nil
}

// The inventory finds the configuration by its domain (whatever it is
// called), with its jobs and application, and only reads.
func TestInventoryFindsTheDomainsConfiguration(t *testing.T) {
	a, sim := newActivities(t, graphsim.Options{JobReadLag: -1})
	env := activityEnv(a)
	app := configure(t, a, env, "corp.contoso.com", wf.TemplateProvisioning, wf.TemplatePasswordHash)
	other := configure(t, a, env, "eu.contoso.com", wf.TemplateProvisioning)

	before := len(sim.RequestLog())
	inv := inventory(t, a, env, "Corp.Contoso.com.")
	for _, r := range sim.RequestLog()[before:] {
		require.Equal(t, "GET", r.Method, "the inventory only reads: %s", r.Route)
	}
	st := sim.Snapshot(tenant)
	require.True(t, inv.Found)
	require.Equal(t, app.ServicePrincipalID, inv.ServicePrincipalID)
	require.Equal(t, app.AppID, inv.AppID)
	require.Equal(t, app.ApplicationObjectID, inv.ApplicationObjectID)
	require.Equal(t, "corp.contoso.com", inv.DisplayName)
	require.Len(t, inv.Jobs, 2)
	templates := map[string]bool{}
	for _, j := range inv.Jobs {
		templates[j.TemplateID] = true
		require.Equal(t, "Disabled", j.ScheduleState)
	}
	require.Equal(t, map[string]bool{wf.TemplateProvisioning: true, wf.TemplatePasswordHash: true}, templates)
	require.Len(t, st.Jobs, 3)
	require.NotEqual(t, other.ServicePrincipalID, inv.ServicePrincipalID)

	require.False(t, inventory(t, a, env, "nowhere.contoso.com").Found, "nothing syncs that domain")
}

// Each delete is idempotent: 204 is "deleted", a 404 (a retry, or someone
// else deleted it) is "already gone". Afterwards nothing of the configuration
// is left, and the other domain's is untouched.
func TestOffboardDeletesAreIdempotent(t *testing.T) {
	a, sim := newActivities(t, graphsim.Options{JobReadLag: -1})
	env := activityEnv(a)
	configure(t, a, env, "corp.contoso.com", wf.TemplateProvisioning, wf.TemplatePasswordHash)
	other := configure(t, a, env, "eu.contoso.com", wf.TemplateProvisioning)
	inv := inventory(t, a, env, "corp.contoso.com")
	obj := wf.DeleteObjectInput{TenantID: tenant, Domain: "corp.contoso.com", ServicePrincipalID: inv.ServicePrincipalID, AppID: inv.AppID, ApplicationObjectID: inv.ApplicationObjectID}

	for _, j := range inv.Jobs {
		in := wf.DeleteJobInput{TenantID: tenant, Domain: "corp.contoso.com", ServicePrincipalID: inv.ServicePrincipalID, JobID: j.ID}
		rep, err := report(t, env, a.DeleteSyncJob, in)
		require.NoError(t, err)
		require.Equal(t, wf.OutcomeDeleted, rep.Outcome, rep.Detail)
		require.Equal(t, wf.StepDeleteJobs, rep.Step)
		rep, err = report(t, env, a.DeleteSyncJob, in)
		require.NoError(t, err)
		require.Equal(t, wf.OutcomeAlreadyGone, rep.Outcome, "a retry after the delete")
	}
	for _, del := range []any{a.DeleteServicePrincipal, a.DeleteApplication} {
		rep, err := report(t, env, del, obj)
		require.NoError(t, err)
		require.Equal(t, wf.OutcomeDeleted, rep.Outcome, rep.Detail)
		rep, err = report(t, env, del, obj)
		require.NoError(t, err)
		require.Equal(t, wf.OutcomeAlreadyGone, rep.Outcome, rep.Detail)
	}
	// Re-run after a crash: every step again finds nothing to do.
	rep, err := report(t, env, a.DeleteSyncJob, wf.DeleteJobInput{TenantID: tenant, Domain: "corp.contoso.com", ServicePrincipalID: inv.ServicePrincipalID, JobID: inv.Jobs[0].ID})
	require.NoError(t, err)
	require.Equal(t, wf.OutcomeAlreadyGone, rep.Outcome)

	st := sim.Snapshot(tenant)
	require.Len(t, st.ServicePrincipals, 1)
	require.Equal(t, other.ServicePrincipalID, st.ServicePrincipals[0].ID, "the other domain's configuration stays")
	require.Len(t, st.Applications, 1)
	require.Len(t, st.Jobs, 1)
	require.Len(t, st.DeletedItems, 2, "the application and the service principal, soft-deleted")
	require.Empty(t, sim.Violations())
	require.Eventually(t, func() bool { return !inventory(t, a, env, "corp.contoso.com").Found }, 10*time.Second, 200*time.Millisecond,
		"once Graph's reads catch up, nothing is left to find")
}

// Deleting the application first (an operator did, or a crash between two
// steps of a run that deleted it) leaves nothing for the other steps: all
// "already gone", whatever Graph's reads still show for a moment (the delete
// lag is on, as in Graph).
func TestOffboardAfterTheApplicationWentIsAlreadyGone(t *testing.T) {
	a, sim := newActivities(t, graphsim.Options{JobReadLag: -1, DeleteLag: 5 * time.Second})
	env := activityEnv(a)
	configure(t, a, env, "corp.contoso.com", wf.TemplateProvisioning)
	inv := inventory(t, a, env, "corp.contoso.com")
	obj := wf.DeleteObjectInput{TenantID: tenant, Domain: "corp.contoso.com", ServicePrincipalID: inv.ServicePrincipalID, AppID: inv.AppID, ApplicationObjectID: inv.ApplicationObjectID}
	rep, err := report(t, env, a.DeleteApplication, obj)
	require.NoError(t, err)
	require.Equal(t, wf.OutcomeDeleted, rep.Outcome)

	// Reads still show the service principal and its job (the lag)...
	require.True(t, inventory(t, a, env, "corp.contoso.com").Found, "Graph's reads lag behind a delete")
	// ...but every delete is answered 404: already gone, nothing else touched.
	rep, err = report(t, env, a.DeleteSyncJob, wf.DeleteJobInput{TenantID: tenant, Domain: "corp.contoso.com", ServicePrincipalID: inv.ServicePrincipalID, JobID: inv.Jobs[0].ID})
	require.NoError(t, err)
	require.Equal(t, wf.OutcomeAlreadyGone, rep.Outcome)
	for _, del := range []any{a.DeleteServicePrincipal, a.DeleteApplication} {
		rep, err := report(t, env, del, obj)
		require.NoError(t, err)
		require.Equal(t, wf.OutcomeAlreadyGone, rep.Outcome, rep.Detail)
	}
	st := sim.Snapshot(tenant)
	require.Empty(t, st.ServicePrincipals)
	require.Empty(t, st.Applications)
	require.Empty(t, sim.Violations())
}

// A service principal re-configured for another domain since the inventory
// is never deleted, nor its jobs, nor its application: the delete is refused
// (not retried) and says why.
func TestOffboardRefusesWhatNoLongerSyncsTheDomain(t *testing.T) {
	a, sim := newActivities(t, graphsim.Options{JobReadLag: -1})
	env := activityEnv(a)
	configure(t, a, env, "corp.contoso.com", wf.TemplateProvisioning)
	inv := inventory(t, a, env, "corp.contoso.com")
	// Someone points it at another domain.
	_, err := env.ExecuteActivity(a.ApplySecrets, wf.SecretsInput{TenantID: tenant, ServicePrincipalID: inv.ServicePrincipalID, Domain: "eu.contoso.com"})
	require.NoError(t, err)

	obj := wf.DeleteObjectInput{TenantID: tenant, Domain: "corp.contoso.com", ServicePrincipalID: inv.ServicePrincipalID, AppID: inv.AppID, ApplicationObjectID: inv.ApplicationObjectID}
	for _, call := range []struct {
		fn any
		in any
	}{
		{a.DeleteSyncJob, wf.DeleteJobInput{TenantID: tenant, Domain: "corp.contoso.com", ServicePrincipalID: inv.ServicePrincipalID, JobID: inv.Jobs[0].ID}},
		{a.DeleteServicePrincipal, obj},
		{a.DeleteApplication, obj},
	} {
		_, err := report(t, env, call.fn, call.in)
		var ae *temporal.ApplicationError
		require.ErrorAs(t, err, &ae)
		require.Equal(t, wf.ErrNotThisConfiguration, ae.Type())
		require.True(t, ae.NonRetryable())
		require.Contains(t, ae.Message(), "no longer syncs corp.contoso.com (its Domain secret names eu.contoso.com)")
	}
	st := sim.Snapshot(tenant)
	require.Len(t, st.ServicePrincipals, 1)
	require.Len(t, st.Applications, 1)
	require.Len(t, st.Jobs, 1)
}

// After the configuration was deleted and made again (new ids), the old
// inventory's deletes touch nothing of the new one.
func TestOffboardNeverDeletesARecreatedConfiguration(t *testing.T) {
	a, sim := newActivities(t, graphsim.Options{JobReadLag: -1, DeleteLag: -1})
	env := activityEnv(a)
	configure(t, a, env, "corp.contoso.com", wf.TemplateProvisioning)
	old := inventory(t, a, env, "corp.contoso.com")
	obj := wf.DeleteObjectInput{TenantID: tenant, Domain: "corp.contoso.com", ServicePrincipalID: old.ServicePrincipalID, AppID: old.AppID, ApplicationObjectID: old.ApplicationObjectID}
	_, err := report(t, env, a.DeleteApplication, obj)
	require.NoError(t, err)
	fresh := configure(t, a, env, "corp.contoso.com", wf.TemplateProvisioning)
	require.NotEqual(t, old.ServicePrincipalID, fresh.ServicePrincipalID)

	rep, err := report(t, env, a.DeleteSyncJob, wf.DeleteJobInput{TenantID: tenant, Domain: "corp.contoso.com", ServicePrincipalID: old.ServicePrincipalID, JobID: old.Jobs[0].ID})
	require.NoError(t, err)
	require.Equal(t, wf.OutcomeAlreadyGone, rep.Outcome)
	for _, del := range []any{a.DeleteServicePrincipal, a.DeleteApplication} {
		rep, err := report(t, env, del, obj)
		require.NoError(t, err)
		require.Equal(t, wf.OutcomeAlreadyGone, rep.Outcome)
	}
	st := sim.Snapshot(tenant)
	require.Len(t, st.ServicePrincipals, 1)
	require.Equal(t, fresh.ServicePrincipalID, st.ServicePrincipals[0].ID)
	require.Len(t, st.Jobs, 1)
}

// An offboarding is done when Graph's reads agree: while they still show the
// deleted service principal (the delete lag), ConfirmRemoved asks to be
// retried (benign: no error log); once they catch up it confirms. A new
// configuration of the domain does not hold it up.
func TestConfirmRemovedWaitsForGraphsReads(t *testing.T) {
	defer func(g time.Duration) { confirmGap = g }(confirmGap)
	confirmGap = 10 * time.Millisecond
	a, _ := newActivities(t, graphsim.Options{JobReadLag: -1, DeleteLag: 3 * time.Second})
	env := activityEnv(a)
	configure(t, a, env, "corp.contoso.com", wf.TemplateProvisioning)
	inv := inventory(t, a, env, "corp.contoso.com")
	obj := wf.DeleteObjectInput{TenantID: tenant, Domain: "corp.contoso.com", ServicePrincipalID: inv.ServicePrincipalID, AppID: inv.AppID, ApplicationObjectID: inv.ApplicationObjectID}
	_, err := report(t, env, a.DeleteApplication, obj)
	require.NoError(t, err)
	in := wf.ConfirmRemovedInput{TenantID: tenant, Domain: "corp.contoso.com", ServicePrincipalID: inv.ServicePrincipalID, AppID: inv.AppID}

	_, err = report(t, env, a.ConfirmRemoved, in)
	var ae *temporal.ApplicationError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, wf.ErrStillVisible, ae.Type())
	require.False(t, ae.NonRetryable())
	require.Equal(t, temporal.ApplicationErrorCategoryBenign, ae.Category())

	require.Eventually(t, func() bool {
		rep, err := report(t, env, a.ConfirmRemoved, in)
		return err == nil && rep.Outcome == wf.OutcomeUnchanged
	}, 15*time.Second, 300*time.Millisecond)

	// Made again afterwards: another service principal, not the one deleted.
	again := configure(t, a, env, "corp.contoso.com", wf.TemplateProvisioning)
	require.NotEqual(t, inv.ServicePrincipalID, again.ServicePrincipalID)
	rep, err := report(t, env, a.ConfirmRemoved, in)
	require.NoError(t, err)
	require.Equal(t, wf.OutcomeUnchanged, rep.Outcome)
}

// fakeControl stands in for the worker's Temporal client.
type fakeControl struct {
	mu        sync.Mutex
	running   map[string]bool // watcher workflow ids running
	updates   []client.UpdateWorkflowOptions
	cancelled []string
	drift     bool // the drift check runs
}

func (f *fakeControl) UpdateWorkflow(_ context.Context, o client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.updates = append(f.updates, o)
	if !f.running[o.WorkflowID] {
		return nil, serviceerror.NewNotFound("workflow execution already completed")
	}
	delete(f.running, o.WorkflowID)
	return fakeHandle{}, nil
}

func (f *fakeControl) CancelWorkflow(_ context.Context, id, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cancelled = append(f.cancelled, id)
	if !f.drift {
		return serviceerror.NewNotFound("workflow not found")
	}
	f.drift = false
	return nil
}

type fakeHandle struct{}

func (fakeHandle) WorkflowID() string             { return "" }
func (fakeHandle) RunID() string                  { return "" }
func (fakeHandle) UpdateID() string               { return "" }
func (fakeHandle) Get(context.Context, any) error { return nil }

// Stopping watches ends each running watcher with the unwatch update (who and
// why), accepts one that is not running, and cancels the drift check if
// there is one; again, it finds nothing left to stop.
func TestStopWatching(t *testing.T) {
	f := &fakeControl{running: map[string]bool{wf.WatchWorkflowID(tenant, "job-a"): true}, drift: true}
	a := &Activities{Control: f}
	env := activityEnv(a)
	in := wf.StopWatchingInput{TenantID: tenant, Domain: "corp.contoso.com", JobIDs: []string{"job-a", "job-b"}, By: "alice@contoso.com", Reason: "offboarding approved: retired"}
	rep, err := report(t, env, a.StopWatching, in)
	require.NoError(t, err)
	require.Equal(t, wf.OutcomeChanged, rep.Outcome)
	require.Equal(t, "ended the watchers of job-a; no watcher running for job-b; drift check cancelled", rep.Detail)
	require.Len(t, f.updates, 2)
	u := f.updates[0]
	require.Equal(t, wf.UnwatchUpdate, u.UpdateName)
	require.Equal(t, []any{wf.UnwatchRequest{By: "alice@contoso.com", Reason: "offboarding approved: retired"}}, u.Args)
	require.Equal(t, client.WorkflowUpdateStageCompleted, u.WaitForStage)
	require.Equal(t, []string{wf.DriftWorkflowID(tenant, "corp.contoso.com")}, f.cancelled)

	rep, err = report(t, env, a.StopWatching, in)
	require.NoError(t, err)
	require.Equal(t, wf.OutcomeUnchanged, rep.Outcome)
	require.Equal(t, "no watcher running for job-a, job-b; no drift check running", rep.Detail)

	_, err = report(t, activityEnv(&Activities{}), (&Activities{}).StopWatching, in)
	require.ErrorContains(t, err, "no Temporal client")
}
