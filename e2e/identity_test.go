package e2e

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cloudsync/cloudsync/workflows"
)

// A configuration is identified by its tenant and domain, like its workflow:
// the example fleet onboarded from fleet.yaml and then from fleet.csv, which
// names corp.fabrikam.com's configuration "Fabrikam corp" where the YAML left
// the default (the domain), renames that configuration instead of making a
// second one syncing the same domain; a third run changes no application.
func TestIdentityFleetRerunUnderAnotherNameRenames(t *testing.T) {
	e := setup(t)
	t.Parallel()
	want := []struct{ tenant, domain, name string }{
		{"11111111-2222-3333-4444-555555555555", "contoso.com", "contoso.com"},
		{"22222222-3333-4444-5555-666666666666", "corp.fabrikam.com", "Fabrikam corp"},
		{"33333333-4444-5555-6666-777777777777", "tailspintoys.com", "tailspintoys.com"},
	}
	onboard := func(file string) {
		t.Helper()
		path, err := filepath.Abs(filepath.Join("..", "examples", file))
		require.NoError(t, err)
		out, errOut, code := e.starter(t, "onboard", "--file", path, "--wait", "--no-watch")
		require.Equal(t, 0, code, "starter --file %s:\nstdout:\n%s\nstderr:\n%s\nworker:\n%s", file, out, errOut, e.workerOutput())
	}
	application := func(tenant, domain string) workflows.StepReport {
		t.Helper()
		for _, s := range e.result(t, tenant, domain).Steps {
			if s.Step == workflows.StepApplication {
				return s
			}
		}
		t.Fatalf("%s %s: no application step", tenant, domain)
		return workflows.StepReport{}
	}

	onboard("fleet.yaml")
	first := map[string]string{} // tenant -> service principal
	for _, w := range want {
		st := e.sim.Snapshot(w.tenant)
		require.Len(t, st.ServicePrincipals, 1, w.tenant)
		require.Equal(t, w.domain, st.ServicePrincipals[0].DisplayName, "fleet.yaml names none: the domain")
		first[w.tenant] = st.ServicePrincipals[0].ID
	}

	onboard("fleet.csv")
	for _, w := range want {
		st := e.sim.Snapshot(w.tenant)
		require.Len(t, st.Applications, 1, "%s %s: exactly one application", w.tenant, w.domain)
		require.Len(t, st.ServicePrincipals, 1, "%s %s: exactly one service principal", w.tenant, w.domain)
		sp := st.ServicePrincipals[0]
		require.Equal(t, first[w.tenant], sp.ID, "the configuration of fleet.yaml's run")
		require.Equal(t, w.name, sp.DisplayName)
		require.Equal(t, w.name, st.Applications[0].DisplayName)
		require.JSONEq(t, `{"domain":"`+w.domain+`"}`, st.Secrets[sp.ID]["Domain"])
		e.requireNoViolations(t, w.tenant)
	}
	renamed := application(want[1].tenant, want[1].domain)
	require.Equal(t, workflows.OutcomeChanged, renamed.Outcome)
	require.Equal(t, "renamed corp.fabrikam.com → Fabrikam corp: service principal "+first[want[1].tenant], renamed.Detail)
	require.Equal(t, workflows.OutcomeUnchanged, application(want[0].tenant, want[0].domain).Outcome)

	onboard("fleet.csv")
	for _, w := range want {
		require.Equal(t, workflows.OutcomeUnchanged, application(w.tenant, w.domain).Outcome, w.domain)
		require.Len(t, e.sim.Snapshot(w.tenant).Applications, 1)
		e.requireNoViolations(t, w.tenant)
	}
}
