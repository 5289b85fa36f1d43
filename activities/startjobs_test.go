package activities

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cloudsync/cloudsync/graphsim"
	wf "github.com/cloudsync/cloudsync/workflows"
)

// Start-jobs starts only jobs that were never started. A job Graph quarantined
// for too many deletes is left alone (start would lift the quarantine and let
// the deletions through without an approval), and so is a job an admin
// paused; both are reported. A fresh job next to them is started.
func TestStartJobsLeavesQuarantinedAndPausedJobsAlone(t *testing.T) {
	a, sim := newActivities(t, graphsim.Options{SyncInterval: 20 * time.Millisecond})
	exec := runner(t, a)
	sp := newSP(exec, a, wf.EnsureApplicationInput{TenantID: tenant, DisplayName: "start.contoso.com"})
	var jobs wf.EnsureJobsResult
	exec(a.EnsureJobs, wf.EnsureJobsInput{TenantID: tenant, ServicePrincipalID: sp, Templates: []string{wf.TemplateProvisioning, wf.TemplatePasswordHash}}, &jobs)
	prov, phs := jobs.Jobs[wf.TemplateProvisioning], jobs.Jobs[wf.TemplatePasswordHash]
	for _, j := range jobs.Seen.Jobs {
		require.True(t, j.NeverStarted(), "a created job: %+v", j)
	}
	var first wf.StartJobsResult
	exec(a.StartJobs, wf.StartJobsInput{TenantID: tenant, ServicePrincipalID: sp, JobIDs: []string{prov, phs}, Seen: jobs.Seen}, &first)
	require.ElementsMatch(t, []string{prov, phs}, first.Started)
	require.Empty(t, first.LeftAlone)

	// Graph's default threshold is 500: 500 deletions quarantine the job.
	require.NoError(t, sim.StageDeletions(tenant, prov, 500))
	require.Eventually(t, func() bool { return jobState(sim, prov).StatusCode == "Quarantine" }, 5*time.Second, 20*time.Millisecond)
	q := jobState(sim, prov)
	require.Equal(t, "TooManyDeletes", q.QuarantineReason)
	require.NoError(t, sim.PauseJob(tenant, phs))

	// The writeback job is created now: never started, it is started.
	var more wf.EnsureJobsResult
	exec(a.EnsureJobs, wf.EnsureJobsInput{TenantID: tenant, ServicePrincipalID: sp, Templates: []string{wf.TemplateExchangeWriteback}}, &more)
	exch := more.Jobs[wf.TemplateExchangeWriteback]
	before := len(sim.RequestLog())
	ids := []string{prov, phs, exch}

	check := func(res wf.StartJobsResult) {
		t.Helper()
		require.Equal(t, wf.OutcomeChanged, res.Report.Outcome)
		require.Equal(t, []string{exch}, res.Started)
		require.Equal(t, map[string]string{
			prov: "quarantined (TooManyDeletes): left alone; approve or reject it with starter approve/reject",
			phs:  "paused by an admin: left alone",
		}, res.LeftAlone)
		require.Contains(t, res.Report.Detail, "started "+exch)
		require.Contains(t, res.Report.Detail, prov+" quarantined (TooManyDeletes): left alone")
		require.Contains(t, res.Report.Detail, phs+" paused by an admin: left alone")
	}
	// From the listing the jobs step handed on.
	var res wf.StartJobsResult
	exec(a.StartJobs, wf.StartJobsInput{TenantID: tenant, ServicePrincipalID: sp, JobIDs: ids, Seen: more.Seen}, &res)
	check(res)

	// From its own listing: the writeback job now runs, the others are still left alone.
	var rerun wf.StartJobsResult
	exec(a.StartJobs, wf.StartJobsInput{TenantID: tenant, ServicePrincipalID: sp, JobIDs: ids}, &rerun)
	require.Equal(t, wf.OutcomeUnchanged, rerun.Report.Outcome)
	require.Empty(t, rerun.Started)
	require.Equal(t, []string{exch}, rerun.AlreadyRunning)
	require.Equal(t, res.LeftAlone, rerun.LeftAlone)

	// Graph saw one start in all (the writeback job's), and the quarantine is
	// the same episode with its deletions still held.
	var starts []string
	for _, r := range sim.RequestLog()[before:] {
		if strings.HasSuffix(r.Route, "/start") {
			starts = append(starts, r.Path)
		}
	}
	require.Len(t, starts, 1)
	require.Contains(t, starts[0], exch)
	waitTicks(t, sim, 3) // a lifted quarantine would show by then
	after := jobState(sim, prov)
	require.Equal(t, "Quarantine", after.StatusCode)
	require.True(t, q.QuarantineSeriesBegan.Equal(after.QuarantineSeriesBegan))
	require.Equal(t, 500, after.PendingDeletions)
	require.Equal(t, "Paused", jobState(sim, phs).ScheduleState)
	require.Empty(t, sim.Violations())
}

// Other quarantines and jobs started before are left alone too; a listing
// handed on by an older worker (no job status) is not trusted.
func TestStartJobsOtherStates(t *testing.T) {
	a, sim := newActivities(t, graphsim.Options{SyncInterval: time.Hour})
	exec := runner(t, a)
	sp := newSP(exec, a, wf.EnsureApplicationInput{TenantID: tenant, DisplayName: "states.contoso.com"})
	var jobs wf.EnsureJobsResult
	exec(a.EnsureJobs, wf.EnsureJobsInput{TenantID: tenant, ServicePrincipalID: sp, Templates: []string{wf.TemplateProvisioning, wf.TemplatePasswordHash}}, &jobs)
	prov, phs := jobs.Jobs[wf.TemplateProvisioning], jobs.Jobs[wf.TemplatePasswordHash]
	// Quarantined before ever being started (bad agent credentials).
	require.NoError(t, sim.Quarantine(tenant, prov, "EncounteredQuarantineException", "AzureActiveDirectoryInvalidCredential"))

	old := *jobs.Seen
	old.Jobs = nil
	for _, j := range jobs.Seen.Jobs {
		old.Jobs = append(old.Jobs, wf.SeenJob{ID: j.ID, TemplateID: j.TemplateID})
	}
	var res wf.StartJobsResult
	exec(a.StartJobs, wf.StartJobsInput{TenantID: tenant, ServicePrincipalID: sp, JobIDs: []string{prov, phs}, Seen: &old}, &res)
	require.Equal(t, []string{phs}, res.Started)
	require.Equal(t, map[string]string{prov: "quarantined (EncounteredQuarantineException): left alone"}, res.LeftAlone)
	lists := 0
	for _, r := range sim.RequestLog() {
		if r.Route == "GET /servicePrincipals/{id}/synchronization/jobs" {
			lists++
		}
	}
	require.Equal(t, 2, lists, "the old listing was not trusted")

	// A job that ran before and is not running now (neither quarantined nor
	// paused) is not started again by an onboarding either.
	j := wf.SeenJob{ID: "x", ScheduleState: "Disabled", StatusCode: "Paused"}
	require.Equal(t, "started before (schedule Disabled, status Paused): left alone", leaveAlone(j))
	j.NeverRun = true
	require.Empty(t, leaveAlone(j))
	j.ScheduleState = "Active"
	require.Equal(t, "started before (schedule Active, status Paused): left alone", leaveAlone(j))
	require.Empty(t, sim.Violations())
}

func jobState(sim *graphsim.Server, id string) graphsim.JobState {
	for _, j := range sim.Snapshot(tenant).Jobs {
		if j.ID == id {
			return j
		}
	}
	return graphsim.JobState{}
}
