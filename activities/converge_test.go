package activities

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cloudsync/cloudsync/graphsim"
	wf "github.com/cloudsync/cloudsync/workflows"
)

// writes counts the non-GET requests logged since index from.
func writes(sim *graphsim.Server, from int) []string {
	var out []string
	for _, r := range sim.RequestLog()[from:] {
		if r.Method != "GET" {
			out = append(out, r.Route)
		}
	}
	return out
}

// Password hash sync on, then off: the PHS job is paused (not deleted), the
// CredentialData mappings leave the provisioning schema with every other byte
// kept, and the AppKey scenario goes back to sync only. Again: nothing is
// written. On again: the mapping comes back and start-jobs, told the feature
// was restored, resumes the paused job.
func TestPasswordHashOffPausesItsJobAndRemovesTheMapping(t *testing.T) {
	a, sim := newActivities(t, graphsim.Options{})
	exec := runner(t, a)
	sp := newSP(exec, a, wf.EnsureApplicationInput{TenantID: tenant, DisplayName: "phs.contoso.com", Domain: "phs.contoso.com"})
	secrets := wf.SecretsInput{TenantID: tenant, ServicePrincipalID: sp, Domain: "phs.contoso.com", PasswordHashSync: true}
	var rep wf.StepReport
	exec(a.ApplySecrets, secrets, &rep)
	var jobs wf.EnsureJobsResult
	exec(a.EnsureJobs, wf.EnsureJobsInput{TenantID: tenant, ServicePrincipalID: sp, Templates: []string{wf.TemplateProvisioning, wf.TemplatePasswordHash}}, &jobs)
	prov, phs := jobs.Jobs[wf.TemplateProvisioning], jobs.Jobs[wf.TemplatePasswordHash]
	require.ElementsMatch(t, []string{wf.TemplateProvisioning, wf.TemplatePasswordHash}, jobs.Created)
	var schema wf.SchemaResult
	exec(a.PatchSchema, wf.JobInput{TenantID: tenant, ServicePrincipalID: sp, JobID: prov}, &schema)
	require.Equal(t, wf.OutcomeChanged, schema.Report.Outcome)
	var started wf.StartJobsResult
	exec(a.StartJobs, wf.StartJobsInput{TenantID: tenant, ServicePrincipalID: sp, JobIDs: []string{prov, phs}}, &started)
	require.Len(t, started.Started, 2)
	require.Equal(t, 1, sim.Snapshot(tenant).CredentialDataMappings[sp]["Provision Active Directory users"])

	// PHS off.
	var listed wf.EnsureJobsResult
	exec(a.EnsureJobs, wf.EnsureJobsInput{TenantID: tenant, ServicePrincipalID: sp, Templates: []string{wf.TemplateProvisioning}}, &listed)
	require.Equal(t, phs, listed.Jobs[wf.TemplatePasswordHash], "the listing names the PHS job too")
	require.Empty(t, listed.Created)
	before := len(sim.RequestLog())
	var paused wf.PauseJobsResult
	exec(a.PauseJobs, wf.PauseJobsInput{TenantID: tenant, ServicePrincipalID: sp, Jobs: []wf.FeatureJob{{ID: phs, Feature: wf.FeaturePasswordHash}}, Seen: listed.Seen}, &paused)
	require.Equal(t, wf.OutcomeChanged, paused.Report.Outcome)
	require.Equal(t, []string{phs}, paused.Paused)
	require.Equal(t, "changed: paused "+phs+" (password hash sync turned off)", paused.Report.Detail)
	require.Len(t, sim.RequestLog()[before:], 1, "the listing handed on: one request, the pause")
	var unpatched wf.SchemaResult
	exec(a.UnpatchSchema, wf.JobInput{TenantID: tenant, ServicePrincipalID: sp, JobID: prov}, &unpatched)
	require.Equal(t, wf.OutcomeChanged, unpatched.Report.Outcome)
	require.Contains(t, unpatched.Report.Detail, "changed: removed CredentialData from Provision Active Directory inetOrgPersons, Provision Active Directory users (password hash sync turned off)")
	require.Equal(t, graphsim.ADDirectoryID, unpatched.ADDirectoryID)
	secrets.PasswordHashSync = false
	exec(a.ApplySecrets, secrets, &rep)

	st := sim.Snapshot(tenant)
	require.Len(t, st.Jobs, 2, "nothing deleted")
	require.Equal(t, "Paused", jobState(sim, phs).ScheduleState)
	require.Equal(t, "Active", jobState(sim, prov).ScheduleState)
	require.Equal(t, string(graphsim.InitialProvisioningSchema(sp, prov)), string(st.Schemas[prov]), "every other byte kept")
	require.Zero(t, st.CredentialDataMappings[sp]["Provision Active Directory users"])
	require.Zero(t, st.CredentialDataMappings[sp]["Provision Active Directory inetOrgPersons"])
	require.JSONEq(t, `{"appKeyScenario":"AD2AADProvisioning"}`, st.Secrets[sp]["AppKey"])

	// Off again: the job stays paused, the schema as it is; no write.
	before = len(sim.RequestLog())
	exec(a.PauseJobs, wf.PauseJobsInput{TenantID: tenant, ServicePrincipalID: sp, Jobs: []wf.FeatureJob{{ID: phs, Feature: wf.FeaturePasswordHash}}}, &paused)
	require.Equal(t, wf.OutcomeUnchanged, paused.Report.Outcome)
	require.Contains(t, paused.Report.Detail, phs+" already stopped (schedule Paused")
	exec(a.UnpatchSchema, wf.JobInput{TenantID: tenant, ServicePrincipalID: sp, JobID: prov}, &unpatched)
	require.Equal(t, wf.OutcomeUnchanged, unpatched.Report.Outcome)
	var again wf.StartJobsResult
	exec(a.StartJobs, wf.StartJobsInput{TenantID: tenant, ServicePrincipalID: sp, JobIDs: []string{prov}}, &again)
	require.Empty(t, writes(sim, before))
	require.Equal(t, "Paused", jobState(sim, phs).ScheduleState)

	// PHS on again: the mapping is added back, and the job resumed.
	exec(a.PatchSchema, wf.JobInput{TenantID: tenant, ServicePrincipalID: sp, JobID: prov}, &schema)
	require.Equal(t, wf.OutcomeChanged, schema.Report.Outcome)
	var resumed wf.StartJobsResult
	exec(a.StartJobs, wf.StartJobsInput{TenantID: tenant, ServicePrincipalID: sp, JobIDs: []string{prov, phs},
		Resume: []wf.FeatureJob{{ID: phs, Feature: wf.FeaturePasswordHash}}}, &resumed)
	require.Equal(t, wf.OutcomeChanged, resumed.Report.Outcome)
	require.Equal(t, []string{phs}, resumed.Resumed)
	require.Contains(t, resumed.Report.Detail, "resumed "+phs+": the spec asks for password hash sync")
	require.Equal(t, "Active", jobState(sim, phs).ScheduleState)
	require.Equal(t, 1, sim.Snapshot(tenant).CredentialDataMappings[sp]["Provision Active Directory users"])
	require.Empty(t, sim.Violations())
}

// Exchange writeback off: its job is paused, never deleted; a job already
// stopped is left as it is. A resume request never starts a quarantined job.
func TestExchangeOffPausesTheWritebackJob(t *testing.T) {
	a, sim := newActivities(t, graphsim.Options{})
	exec := runner(t, a)
	sp := newSP(exec, a, wf.EnsureApplicationInput{TenantID: tenant, DisplayName: "exch.contoso.com"})
	var jobs wf.EnsureJobsResult
	exec(a.EnsureJobs, wf.EnsureJobsInput{TenantID: tenant, ServicePrincipalID: sp, Templates: []string{wf.TemplateProvisioning, wf.TemplatePasswordHash, wf.TemplateExchangeWriteback}}, &jobs)
	prov, phs, exch := jobs.Jobs[wf.TemplateProvisioning], jobs.Jobs[wf.TemplatePasswordHash], jobs.Jobs[wf.TemplateExchangeWriteback]
	var started wf.StartJobsResult
	exec(a.StartJobs, wf.StartJobsInput{TenantID: tenant, ServicePrincipalID: sp, JobIDs: []string{prov, exch}}, &started)

	before := len(sim.RequestLog())
	var paused wf.PauseJobsResult
	exec(a.PauseJobs, wf.PauseJobsInput{TenantID: tenant, ServicePrincipalID: sp, Jobs: []wf.FeatureJob{{ID: exch, Feature: wf.FeatureExchange}, {ID: phs, Feature: wf.FeaturePasswordHash}}}, &paused)
	require.Equal(t, []string{exch}, paused.Paused)
	require.Equal(t, "changed: paused "+exch+" (Exchange hybrid writeback turned off); "+phs+" already stopped (schedule Disabled, password hash sync off)", paused.Report.Detail)
	require.Equal(t, []string{"POST /servicePrincipals/{id}/synchronization/jobs/{jobId}/pause"}, writes(sim, before))
	require.Len(t, sim.Snapshot(tenant).Jobs, 3, "nothing deleted")
	require.Equal(t, "Paused", jobState(sim, exch).ScheduleState)
	require.Equal(t, "Disabled", jobState(sim, phs).ScheduleState, "a job never started is not paused")

	// Exchange on again: Graph keeps nothing that tells cloudsync's pause from
	// an admin's, so start-jobs leaves it paused and says how to resume it.
	var res wf.StartJobsResult
	exec(a.StartJobs, wf.StartJobsInput{TenantID: tenant, ServicePrincipalID: sp, JobIDs: []string{prov, exch}}, &res)
	require.Empty(t, res.Started)
	require.Contains(t, res.LeftAlone[exch], "starter resume")

	// A resume request for a quarantined paused job leaves it alone.
	require.NoError(t, sim.Quarantine(tenant, exch, "EncounteredQuarantineException", "AzureActiveDirectoryInvalidCredential"))
	require.NoError(t, sim.PauseJob(tenant, exch))
	before = len(sim.RequestLog())
	exec(a.StartJobs, wf.StartJobsInput{TenantID: tenant, ServicePrincipalID: sp, JobIDs: []string{exch}, Resume: []wf.FeatureJob{{ID: exch, Feature: wf.FeatureExchange}}}, &res)
	require.Empty(t, res.Resumed)
	require.True(t, strings.HasPrefix(res.LeftAlone[exch], "quarantined"), res.LeftAlone[exch])
	require.Empty(t, writes(sim, before))
	require.Empty(t, sim.Violations())
}

// A changed threshold, recipients or notifications switch is written, and the
// step says what changed; the same spec again changes nothing.
func TestSecretsChangeSaysWhatChanged(t *testing.T) {
	a, sim := newActivities(t, graphsim.Options{})
	env := activityEnv(a)
	exec := func(in wf.SecretsInput) wf.StepReport {
		t.Helper()
		v, err := env.ExecuteActivity(a.ApplySecrets, in)
		require.NoError(t, err)
		var rep wf.StepReport
		require.NoError(t, v.Get(&rep))
		return rep
	}
	v, err := env.ExecuteActivity(a.EnsureApplication, wf.EnsureApplicationInput{TenantID: tenant, DisplayName: "sec.contoso.com"})
	require.NoError(t, err)
	var app wf.ApplicationResult
	require.NoError(t, v.Get(&app))
	sp := app.ServicePrincipalID
	in := wf.SecretsInput{TenantID: tenant, ServicePrincipalID: sp, Domain: "sec.contoso.com", PasswordHashSync: true,
		Notifications:   wf.Notifications{Enabled: true, Recipients: []string{"admin@sec.contoso.com"}},
		DeleteThreshold: wf.DeleteThreshold{Enabled: ptr(true), Value: ptr(500)}}
	first := exec(in)
	require.Equal(t, "wrote Domain, AppKey and SyncNotificationSettings", first.Detail, "nothing before: nothing to compare")

	in.DeleteThreshold.Value = ptr(50)
	rep := exec(in)
	require.Equal(t, wf.OutcomeChanged, rep.Outcome)
	require.Equal(t, "changed: delete threshold 500 → 50; wrote Domain, AppKey and SyncNotificationSettings", rep.Detail)
	require.JSONEq(t, `{"Enabled":true,"Recipients":"admin@sec.contoso.com","DeleteThresholdEnabled":true,"DeleteThresholdValue":50}`, sim.Snapshot(tenant).Secrets[sp]["SyncNotificationSettings"])

	in.Notifications.Recipients = []string{"ops@sec.contoso.com", "admin@sec.contoso.com"}
	rep = exec(in)
	require.Equal(t, "changed: recipients admin@sec.contoso.com → ops@sec.contoso.com,admin@sec.contoso.com; wrote Domain, AppKey and SyncNotificationSettings", rep.Detail)

	in.Notifications = wf.Notifications{Enabled: false}
	in.DeleteThreshold = wf.DeleteThreshold{Enabled: ptr(false)}
	rep = exec(in)
	require.Equal(t, "changed: notifications on → off, recipients ops@sec.contoso.com,admin@sec.contoso.com → none, delete threshold on → off; wrote Domain, AppKey and SyncNotificationSettings", rep.Detail)
	require.JSONEq(t, `{"Enabled":false,"DeleteThresholdEnabled":false}`, sim.Snapshot(tenant).Secrets[sp]["SyncNotificationSettings"])

	rep = exec(in)
	require.Equal(t, wf.OutcomeUnchanged, rep.Outcome)
	require.NotContains(t, rep.Detail, "changed")
}

func ptr[T any](v T) *T { return &v }
