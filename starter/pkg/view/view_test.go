package view

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/cloudsync/cloudsync/workflows"
)

const (
	goodTenant = "11111111-2222-3333-4444-555555555555"
	goodDomain = "contoso.com"
)

func TestStepPrinter(t *testing.T) {
	var b bytes.Buffer
	p := &StepPrinter{W: &b}
	running := func(step string, attempt int32, lastErr string, steps ...workflows.StepReport) workflows.Progress {
		return workflows.Progress{Status: workflows.OnboardingRunning, CurrentStep: step, Attempt: attempt, LastError: lastErr,
			Result: workflows.OnboardResult{Steps: steps}}
	}
	flag := workflows.StepReport{Step: workflows.StepTenantSyncFlag, Outcome: workflows.OutcomeChanged, Detail: "enabled\nsync"}
	app := workflows.StepReport{Step: workflows.StepApplication, Outcome: workflows.OutcomeCreated, Detail: "app"}
	p.Progress(running(workflows.StepTenantSyncFlag, 0, ""))
	p.Progress(running(workflows.StepTenantSyncFlag, 0, "")) // no change: nothing printed
	p.Progress(running(workflows.StepApplication, 0, "", flag))
	p.Progress(running(workflows.StepApplication, 2, "throttled", flag))
	p.Progress(running(workflows.StepApplication, 3, "throttled", flag)) // same error: quiet
	p.Progress(running(workflows.StepSPVisible, 1, "", flag, app))
	p.Steps([]workflows.StepReport{flag, app, {Step: workflows.StepJobs, Outcome: workflows.OutcomeFailed, Detail: "boom"}})
	assert.Equal(t, strings.Join([]string{
		// "(attempt 1)" would read as a retry: the attempt shows from the second.
		"… waiting on tenant-sync-flag",
		"  tenant-sync-flag          changed   enabled sync",
		"… waiting on application",
		"… waiting on application (attempt 2): last error: throttled",
		"  application               created   app",
		"… waiting on service-principal-visible",
		"  jobs                      failed    boom",
		"",
	}, "\n"), b.String())
}

func TestDescribeFailureReadsTheResultSoFar(t *testing.T) {
	so := workflows.OnboardResult{TenantID: goodTenant, Domain: goodDomain, ServicePrincipalID: "sp-1",
		Steps: []workflows.StepReport{{Step: workflows.StepJobs, Outcome: workflows.OutcomeFailed, Detail: "quota"}}}
	err := temporal.NewNonRetryableApplicationError("onboarding failed at step jobs: quota", workflows.FailureType, nil, so)
	f := DescribeFailure(err)
	assert.Equal(t, "onboarding failed at step jobs: quota", f.Message)
	require.True(t, f.HasResult)
	assert.Equal(t, so, f.Result)

	ve := workflows.TenantSpec{}.Validate()
	var v *workflows.ValidationError
	require.ErrorAs(t, ve, &v)
	f = DescribeFailure(temporal.NewNonRetryableApplicationError(ve.Error(), workflows.ValidationErrorType, nil, v))
	assert.False(t, f.HasResult)
	assert.Contains(t, f.Validation, "\n  tenantId: is required")
}

func samplePlans() PlanReport {
	changed := workflows.PlanResult{TenantID: goodTenant, Domain: "contoso.com", ServicePrincipalID: "sp-1"}
	changed.Add(workflows.PlanStep{Step: workflows.StepTenantSyncFlag, Action: workflows.PlanChange, Detail: "set onPremisesSyncEnabled to true (it is off)", Drift: workflows.DriftSyncFlagOff})
	changed.Add(workflows.PlanStep{Step: workflows.StepApplication, Action: workflows.PlanNone, Detail: "found service principal sp-1"})
	changed.Add(workflows.PlanStep{Step: workflows.StepJobs, Action: workflows.PlanCreate, Detail: "create AD2AADPasswordHash"})
	changed.Add(workflows.PlanStep{Step: workflows.StepPauseJobs, Action: workflows.PlanPause, Detail: "pause X"})
	changed.Add(workflows.PlanStep{Step: workflows.StepExchange, Action: workflows.PlanUnknown, Detail: "would check the AD schema"})
	changed.Add(workflows.PlanStep{Step: workflows.StepStartJobs, Action: workflows.PlanStart, Detail: "start the new job"})
	return PlanReport{
		Tenants: []PlanTenant{
			{TenantID: goodTenant, Domain: "contoso.com", WorkflowID: "cloudsync-plan/x", Status: PlanStatusChanges, Changes: changed.Changes, Steps: changed.Steps, ServicePrincipalID: "sp-1"},
			{TenantID: goodTenant, Domain: "fabrikam.com", Status: PlanStatusNoChanges, Steps: []workflows.PlanStep{{Step: workflows.StepTenantSyncFlag, Action: workflows.PlanNone, Detail: "already true"}}},
			{TenantID: goodTenant, Domain: "northwind.com", Status: PlanStatusFailed, WorkflowID: "cloudsync-plan/y", Error: "Graph refused"},
		},
		Summary: PlanSummary{Tenants: 3, ToChange: 1, Unchanged: 1, Failed: 1},
	}
}

// The text output: Terraform's marks per step, then the fleet's summary line.
func TestPrintPlansTerraformStyle(t *testing.T) {
	var b bytes.Buffer
	PrintPlans(&b, samplePlans())
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
	assert.Equal(t, "Plan: 2 tenants to change, 0 unchanged, 0 failed", PlanSummaryLine(PlanSummary{ToChange: 2}))
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
