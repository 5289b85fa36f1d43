package main

import (
	"bytes"
	"encoding/json"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudsync/cloudsync/workflows"
)

// plan's bad input exits 1 (exit 2 means "changes" for plan, as with
// terraform plan -detailed-exitcode), names the problem, and opens no
// connection to Temporal.
func TestPlanBadInputExitsOneWithoutContactingTemporal(t *testing.T) {
	isolateEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	t.Setenv("TEMPORAL_ADDRESS", ln.Addr().String())
	fleet := writeFile(t, "fleet.csv", "tenantId,domain\n"+goodTenant+",contoso.com\nnot-a-guid,fabrikam.com\n")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no tenant", []string{"plan", "--domain", "contoso.com"}, "tenantId"},
		{"bad domain", []string{"plan", "--tenant-id", goodTenant, "--domain", "not a domain"}, "domain"},
		{"unknown flag", []string{"plan", "--tenant-id", goodTenant, "--domain", "contoso.com", "--bogus"}, "unknown flag: --bogus"},
		{"an argument", []string{"plan", "contoso.com"}, "plan takes no arguments"},
		{"bad output", []string{"plan", "--tenant-id", goodTenant, "--domain", "contoso.com", "--output", "yaml"}, `invalid argument "yaml" for "-o, --output" flag: must be text or json`},
		{"bad fleet row", []string{"plan", "--file", fleet}, "row 2"},
		{"file and flags", []string{"plan", "--file", fleet, "--domain", "contoso.com"}, "--file cannot be combined with --domain"},
		{"missing file", []string{"plan", "--file", "/nonexistent/spec.yaml"}, "--file"},
		{"short timeout", []string{"plan", "--tenant-id", goodTenant, "--domain", "contoso.com", "--timeout", "1s"}, "--timeout: 1s is too short"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tc.args...)
			assert.Equal(t, planError, code, "stdout: %s\nstderr: %s", stdout, stderr)
			assert.Contains(t, stderr, tc.want)
			assert.Empty(t, stdout)
		})
	}
	time.Sleep(50 * time.Millisecond)
	assert.Zero(t, accepted.Load(), "bad input opened a connection to Temporal")

	// Temporal unreachable: 1 as well.
	t.Setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")
	code, _, stderr := runCLI(t, "plan", "--tenant-id", goodTenant, "--domain", "contoso.com", "--connect-timeout", "100ms")
	assert.Equal(t, planError, code)
	assert.Contains(t, stderr, "cannot reach Temporal")
}

func samplePlans() planReport {
	changed := workflows.PlanResult{TenantID: goodTenant, Domain: "contoso.com", ServicePrincipalID: "sp-1"}
	changed.Add(workflows.PlanStep{Step: workflows.StepTenantSyncFlag, Action: workflows.PlanChange, Detail: "set onPremisesSyncEnabled to true (it is off)", Drift: workflows.DriftSyncFlagOff})
	changed.Add(workflows.PlanStep{Step: workflows.StepApplication, Action: workflows.PlanNone, Detail: "found service principal sp-1"})
	changed.Add(workflows.PlanStep{Step: workflows.StepJobs, Action: workflows.PlanCreate, Detail: "create AD2AADPasswordHash"})
	changed.Add(workflows.PlanStep{Step: workflows.StepPauseJobs, Action: workflows.PlanPause, Detail: "pause X"})
	changed.Add(workflows.PlanStep{Step: workflows.StepExchange, Action: workflows.PlanUnknown, Detail: "would check the AD schema"})
	changed.Add(workflows.PlanStep{Step: workflows.StepStartJobs, Action: workflows.PlanStart, Detail: "start the new job"})
	return planReport{
		Tenants: []planTenant{
			{TenantID: goodTenant, Domain: "contoso.com", WorkflowID: "cloudsync-plan/x", Status: planStatusChanges, Changes: changed.Changes, Steps: changed.Steps, ServicePrincipalID: "sp-1"},
			{TenantID: goodTenant, Domain: "fabrikam.com", Status: planStatusNoChanges, Steps: []workflows.PlanStep{{Step: workflows.StepTenantSyncFlag, Action: workflows.PlanNone, Detail: "already true"}}},
			{TenantID: goodTenant, Domain: "northwind.com", Status: planStatusFailed, WorkflowID: "cloudsync-plan/y", Error: "Graph refused"},
		},
		Summary: planSummary{Tenants: 3, ToChange: 1, Unchanged: 1, Failed: 1},
	}
}

// The text output: Terraform's marks per step, then the fleet's summary line.
func TestPrintPlansTerraformStyle(t *testing.T) {
	var b bytes.Buffer
	printPlans(&b, samplePlans())
	out := b.String()
	for _, want := range []string{
		"tenant " + goodTenant + " domain contoso.com: 4 to change\n",
		"  ~ tenant-sync-flag           set onPremisesSyncEnabled to true (it is off)\n",
		"    application                no change: found service principal sp-1\n",
		"  + jobs                       create AD2AADPasswordHash\n",
		"  - pause-jobs                 pause X\n",
		"  ? exchange                   unknown: would check the AD schema\n",
		"  > start-jobs                 start the new job\n",
		"tenant " + goodTenant + " domain fabrikam.com: no changes\n",
		"tenant " + goodTenant + " domain northwind.com: plan failed: Graph refused\n",
		"\nPlan: 1 tenant to change, 1 unchanged, 1 failed\n",
	} {
		assert.Contains(t, out, want)
	}
	assert.Equal(t, "Plan: 2 tenants to change, 0 unchanged, 0 failed", planSummaryLine(planSummary{ToChange: 2}))
}

// The JSON output is the README's shape.
func TestPlanJSONShape(t *testing.T) {
	b, err := json.Marshal(samplePlans())
	require.NoError(t, err)
	var doc struct {
		Tenants []struct {
			TenantID, Domain, WorkflowID, Status, ServicePrincipalID, Error string
			Changes                                                         int
			Steps                                                           []struct{ Step, Action, Detail, Drift string }
		}
		Summary struct{ Tenants, ToChange, Unchanged, Failed int }
	}
	require.NoError(t, json.Unmarshal(b, &doc))
	require.Len(t, doc.Tenants, 3)
	require.Equal(t, "changes", doc.Tenants[0].Status)
	require.Equal(t, 4, doc.Tenants[0].Changes)
	require.Equal(t, "change", doc.Tenants[0].Steps[0].Action)
	require.Equal(t, "sync-flag-off", doc.Tenants[0].Steps[0].Drift)
	require.Equal(t, "no-changes", doc.Tenants[1].Status)
	require.Equal(t, "failed", doc.Tenants[2].Status)
	require.Equal(t, "Graph refused", doc.Tenants[2].Error)
	require.Equal(t, 1, doc.Summary.Failed)
	for _, key := range []string{`"tenantId"`, `"domain"`, `"workflowId"`, `"status"`, `"changes"`, `"servicePrincipalId"`, `"steps"`, `"step"`, `"action"`, `"detail"`, `"error"`, `"summary"`, `"toChange"`, `"unchanged"`, `"failed"`} {
		require.True(t, strings.Contains(string(b), key), key)
	}
}
