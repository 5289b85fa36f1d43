package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"

	"github.com/cloudsync/cloudsync/starter/pkg/cmdutil"
	"github.com/cloudsync/cloudsync/workflows"
)

func TestStartOptions(t *testing.T) {
	spec := workflows.TenantSpec{TenantID: " " + strings.ToUpper(goodTenant) + " ", Domain: "Contoso.COM."}
	require.NoError(t, spec.Validate())
	o := workflows.OnboardStartOptions(spec)
	assert.Equal(t, "cloudsync-onboard/"+goodTenant+"/contoso.com", o.ID)
	assert.Equal(t, workflows.OnboardWorkflowID(goodTenant, goodDomain), o.ID)
	assert.Equal(t, workflows.TaskQueue, o.TaskQueue)
	assert.Equal(t, enums.WORKFLOW_ID_CONFLICT_POLICY_FAIL, o.WorkflowIDConflictPolicy)
	assert.Equal(t, enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE, o.WorkflowIDReusePolicy)
	assert.True(t, o.WorkflowExecutionErrorWhenAlreadyStarted)
	assert.Equal(t, "Onboard contoso.com ("+goodTenant+")", o.StaticSummary)
	tenant, _ := o.TypedSearchAttributes.GetKeyword(workflows.SearchTenant)
	domain, _ := o.TypedSearchAttributes.GetKeyword(workflows.SearchDomain)
	outcome, _ := o.TypedSearchAttributes.GetKeyword(workflows.SearchOutcome)
	assert.Equal(t, []string{goodTenant, goodDomain, "running"}, []string{tenant, domain, outcome})
}

func TestStatusTarget(t *testing.T) {
	id, label, err := statusTarget(strings.ToUpper(goodTenant), "Contoso.com.", "")
	require.NoError(t, err)
	assert.Equal(t, workflows.OnboardWorkflowID(goodTenant, goodDomain), id)
	assert.Equal(t, "of tenant "+goodTenant+" domain contoso.com (workflow id "+id+")", label)
	id, _, err = statusTarget("", "", " cloudsync-onboard/x/y ")
	require.NoError(t, err)
	assert.Equal(t, "cloudsync-onboard/x/y", id)
}

func TestUILink(t *testing.T) {
	assert.Equal(t, "http://localhost:8233/namespaces/default/workflows/cloudsync-onboard%2F"+goodTenant+"%2Fcontoso.com",
		cmdutil.UILink("http://localhost:8233/", "default", workflows.OnboardWorkflowID(goodTenant, goodDomain)))
}

func TestStepPrinter(t *testing.T) {
	var b bytes.Buffer
	p := &stepPrinter{w: &b}
	running := func(step string, attempt int32, lastErr string, steps ...workflows.StepReport) workflows.Progress {
		return workflows.Progress{Status: workflows.OnboardingRunning, CurrentStep: step, Attempt: attempt, LastError: lastErr,
			Result: workflows.OnboardResult{Steps: steps}}
	}
	flag := workflows.StepReport{Step: workflows.StepTenantSyncFlag, Outcome: workflows.OutcomeChanged, Detail: "enabled\nsync"}
	app := workflows.StepReport{Step: workflows.StepApplication, Outcome: workflows.OutcomeCreated, Detail: "app"}
	p.progress(running(workflows.StepTenantSyncFlag, 0, ""))
	p.progress(running(workflows.StepTenantSyncFlag, 0, "")) // no change: nothing printed
	p.progress(running(workflows.StepApplication, 0, "", flag))
	p.progress(running(workflows.StepApplication, 2, "throttled", flag))
	p.progress(running(workflows.StepApplication, 3, "throttled", flag)) // same error: quiet
	p.progress(running(workflows.StepSPVisible, 1, "", flag, app))
	p.steps([]workflows.StepReport{flag, app, {Step: workflows.StepJobs, Outcome: workflows.OutcomeFailed, Detail: "boom"}})
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
	f := describeFailure(err)
	assert.Equal(t, "onboarding failed at step jobs: quota", f.message)
	require.True(t, f.hasResult)
	assert.Equal(t, so, f.result)

	ve := workflows.TenantSpec{}.Validate()
	var v *workflows.ValidationError
	require.ErrorAs(t, ve, &v)
	f = describeFailure(temporal.NewNonRetryableApplicationError(ve.Error(), workflows.ValidationErrorType, nil, v))
	assert.False(t, f.hasResult)
	assert.Contains(t, f.validation, "\n  tenantId: is required")
}
