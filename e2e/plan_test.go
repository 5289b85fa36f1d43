package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cloudsync/cloudsync/graphsim"
	"github.com/cloudsync/cloudsync/workflows"
)

// planJSON is `starter plan --output json` as the README documents it.
type planJSON struct {
	Tenants []struct {
		TenantID           string               `json:"tenantId"`
		Domain             string               `json:"domain"`
		WorkflowID         string               `json:"workflowId"`
		Status             string               `json:"status"`
		Changes            int                  `json:"changes"`
		ServicePrincipalID string               `json:"servicePrincipalId"`
		Steps              []workflows.PlanStep `json:"steps"`
		Error              string               `json:"error"`
	} `json:"tenants"`
	Summary struct {
		Tenants   int `json:"tenants"`
		ToChange  int `json:"toChange"`
		Unchanged int `json:"unchanged"`
		Failed    int `json:"failed"`
	} `json:"summary"`
}

func specYAML(t *testing.T, dir, name string, s workflows.TenantSpec) string {
	t.Helper()
	y := fmt.Sprintf("tenantId: %s\ndomain: %s\npasswordHashSync: %t\nexchangeHybridWriteback: %t\nnotifications: {enabled: true, recipients: [admin@%s]}\ndeleteThreshold: {enabled: true, value: %d}\n",
		s.TenantID, s.Domain, s.PasswordHashSync, s.ExchangeHybridWriteback, s.Domain, *s.DeleteThreshold.Value)
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(y), 0o600))
	return p
}

// onlyGETs fails on a request of the tenant other than GET since index from,
// and counts them.
func onlyGETs(t *testing.T, sim *graphsim.Server, tenant string, from int) int {
	t.Helper()
	n := 0
	for _, r := range sim.RequestLog()[from:] {
		if r.Tenant != tenant {
			continue
		}
		require.Equal(t, "GET", r.Method, "a %s reached graphsim: %s %s", r.Method, r.Route, r.Path)
		n++
	}
	return n
}

// starter plan through the worker, against a fresh, an onboarded and a
// changed tenant: only GETs reach graphsim, exit 2 when something would
// change and 0 when nothing would, --output json as documented; a fleet gets
// one summary line.
func TestPlanFreshOnboardedAndChanged(t *testing.T) {
	e := setup(t)
	t.Parallel()
	tenant, domain := tenantN(0x91a0, 1), "plan.contoso.com"
	dir := t.TempDir()
	spec := fullSpec(tenant, domain, 50)
	file := specYAML(t, dir, "spec.yaml", spec)

	// Fresh: everything to create; nothing created.
	from := len(e.sim.RequestLog())
	out, errOut, code := e.starter(t, "plan", "--file", file)
	require.Equal(t, 2, code, "stdout:\n%s\nstderr:\n%s\nworker:\n%s", out, errOut, e.workerOutput())
	require.Contains(t, out, "tenant "+tenant+" domain "+domain+": 6 to change")
	require.Contains(t, out, "  + application")
	require.Contains(t, out, "  ? exchange")
	require.Contains(t, out, "Plan: 1 tenant to change, 0 unchanged, 0 failed")
	require.Positive(t, onlyGETs(t, e.sim, tenant, from))
	require.Empty(t, e.sim.Snapshot(tenant).Applications, "a plan creates nothing")

	// Onboarded: nothing to change.
	out, errOut, code = e.starter(t, "onboard", "--file", file, "--wait")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	requireOnboarded(t, e.sim, spec, false)
	from = len(e.sim.RequestLog())
	out, errOut, code = e.starter(t, "plan", "--file", file)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	require.Contains(t, out, "tenant "+tenant+" domain "+domain+": no changes")
	require.Contains(t, out, "Plan: 0 tenants to change, 1 unchanged, 0 failed")
	out, errOut, code = e.starter(t, "plan", "--file", file, "--output", "json")
	require.Equal(t, 0, code, "stderr:\n%s", errOut)
	var rep planJSON
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	require.Len(t, rep.Tenants, 1)
	require.Equal(t, "no-changes", rep.Tenants[0].Status)
	require.Zero(t, rep.Tenants[0].Changes)
	require.NotEmpty(t, rep.Tenants[0].ServicePrincipalID)
	require.Len(t, rep.Tenants[0].Steps, 7)

	// Changed: a lower threshold, password hash sync off.
	changed := spec
	changed.DeleteThreshold.Value = ptr(25)
	changed.PasswordHashSync = false
	changedFile := specYAML(t, dir, "changed.yaml", changed)
	out, errOut, code = e.starter(t, "plan", "--file", changedFile, "--output", "json")
	require.Equal(t, 2, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	rep = planJSON{}
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	actions := map[string]workflows.PlanAction{}
	for _, s := range rep.Tenants[0].Steps {
		actions[s.Step] = s.Action
	}
	require.Equal(t, map[string]workflows.PlanAction{
		workflows.StepTenantSyncFlag: workflows.PlanNone, workflows.StepApplication: workflows.PlanNone, workflows.StepJobs: workflows.PlanNone,
		workflows.StepPauseJobs: workflows.PlanPause, workflows.StepSecrets: workflows.PlanChange, workflows.StepSchema: workflows.PlanChange,
		workflows.StepExchange: workflows.PlanNone, workflows.StepStartJobs: workflows.PlanNone,
	}, actions)
	require.Equal(t, 3, rep.Tenants[0].Changes)

	// A fleet: the fresh one and the onboarded one.
	fresh := tenantN(0x91a0, 2)
	csv := filepath.Join(dir, "fleet.csv")
	require.NoError(t, os.WriteFile(csv, []byte("tenantId,domain,passwordHashSync,exchangeHybridWriteback,notify,recipients,deleteThreshold\n"+
		tenant+","+domain+",true,true,true,admin@"+domain+",50\n"+fresh+",fresh.contoso.com,false,false,false,,500\n"), 0o600))
	out, errOut, code = e.starter(t, "plan", "--file", csv)
	require.Equal(t, 2, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	require.Contains(t, out, "Plan: 1 tenant to change, 1 unchanged, 0 failed")

	// Only GETs reached graphsim for the tenant since the onboarding (the
	// plans, and the watchers' polls).
	t.Logf("%d GETs since the onboarding", onlyGETs(t, e.sim, tenant, from))
	onlyGETs(t, e.sim, fresh, 0)
	require.Empty(t, e.sim.Snapshot(fresh).Applications)
	e.requireNoViolations(t, tenant)
}
