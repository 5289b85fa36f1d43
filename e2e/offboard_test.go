package e2e

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enums "go.temporal.io/api/enums/v1"

	"github.com/cloudsync/cloudsync/graphsim"
	"github.com/cloudsync/cloudsync/workflows"
)

// deleteJobRoute is the first delete an offboarding sends.
var deleteJobRoute = writeRoute{"delete job", "DELETE", regexp.MustCompile(`^/beta/servicePrincipals/[^/]+/synchronization/jobs/[^/]+$`)}

// offboardingCase onboards two domains of one tenant and returns the
// inventory of the first, as graphsim holds it.
func onboardTwo(t *testing.T, ctx context.Context, e *env, tenant, domain, other string) (workflows.OnboardResult, workflows.OnboardResult) {
	t.Helper()
	res, err := e.onboard(ctx, workflows.OnboardInput{Spec: fullSpec(tenant, domain, 50)})
	require.NoError(t, err)
	kept, err := e.onboard(ctx, workflows.OnboardInput{Spec: workflows.TenantSpec{TenantID: tenant, Domain: other}})
	require.NoError(t, err)
	require.Len(t, e.sim.Snapshot(tenant).ServicePrincipals, 2)
	return res, kept
}

// requireOffboarded checks graphsim after an offboarding of res: none of its
// jobs, service principal or application (soft-deleted), the other
// configuration and the tenant's sync flag untouched, no violation.
func requireOffboarded(t *testing.T, e *env, res, kept workflows.OnboardResult) {
	t.Helper()
	st := e.sim.Snapshot(res.TenantID)
	require.True(t, st.OnPremisesSyncEnabled, "the tenant-wide sync flag stays on")
	require.Len(t, st.ServicePrincipals, 1)
	require.Equal(t, kept.ServicePrincipalID, st.ServicePrincipals[0].ID, "the other domain's configuration stays")
	require.Len(t, st.Applications, 1)
	require.Equal(t, kept.AppID, st.Applications[0].AppID)
	for _, j := range st.Jobs {
		require.Equal(t, kept.ServicePrincipalID, j.ServicePrincipalID, "job %s of the offboarded configuration is left", j.ID)
	}
	gone := map[string]bool{}
	for _, d := range st.DeletedItems {
		gone[d.Type+"/"+d.ID] = true
	}
	require.True(t, gone["servicePrincipal/"+res.ServicePrincipalID], "soft-deleted: %v", st.DeletedItems)
	require.True(t, gone["application/"+res.ApplicationObjectID], "soft-deleted: %v", st.DeletedItems)
	for _, v := range e.sim.Violations() {
		require.NotEqual(t, st.TenantID, v.Tenant, "violation: %+v", v)
	}
	// The watchers of the removed jobs ended, recorded with who and why; the
	// other domain's still watch.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, job := range res.Jobs {
		id := workflows.WatchWorkflowID(res.TenantID, job)
		var ws workflows.WatchState
		require.NoError(t, e.client.GetWorkflow(ctx, id, "").Get(ctx, &ws), "watcher %s", id)
		require.Equal(t, workflows.PhaseEnded, ws.Phase)
		require.Contains(t, ws.Outcome, "unwatched by alice@contoso.com: offboarding of "+res.Domain+" approved")
	}
	for _, job := range kept.Jobs {
		d, err := e.client.DescribeWorkflow(ctx, workflows.WatchWorkflowID(kept.TenantID, job), "")
		require.NoError(t, err)
		require.Equal(t, enums.WORKFLOW_EXECUTION_STATUS_RUNNING, d.Status)
	}
}

// Offboarding on the real parts: the starter starts it, it publishes what it
// will remove and waits (nothing is deleted meanwhile); approved, it stops the
// watchers and deletes the jobs, the service principal and the application,
// in that order, and leaves the tenant's sync flag and its other domain alone.
func TestOffboardWaitsForApprovalThenRemovesTheConfiguration(t *testing.T) {
	e := setup(t)
	t.Parallel()
	tenant := tenantN(0x0ffb0a00, 1)
	const domain, other = "offboard.contoso.com", "stays.contoso.com"
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	res, kept := onboardTwo(t, ctx, e, tenant, domain, other)
	require.Len(t, res.Jobs, 3)

	out, errOut, code := e.starter(t, "offboard", "--tenant-id", tenant, "--domain", domain)
	require.Equal(t, 0, code, "%s%s", out, errOut)
	require.Contains(t, out, "awaiting-offboard-approval")
	for _, job := range res.Jobs {
		require.Contains(t, out, "sync job "+job)
	}
	require.Contains(t, out, "service principal "+res.ServicePrincipalID)
	require.Contains(t, out, "application "+res.ApplicationObjectID)
	require.Contains(t, out, "approve with:  starter offboard --tenant-id "+tenant+" --domain "+domain+" --approve")

	// It waits: published, awaiting, nothing deleted.
	id := workflows.OffboardWorkflowID(tenant, domain)
	d, err := e.client.DescribeWorkflow(ctx, id, "")
	require.NoError(t, err)
	require.Equal(t, enums.WORKFLOW_EXECUTION_STATUS_RUNNING, d.Status)
	awaiting, _ := d.TypedSearchAttributes.GetBool(workflows.SearchAwaitingApproval)
	require.True(t, awaiting)
	for _, r := range e.sim.RequestLog() {
		require.False(t, r.Tenant == tenant && r.Method == "DELETE", "deleted before the approval: %s", r.Route)
	}
	// A second offboarding of the pair is refused: the starter shows this one.
	out, errOut, code = e.starter(t, "offboard", "--tenant-id", tenant, "--domain", domain)
	require.Equal(t, 0, code, "%s%s", out, errOut)
	require.Contains(t, out, "already running: showing it")

	out, errOut, code = e.starter(t, "offboard", "--tenant-id", tenant, "--domain", domain,
		"--approve", "--approver", "alice@contoso.com", "--reason", "domain retired", "--wait")
	require.Equal(t, 0, code, "%s%s", out, errOut)
	require.Contains(t, out, "approved by alice@contoso.com: domain retired")
	require.Contains(t, out, "done: tenant "+tenant+" ("+domain+"): offboarded (approved by alice@contoso.com)")

	requireOffboarded(t, e, res, kept)
	// In order: the jobs, then the service principal, then the application.
	var deletes []string
	for _, r := range e.sim.RequestLog() {
		if r.Tenant == tenant && r.Method == "DELETE" {
			deletes = append(deletes, r.Route)
		}
	}
	require.Equal(t, []string{
		"DELETE /servicePrincipals/{id}/synchronization/jobs/{jobId}", "DELETE /servicePrincipals/{id}/synchronization/jobs/{jobId}",
		"DELETE /servicePrincipals/{id}/synchronization/jobs/{jobId}", "DELETE /servicePrincipals/{id}", "DELETE /applications/{id}",
	}, deletes)

	// The result says what happened, and that the flag was left alone.
	var st workflows.OffboardState
	require.NoError(t, e.client.GetWorkflow(ctx, id, "").Get(ctx, &st))
	require.Equal(t, workflows.PhaseOffboarded, st.Phase)
	require.Equal(t, "alice@contoso.com", st.Decision.Approver)
	require.Equal(t, workflows.SyncFlagNote, st.Steps[len(st.Steps)-1].Detail)
	e.recordHistories(t, id, "offboard-approved")

	// Again: nothing left to remove, and it does not ask. The offboarding
	// ended only once Graph's reads agreed, so a re-run at once finds nothing.
	out, errOut, code = e.starter(t, "offboard", "--tenant-id", tenant, "--domain", domain)
	require.Equal(t, 0, code, "%s%s", out, errOut)
	require.Contains(t, out, "nothing to remove")
}

// A worker killed when the first delete reaches Graph (graphsim deleted the
// job, the worker never learns it) ends the same way once a worker is back:
// the retry finds the job already gone and the rest goes on.
func TestOffboardSurvivesAWorkerCrashDuringTheDeletes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{name: "offboard-crash", ownServer: true, chaos: true, sim: graphsim.Options{
		Seed: 11, ReplicationLag: time.Second, SyncInterval: 200 * time.Millisecond,
	}})
	tenant := tenantN(0x0ffb0a00, 2)
	const domain, other = "crash-offboard.contoso.com", "crash-stays.contoso.com"
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, kept := onboardTwo(t, ctx, e, tenant, domain, other)

	out, errOut, code := e.starter(t, "offboard", "--tenant-id", tenant, "--domain", domain)
	require.Equal(t, 0, code, "%s%s", out, errOut)
	require.Contains(t, out, "awaiting-offboard-approval")

	e.proxy.arm(deleteJobRoute, e.killWorker)
	out, errOut, code = e.starter(t, "offboard", "--tenant-id", tenant, "--domain", domain,
		"--approve", "--approver", "alice@contoso.com", "--reason", "domain retired")
	require.Equal(t, 0, code, "%s%s", out, errOut)
	select {
	case name := <-e.proxy.fired:
		require.Equal(t, deleteJobRoute.name, name)
	case <-ctx.Done():
		t.Fatal("the first delete never reached graphsim")
	}
	require.Len(t, e.sim.Snapshot(tenant).Jobs, len(res.Jobs)+len(kept.Jobs)-1, "graphsim deleted the job; the worker died before it heard")
	require.NoError(t, e.startWorker())

	var st workflows.OffboardState
	require.NoError(t, e.client.GetWorkflow(ctx, workflows.OffboardWorkflowID(tenant, domain), "").Get(ctx, &st))
	require.Equal(t, workflows.PhaseOffboarded, st.Phase)
	var jobs []workflows.StepReport
	for _, s := range st.Steps {
		if s.Step == workflows.StepDeleteJobs {
			jobs = append(jobs, s)
		}
	}
	require.Len(t, jobs, len(res.Jobs))
	require.Equal(t, workflows.OutcomeAlreadyGone, jobs[0].Outcome, "the retry found the job the lost attempt deleted: %+v", jobs)
	requireOffboarded(t, e, res, kept)
}
