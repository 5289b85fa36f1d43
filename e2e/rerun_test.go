package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cloudsync/cloudsync/graphsim"
	"github.com/cloudsync/cloudsync/workflows"
)

// A re-run of a finished onboarding must not start a job Graph quarantined for
// too many deletes (start lifts the quarantine: the deletions would go through
// without a human's approval) nor one an admin paused. It leaves both alone
// and says so.
func TestRerunLeavesQuarantinedAndPausedJobsAlone(t *testing.T) {
	e := setup(t)
	t.Parallel()
	const tenant, domain = "0b7f4c3e-1d2a-4e5f-8a9b-0c1d2e3f4a30", "rerun.contoso.com"
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	in := workflows.OnboardInput{Spec: workflows.TenantSpec{TenantID: tenant, Domain: domain, PasswordHashSync: true,
		DeleteThreshold: workflows.DeleteThreshold{Value: ptr(5)}}, Watch: ptr(false)}
	res, err := e.onboard(ctx, in)
	require.NoError(t, err, "worker:\n%s", e.workerOutput())
	prov, phs := res.Jobs[workflows.TemplateProvisioning], res.Jobs[workflows.TemplatePasswordHash]
	require.NotEmpty(t, prov)
	require.NotEmpty(t, phs)
	require.Empty(t, res.JobsLeftAlone)
	require.Eventually(t, func() bool {
		return e.job(tenant, prov).StatusCode == "Active" && e.job(tenant, phs).StatusCode == "Active"
	}, 20*time.Second, pollEvery, "both jobs running")

	// Deletions at the threshold: Graph quarantines the provisioning job. An
	// admin pauses the password hash job in the portal.
	require.NoError(t, e.sim.StageDeletions(tenant, prov, 5))
	require.Eventually(t, func() bool { return e.job(tenant, prov).StatusCode == "Quarantine" }, 20*time.Second, pollEvery, "the provisioning job quarantined")
	quarantined := e.job(tenant, prov)
	require.Equal(t, "TooManyDeletes", quarantined.QuarantineReason)
	require.False(t, quarantined.QuarantineSeriesBegan.IsZero())
	require.NoError(t, e.sim.PauseJob(tenant, phs))

	// The same onboarding again.
	before := len(e.sim.RequestLog())
	again, err := e.onboard(ctx, in)
	require.NoError(t, err, "worker:\n%s", e.workerOutput())
	require.Equal(t, res.Jobs, again.Jobs)
	waitTicks(t, e.sim, 5) // a lifted quarantine would show in a new series by then

	for _, r := range e.sim.RequestLog()[before:] {
		if r.Tenant == tenant && strings.HasSuffix(r.Route, "/start") {
			t.Errorf("the re-run started a job: %s %s", r.Method, r.Path)
		}
	}
	after := e.job(tenant, prov)
	require.Equal(t, "Quarantine", after.StatusCode)
	require.Equal(t, "TooManyDeletes", after.QuarantineReason)
	require.True(t, quarantined.QuarantineSeriesBegan.Equal(after.QuarantineSeriesBegan), "the same quarantine episode: %s then %s",
		quarantined.QuarantineSeriesBegan, after.QuarantineSeriesBegan)
	require.Equal(t, quarantined.PendingDeletions, after.PendingDeletions)
	require.Equal(t, quarantined.AppliedDeletions, after.AppliedDeletions)
	paused := e.job(tenant, phs)
	require.Equal(t, "Paused", paused.ScheduleState)
	require.Equal(t, "Paused", paused.StatusCode)

	// Said in the result and in the step's detail (what starter status prints).
	require.Len(t, again.JobsLeftAlone, 2, "%v", again.JobsLeftAlone)
	require.Contains(t, again.JobsLeftAlone[prov], "quarantined (TooManyDeletes): left alone")
	require.Contains(t, again.JobsLeftAlone[prov], "starter approve/reject")
	require.Equal(t, "paused by an admin: left alone", again.JobsLeftAlone[phs])
	var step workflows.StepReport
	for _, s := range again.Steps {
		if s.Step == workflows.StepStartJobs {
			step = s
		}
	}
	require.Equal(t, workflows.OutcomeUnchanged, step.Outcome)
	require.Contains(t, step.Detail, prov+" quarantined (TooManyDeletes): left alone")
	require.Contains(t, step.Detail, phs+" paused by an admin: left alone")
	out, errOut, code := e.starter(t, "status", "--tenant-id", tenant, "--domain", domain)
	require.Equal(t, 0, code, "status:\n%s\n%s", out, errOut)
	require.Contains(t, out, "left alone", "status:\n%s", out)

	for _, v := range e.sim.Violations() {
		if v.Tenant == tenant {
			t.Errorf("graphsim violation: %+v", v)
		}
	}
	require.Empty(t, violationsOf(e.sim, tenant, graphsim.ViolationStartLiftedQuarantine))
}

func violationsOf(sim *graphsim.Server, tenant, kind string) []graphsim.Violation {
	var out []graphsim.Violation
	for _, v := range sim.Violations() {
		if v.Tenant == tenant && v.Kind == kind {
			out = append(out, v)
		}
	}
	return out
}
