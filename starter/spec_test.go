package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"

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

func TestUILink(t *testing.T) {
	assert.Equal(t, "http://localhost:8233/namespaces/default/workflows/cloudsync-onboard%2F"+goodTenant+"%2Fcontoso.com",
		cmdutil.UILink("http://localhost:8233/", "default", workflows.OnboardWorkflowID(goodTenant, goodDomain)))
}
