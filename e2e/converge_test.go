package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cloudsync/cloudsync/graphsim"
	"github.com/cloudsync/cloudsync/workflows"
)

// A re-run with a changed spec makes Graph match it, one change at a time,
// and says what changed; nothing is ever deleted, jobs of features turned off
// are paused and stay paused, and password hash sync turned back on gets its
// mapping and its running job back.
func TestConvergeChangedSpec(t *testing.T) {
	e := setup(t)
	t.Parallel()
	const tenant, domain = "0b7f4c3e-1d2a-4e5f-8a9b-0c1d2e3f4a40", "converge.contoso.com"
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()

	spec := fullSpec(tenant, domain, 50)
	res, err := e.onboard(ctx, workflows.OnboardInput{Spec: spec, Watch: ptr(false)})
	require.NoError(t, err, "worker:\n%s", e.workerOutput())
	requireOnboarded(t, e.sim, spec, false)
	sp := res.ServicePrincipalID
	prov, phs, exch := res.Jobs[workflows.TemplateProvisioning], res.Jobs[workflows.TemplatePasswordHash], res.Jobs[workflows.TemplateExchangeWriteback]
	require.NotEmpty(t, exch)
	original := graphsim.InitialProvisioningSchema(sp, prov)
	require.Eventually(t, func() bool {
		return e.job(tenant, prov).StatusCode == "Active" && e.job(tenant, phs).StatusCode == "Active" && e.job(tenant, exch).StatusCode == "Active"
	}, 20*time.Second, pollEvery, "all jobs running")

	// rerun runs the spec again and returns the result and what it cost.
	rerun := func(what string, s workflows.TenantSpec) (workflows.OnboardResult, requestCount) {
		t.Helper()
		before := len(e.sim.RequestLog())
		r, err := e.onboard(ctx, workflows.OnboardInput{Spec: s, Watch: ptr(false)})
		require.NoError(t, err, "%s: worker:\n%s", what, e.workerOutput())
		c := e.requests(tenant, domain, before)
		t.Logf("%s: %d Graph requests (%d writes): %v", what, c.total, c.writes, c.byRoute)
		for _, st := range r.Steps {
			t.Logf("  %s: %s %s", st.Step, st.Outcome, st.Detail)
		}
		e.requireNoViolations(t, tenant)
		require.Len(t, e.sim.Snapshot(tenant).Jobs, 3, "%s: no job is ever deleted", what)
		return r, c
	}
	step := func(r workflows.OnboardResult, name string) workflows.StepReport {
		t.Helper()
		for _, s := range r.Steps {
			if s.Step == name {
				return s
			}
		}
		t.Fatalf("no step %s in %+v", name, r.Steps)
		return workflows.StepReport{}
	}
	requireChanged := func(r workflows.OnboardResult, name, detail string) {
		t.Helper()
		require.True(t, r.Changed)
		s := step(r, name)
		require.Equal(t, workflows.OutcomeChanged, s.Outcome, "%s: %s", name, s.Detail)
		require.Contains(t, s.Detail, detail)
	}

	// The delete threshold.
	spec.DeleteThreshold.Value = ptr(25)
	r, c := rerun("threshold 50 → 25", spec)
	requireChanged(r, workflows.StepSecrets, "changed: delete threshold 50 → 25")
	require.Contains(t, step(r, workflows.StepSecrets).Detail, "effective delete threshold 25 confirmed")
	require.Equal(t, 1, c.writes)
	requireOnboarded(t, e.sim, spec, false)

	// The recipients.
	spec.Notifications.Recipients = []string{"ops@" + domain}
	r, c = rerun("recipients", spec)
	requireChanged(r, workflows.StepSecrets, "changed: recipients admin@"+domain+" → ops@"+domain)
	require.Equal(t, 1, c.writes)
	requireOnboarded(t, e.sim, spec, false)

	// Notifications off.
	spec.Notifications = workflows.Notifications{Enabled: false}
	r, c = rerun("notifications off", spec)
	requireChanged(r, workflows.StepSecrets, "changed: notifications on → off, recipients ops@"+domain+" → none")
	require.Equal(t, 1, c.writes)
	requireOnboarded(t, e.sim, spec, false)

	// Password hash sync off: the PHS job paused, CredentialData gone with every
	// other schema byte kept, the AppKey scenario back to sync only.
	spec.PasswordHashSync = false
	r, c = rerun("password hash sync off", spec)
	requireChanged(r, workflows.StepPauseJobs, "changed: paused "+phs+" (password hash sync turned off)")
	requireChanged(r, workflows.StepSchema, "changed: removed CredentialData from ")
	require.Equal(t, 3, c.writes, "secrets, pause, schema: %v", c.byRoute)
	st := e.sim.Snapshot(tenant)
	require.Equal(t, string(original), string(st.Schemas[prov]), "the schema as the job was created: only CredentialData removed")
	require.JSONEq(t, `{"appKeyScenario":"AD2AADProvisioning"}`, st.Secrets[sp]["AppKey"])
	require.Equal(t, "Paused", e.job(tenant, phs).ScheduleState)
	require.Equal(t, "Active", e.job(tenant, prov).ScheduleState)
	require.NotContains(t, r.Jobs, workflows.TemplatePasswordHash)

	// Exchange writeback off: its job paused; the PHS job stays paused.
	spec.ExchangeHybridWriteback = false
	r, c = rerun("Exchange writeback off", spec)
	requireChanged(r, workflows.StepPauseJobs, "changed: paused "+exch+" (Exchange hybrid writeback turned off)")
	require.Contains(t, step(r, workflows.StepPauseJobs).Detail, phs+" already stopped")
	require.Equal(t, workflows.OutcomeUnchanged, step(r, workflows.StepSchema).Outcome)
	require.Equal(t, workflows.OutcomeSkipped, step(r, workflows.StepExchange).Outcome)
	require.Equal(t, 2, c.writes, "secrets, pause: %v", c.byRoute)
	require.Equal(t, "Paused", e.job(tenant, exch).ScheduleState)
	require.Equal(t, "Paused", e.job(tenant, phs).ScheduleState)

	// The same spec again: nothing changes, both jobs stay paused.
	r, c = rerun("no change (PHS and Exchange off)", spec)
	require.False(t, r.Changed, "%+v", r.Steps)
	require.Equal(t, 1, c.writes, "%v", c.byRoute)
	require.Equal(t, "Paused", e.job(tenant, exch).ScheduleState)
	require.Equal(t, "Paused", e.job(tenant, phs).ScheduleState)
	require.Equal(t, string(original), string(e.sim.Snapshot(tenant).Schemas[prov]))

	// Password hash sync on again: the mapping back, the PHS job running again.
	spec.PasswordHashSync = true
	r, c = rerun("password hash sync back on", spec)
	requireChanged(r, workflows.StepSchema, "added CredentialData")
	requireChanged(r, workflows.StepStartJobs, "resumed "+phs+": the spec asks for password hash sync")
	require.Equal(t, phs, r.Jobs[workflows.TemplatePasswordHash], "the same job, not a new one")
	st = e.sim.Snapshot(tenant)
	requireOnlyCredentialDataAdded(t, original, st.Schemas[prov])
	require.JSONEq(t, `{"appKeyScenario":"AD2AADPasswordHash"}`, st.Secrets[sp]["AppKey"])
	require.Eventually(t, func() bool {
		j := e.job(tenant, phs)
		return j.ScheduleState == "Active" && j.StatusCode == "Active"
	}, 20*time.Second, pollEvery, "the PHS job running again")
	require.Equal(t, "Paused", e.job(tenant, exch).ScheduleState, "Exchange writeback is still off")

	// And once more: the PHS job is running, nothing to resume or change.
	r, _ = rerun("no change (PHS on, Exchange off)", spec)
	require.False(t, r.Changed, "%+v", r.Steps)
}
