package activities

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cloudsync/cloudsync/graphsim"
	wf "github.com/cloudsync/cloudsync/workflows"
)

// A configuration is identified by its domain (the Domain secret of its
// service principal), not by its display name: found under another name it is
// renamed, never instantiated again; a configuration of another domain named
// alike is not taken; one made by the portal (applicationTemplateId null) is
// found by name and confirmed by its jobs.
func TestEnsureApplicationIdentifiesTheConfigurationByDomain(t *testing.T) {
	a, sim := newActivities(t, graphsim.Options{})
	env := activityEnv(a)
	ensure := func(domain, name string) wf.ApplicationResult {
		t.Helper()
		v, err := env.ExecuteActivity(a.EnsureApplication, wf.EnsureApplicationInput{TenantID: tenant, DisplayName: name, Domain: domain})
		require.NoError(t, err)
		var res wf.ApplicationResult
		require.NoError(t, v.Get(&res))
		return res
	}
	configure := func(sp, domain string) {
		t.Helper()
		_, err := env.ExecuteActivity(a.ApplySecrets, wf.SecretsInput{TenantID: tenant, ServicePrincipalID: sp, Domain: domain})
		require.NoError(t, err)
	}
	names := func() map[string]string { // service principal id -> its name and its application's
		t.Helper()
		st := sim.Snapshot(tenant)
		apps := map[string]string{}
		for _, app := range st.Applications {
			apps[app.AppID] = app.DisplayName
		}
		out := map[string]string{}
		for _, sp := range st.ServicePrincipals {
			out[sp.ID] = sp.DisplayName + " / " + apps[sp.AppID]
		}
		return out
	}

	// Domain D is configured under the name "A".
	d := ensure("corp.contoso.com", "A")
	require.Equal(t, wf.OutcomeCreated, d.Report.Outcome)
	configure(d.ServicePrincipalID, "corp.contoso.com")

	// Domain E asked under the same name "A": not D's, a new one.
	e := ensure("eu.contoso.com", "A")
	require.Equal(t, wf.OutcomeCreated, e.Report.Outcome, e.Report.Detail)
	require.NotEqual(t, d.ServicePrincipalID, e.ServicePrincipalID)
	require.Contains(t, e.Report.Detail, "syncs corp.contoso.com")
	configure(e.ServicePrincipalID, "eu.contoso.com")

	// Domain D asked under the name "B" (case and trailing dot aside): D's,
	// renamed, application and service principal.
	b := ensure("Corp.Contoso.com.", "B")
	require.Equal(t, d.ServicePrincipalID, b.ServicePrincipalID)
	require.Equal(t, d.AppID, b.AppID)
	require.Equal(t, wf.OutcomeChanged, b.Report.Outcome)
	require.Equal(t, "renamed A → B: service principal "+d.ServicePrincipalID, b.Report.Detail)
	require.Equal(t, map[string]string{d.ServicePrincipalID: "B / B", e.ServicePrincipalID: "A / A"}, names())

	// Again: nothing to do, for one list and one secrets read.
	before := len(sim.RequestLog())
	again := ensure("corp.contoso.com", "B")
	require.Equal(t, wf.OutcomeUnchanged, again.Report.Outcome)
	require.Equal(t, d.ServicePrincipalID, again.ServicePrincipalID)
	var routes []string
	for _, r := range sim.RequestLog()[before:] {
		routes = append(routes, r.Route)
	}
	require.Equal(t, []string{"GET /servicePrincipals", "GET /servicePrincipals/{id}/synchronization/secrets"}, routes)

	// Made by the portal: applicationTemplateId null, found by its name,
	// confirmed by its provisioning job.
	portal, err := sim.SeedConfiguration(tenant, graphsim.ConfigurationSeed{DisplayName: "Portal sync", NoTemplateID: true, Domain: "portal.contoso.com", Jobs: []string{wf.TemplateProvisioning}})
	require.NoError(t, err)
	p := ensure("portal.contoso.com", "Portal sync")
	require.Equal(t, wf.OutcomeUnchanged, p.Report.Outcome, p.Report.Detail)
	require.Equal(t, portal.ServicePrincipalID, p.ServicePrincipalID)
	// One not configured yet is adopted like a lost attempt of ours; one that
	// is no cloud sync configuration (no provisioning job) is not.
	_, err = sim.SeedConfiguration(tenant, graphsim.ConfigurationSeed{DisplayName: "HR portal", NoTemplateID: true})
	require.NoError(t, err)
	bare, err := sim.SeedConfiguration(tenant, graphsim.ConfigurationSeed{DisplayName: "Portal two", NoTemplateID: true, Jobs: []string{wf.TemplateProvisioning}})
	require.NoError(t, err)
	two := ensure("two.contoso.com", "Portal two")
	require.Equal(t, bare.ServicePrincipalID, two.ServicePrincipalID)
	require.Equal(t, wf.OutcomeUnchanged, two.Report.Outcome)
	hr := ensure("hr.contoso.com", "HR portal")
	require.Equal(t, wf.OutcomeCreated, hr.Report.Outcome)

	require.Len(t, sim.Snapshot(tenant).Applications, 6, "D, E, three seeded, and HR's")
	require.Empty(t, sim.Violations())

	// An input without a domain (scheduled by an older workflow) finds by name.
	legacy, err := env.ExecuteActivity(a.EnsureApplication, wf.EnsureApplicationInput{TenantID: tenant, DisplayName: "B"})
	require.NoError(t, err)
	var l wf.ApplicationResult
	require.NoError(t, legacy.Get(&l))
	require.Equal(t, d.ServicePrincipalID, l.ServicePrincipalID)
}

// Jobs are recognised by template or by id prefix: the seed's own answers
// show another templateId for an AD2AADProvisioning.… job.
func TestIsProvisioningJob(t *testing.T) {
	require.True(t, isProvisioningJob("AD2AADProvisioning", "x"))
	require.True(t, isProvisioningJob("ADDCInPassthrough", "AD2AADProvisioning.0123abcd.4567"))
	require.False(t, isProvisioningJob("AD2AADPasswordHash", "AD2AADPasswordHash.0123.4567"))
	require.False(t, isProvisioningJob("", "AD2AADProvisioning."))
}
