package activities

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cloudsync/cloudsync/graphsim"
	wf "github.com/cloudsync/cloudsync/workflows"
)

// The jobs steps trust a listing handed on by the step before only on a first
// attempt, from the same run and while fresh; then they make no listing of
// their own. Anything else lists again (look before write).
func TestJobListingsHandedOn(t *testing.T) {
	a, sim := newActivities(t, graphsim.Options{})
	exec := runner(t, a)
	sp := newSP(exec, a, wf.EnsureApplicationInput{TenantID: tenant, DisplayName: "seen.contoso.com"})
	lists := func() int {
		n := 0
		for _, r := range sim.RequestLog() {
			if r.Route == "GET /servicePrincipals/{id}/synchronization/jobs" {
				n++
			}
		}
		return n
	}

	var first, second, again wf.EnsureJobsResult
	exec(a.EnsureJobs, wf.EnsureJobsInput{TenantID: tenant, ServicePrincipalID: sp, Templates: []string{wf.TemplateProvisioning, wf.TemplatePasswordHash}}, &first)
	require.Equal(t, 1, lists(), "no listing handed on: it lists")
	require.NotNil(t, first.Seen)
	require.NotEmpty(t, first.Seen.RunID)
	require.Len(t, first.Seen.Jobs, 2)

	exec(a.EnsureJobs, wf.EnsureJobsInput{TenantID: tenant, ServicePrincipalID: sp, Templates: []string{wf.TemplateExchangeWriteback}, Seen: first.Seen}, &second)
	require.Equal(t, 1, lists(), "a fresh listing of this run stands in")
	require.Equal(t, wf.OutcomeCreated, second.Report.Outcome)
	require.Len(t, second.Seen.Jobs, 3)

	// A stale listing, or one from another run (a reset), is not trusted: the
	// step looks again and finds the job instead of making a second.
	stale := *first.Seen // it predates the writeback job
	stale.At = time.Now().Add(-wf.MaxJobsSeenAge - time.Minute)
	exec(a.EnsureJobs, wf.EnsureJobsInput{TenantID: tenant, ServicePrincipalID: sp, Templates: []string{wf.TemplateExchangeWriteback}, Seen: &stale}, &again)
	require.Equal(t, 2, lists())
	require.Equal(t, wf.OutcomeUnchanged, again.Report.Outcome)
	other := *first.Seen
	other.RunID = "another-run"
	exec(a.EnsureJobs, wf.EnsureJobsInput{TenantID: tenant, ServicePrincipalID: sp, Templates: []string{wf.TemplateExchangeWriteback}, Seen: &other}, &again)
	require.Equal(t, 3, lists())
	require.Equal(t, wf.OutcomeUnchanged, again.Report.Outcome)

	var ids []string
	for _, j := range second.Seen.Jobs {
		ids = append(ids, j.ID)
	}
	var started, rerun wf.StartJobsResult
	exec(a.StartJobs, wf.StartJobsInput{TenantID: tenant, ServicePrincipalID: sp, JobIDs: ids, Seen: second.Seen}, &started)
	require.Len(t, started.Started, 3)
	require.Equal(t, 3, lists(), "start-jobs used the listing")
	// Without one, it reads the status and starts nothing running.
	exec(a.StartJobs, wf.StartJobsInput{TenantID: tenant, ServicePrincipalID: sp, JobIDs: ids}, &rerun)
	require.Len(t, rerun.AlreadyRunning, 3)
	require.Equal(t, 4, lists())
	require.Empty(t, sim.Violations())
}
