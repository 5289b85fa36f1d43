package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudsync/cloudsync/starter/pkg/cmd/plan"
	"github.com/cloudsync/cloudsync/starter/pkg/cmdutil"
	"github.com/cloudsync/cloudsync/starter/pkg/view"
	"github.com/cloudsync/cloudsync/workflows"
	"github.com/cloudsync/cloudsync/workflows/workflowstest"
)

// planAndDrift drives plan, the drift line of status and list --drifted
// against the dev server (the caller counts the queries: there must be none).
func planAndDrift(t *testing.T, jobs *workflowstest.Fake, tenantOK string) {
	t.Run("plan: exit 0 nothing to change, 2 changes, 1 a failed plan; --output json", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, "plan", "--tenant-id", tenantOK, "--domain", goodDomain)
		require.Equal(t, plan.ExitNoChanges, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
		assert.Contains(t, stdout, "tenant "+tenantOK+" domain contoso.com: no changes")
		assert.Contains(t, stdout, "Plan: 0 tenants to change, 1 unchanged, 0 failed")

		code, stdout, stderr = runCLI(t, "plan", "--tenant-id", tenantOK, "--domain", goodDomain, "--password-hash-sync")
		require.Equal(t, plan.ExitChanges, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
		assert.Contains(t, stdout, "  ~ schema                     add CredentialData to Provision Active Directory users")
		assert.Contains(t, stdout, "Plan: 1 tenant to change, 0 unchanged, 0 failed")

		const failing = "aaaaaaaa-0000-0000-0000-000000000005"
		jobs.FailPlans(failing, workflowstest.Refuse("GraphForbidden", "graph: get organization: HTTP 403 Authorization_RequestDenied"))
		fleet := writeFile(t, "fleet.csv", "tenantId,domain,passwordHashSync\n"+tenantOK+",contoso.com,true\n"+tenantOK+",fabrikam.com,false\n"+failing+",contoso.com,false\n")
		code, stdout, stderr = runCLI(t, "plan", "--file", fleet, "--output", "json")
		require.Equal(t, plan.ExitError, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
		assert.Contains(t, stderr, "1 of 3 plans failed")
		var rep view.PlanReport
		require.NoError(t, json.Unmarshal([]byte(stdout), &rep), stdout)
		require.Len(t, rep.Tenants, 3)
		assert.Equal(t, view.PlanSummary{Tenants: 3, ToChange: 1, Unchanged: 1, Failed: 1}, rep.Summary)
		assert.Equal(t, view.PlanStatusChanges, rep.Tenants[0].Status)
		assert.Equal(t, "fabrikam.com", rep.Tenants[1].Domain, "in the file's order")
		assert.Equal(t, view.PlanStatusNoChanges, rep.Tenants[1].Status)
		assert.Equal(t, view.PlanStatusFailed, rep.Tenants[2].Status)
		assert.Contains(t, rep.Tenants[2].Error, "Authorization_RequestDenied")
		assert.True(t, strings.HasPrefix(rep.Tenants[0].WorkflowID, "cloudsync-plan/"+tenantOK+"/contoso.com/"), rep.Tenants[0].WorkflowID)
		assert.NotEqual(t, rep.Tenants[0].WorkflowID, rep.Tenants[1].WorkflowID)

		// status --workflow-id shows a plan.
		code, stdout, stderr = runCLI(t, "status", "--workflow-id", rep.Tenants[0].WorkflowID)
		require.Equal(t, cmdutil.ExitOK, code, stderr)
		assert.Contains(t, stdout, "tenant "+tenantOK+" domain contoso.com: 1 to change")
		code, stdout, _ = runCLI(t, "status", "--workflow-id", rep.Tenants[2].WorkflowID)
		assert.Equal(t, cmdutil.ExitFailed, code)
		assert.Contains(t, stdout, "plan failed")
	})

	t.Run("drift: the status line, list --drifted, a notification, and the repair by onboard", func(t *testing.T) {
		id := workflows.DriftWorkflowID(tenantOK, goodDomain)
		var code int
		var stdout, stderr string
		ok := assert.Eventually(t, func() bool {
			code, stdout, stderr = runCLI(t, "status", "--tenant-id", tenantOK, "--domain", goodDomain)
			return code == cmdutil.ExitOK && strings.Contains(stdout, driftField("drift", "none (")) && jobs.DriftChecks(tenantOK) > 0
		}, 15*time.Second, 200*time.Millisecond)
		require.True(t, ok, "exit %d, %d checks\nstdout:\n%s\nstderr:\n%s", code, jobs.DriftChecks(tenantOK), stdout, stderr)
		code, stdout, _ = runCLI(t, "list", "--drifted")
		require.Equal(t, cmdutil.ExitOK, code)
		assert.Contains(t, stdout, "no configuration differs from its spec")

		jobs.SetDrift(tenantOK, goodDomain, workflows.PlanStep{Step: workflows.StepSecrets, Action: workflows.PlanCreate, Detail: "add SyncNotificationSettings", Drift: workflows.DriftSecretMissing})
		ok = assert.Eventually(t, func() bool {
			code, stdout, stderr = runCLI(t, "status", "--tenant-id", tenantOK, "--domain", goodDomain)
			return code == cmdutil.ExitOK && strings.Contains(stdout, driftField("drift", "secret-missing since"))
		}, 15*time.Second, 200*time.Millisecond)
		require.True(t, ok, "exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		assert.Contains(t, stdout, "  + secrets: add SyncNotificationSettings")
		assert.Contains(t, stdout, "repair: starter onboard")
		require.Eventually(t, func() bool {
			code, stdout, _ = runCLI(t, "list", "--drifted")
			return code == cmdutil.ExitOK && strings.Contains(stdout, "secret-missing")
		}, 10*time.Second, 200*time.Millisecond, stdout)
		assert.Regexp(t, tenantOK+` +contoso\.com +secret-missing +`, stdout)
		code, stdout, _ = runCLI(t, "status", "--tenant-id", tenantOK)
		require.Equal(t, cmdutil.ExitOK, code)
		assert.Contains(t, stdout, driftField("drift of contoso.com", "secret-missing since"))
		code, stdout, _ = runCLI(t, "status", "--workflow-id", id)
		require.Equal(t, cmdutil.ExitOK, code)
		assert.Contains(t, stdout, driftField("drift", "secret-missing since"))
		require.Eventually(t, func() bool { return len(jobs.Notified(tenantOK, "", workflows.NotifyDrift)) == 1 }, 10*time.Second, 100*time.Millisecond)
		n := jobs.Notified(tenantOK, "", workflows.NotifyDrift)[0]
		assert.Equal(t, []string{workflows.DriftSecretMissing}, n.Drift)
		assert.Equal(t, "teams-ops", n.Webhook, "the first onboarding's webhook: a re-run without --webhook keeps it")

		// The repair: an onboarding that completes clears it at once.
		jobs.SetDrift(tenantOK, goodDomain)
		code, stdout, stderr = runCLI(t, "onboard", "--tenant-id", tenantOK, "--domain", goodDomain, "--wait", "--webhook", "teams-ops")
		require.Equal(t, cmdutil.ExitOK, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
		assert.Regexp(t, `drift check: +`+id, stdout)
		require.Eventually(t, func() bool { return len(jobs.Notified(tenantOK, "", workflows.NotifyDriftRepaired)) == 1 }, 10*time.Second, 100*time.Millisecond)
		require.Eventually(t, func() bool {
			code, stdout, _ = runCLI(t, "list", "--drifted")
			return code == cmdutil.ExitOK && strings.Contains(stdout, "no configuration differs from its spec")
		}, 10*time.Second, 200*time.Millisecond, stdout)
		assert.Len(t, jobs.Notified(tenantOK, "", workflows.NotifyDrift), 1, "notified once")
	})
}

// driftField is a drift line of status.
func driftField(k, v string) string { return fmt.Sprintf("%-14s %s", k+":", v) }
