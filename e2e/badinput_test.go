package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enums "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/cloudsync/cloudsync/graphsim"
	"github.com/cloudsync/cloudsync/workflows"
)

// TestBadInputIsRefusedBeforeAnyGraphWrite feeds bad tenant specs to the
// starter (flags and YAML files) and straight to the workflow (as another
// client or the Temporal CLI would). Each is refused with a message naming the
// field and the reason: the starter exits 2 with a usage-style error before
// contacting Temporal, the workflow fails with InvalidTenantSpec listing the
// fields. The environment has its own dev server, so the starter's task queue
// is served by this environment's worker and simulator: the simulator's
// request, write and token counts must stay 0.
func TestBadInputIsRefusedBeforeAnyGraphWrite(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{name: "badinput", ownServer: true, sim: graphsim.Options{Seed: 31}})
	const tid, dom = "0badf00d-0000-4000-8000-000000000001", "contoso.com"
	ok := []string{"--tenant-id", tid, "--domain", dom}
	onboard := func(extra ...string) []string { return append(append([]string{"onboard"}, ok...), extra...) }
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	goodYAML := "tenantId: " + tid + "\ndomain: " + dom + "\n"
	many := func(n int) []string {
		var a []string
		for i := range n {
			a = append(a, "--recipient", fmt.Sprintf("ops%d@contoso.com", i))
		}
		return a
	}

	starterCases := []struct {
		name string
		args []string
		want []string // the field or flag first, then the reason
	}{
		{"malformed tenant id", []string{"onboard", "--tenant-id", "not-a-guid", "--domain", dom}, []string{"tenantId:", "is not a GUID"}},
		{"domain given as tenant id", []string{"onboard", "--tenant-id", "contoso.onmicrosoft.com", "--domain", dom}, []string{"tenantId:", "not a domain name"}},
		{"missing tenant id", []string{"onboard", "--domain", dom}, []string{"tenantId:", "is required"}},
		{"missing domain", []string{"onboard", "--tenant-id", tid}, []string{"domain:", "is required"}},
		{"single-label domain", onboardWith(tid, "contoso"), []string{"domain:", "not a fully qualified domain name"}},
		{"domain label starting with a hyphen", onboardWith(tid, "-corp.contoso.com"), []string{"domain:", "not a valid DNS name"}},
		{"oversized domain", onboardWith(tid, strings.Repeat("a", 60)+"."+strings.Repeat("b.", 100)+"com"), []string{"domain:", "at most 253"}},
		{"malformed email", onboard("--notify", "--recipient", "admin-at-contoso"), []string{"notifications.recipients[0]:", "not an email address"}},
		{"two emails in one", onboard("--notify", "--recipient", "a@contoso.com;b@contoso.com"), []string{"notifications.recipients[0]:", "several addresses"}},
		{"email without a dotted domain", onboard("--notify", "--recipient", "admin@localhost"), []string{"notifications.recipients[0]:", "not an email address"}},
		{"oversized email", onboard("--notify", "--recipient", strings.Repeat("x", 250)+"@contoso.com"), []string{"notifications.recipients[0]:", "at most 254"}},
		{"notifications without recipients", onboard("--notify"), []string{"notifications.recipients:", "notifications are enabled"}},
		{"too many recipients", onboard(append([]string{"--notify"}, many(21)...)...), []string{"notifications.recipients:", "at most 20"}},
		{"threshold zero", onboard("--delete-threshold", "0"), []string{"deleteThreshold.value:", "out of range"}},
		{"threshold negative", onboard("--delete-threshold", "-5"), []string{"deleteThreshold.value:", "out of range"}},
		{"threshold too high", onboard("--delete-threshold", "100001"), []string{"deleteThreshold.value:", "out of range"}},
		{"threshold not a number", onboard("--delete-threshold", "lots"), []string{"--delete-threshold", "invalid argument"}},
		{"threshold set and disabled", onboard("--no-delete-threshold", "--delete-threshold", "50"), []string{"deleteThreshold.value:", "threshold is disabled"}},
		{"display name of spaces only", onboard("--display-name", "   "), []string{"displayName:", "only spaces"}},
		{"oversized display name", onboard("--display-name", strings.Repeat("n", 500)), []string{"displayName:", "at most 120"}},
		{"display name with control characters", onboard("--display-name", "Contoso\x1b[31m"), []string{"displayName:", "control characters"}},
		{"unknown flag", onboard("--password-hash"), []string{"--password-hash", "unknown flag"}},
		{"positional argument", onboard("contoso.com"), []string{"unknown command", "contoso.com"}},
		{"file and flags at once", []string{"onboard", "--file", file("mixed.yaml", goodYAML), "--tenant-id", tid}, []string{"--file", "cannot be combined with --tenant-id"}},
		{"unknown YAML field", []string{"onboard", "--file", file("unknown.yaml", goodYAML+"passwordHashSynk: true\n")}, []string{"passwordHashSynk:", "unknown field"}},
		{"unknown nested YAML field", []string{"onboard", "--file", file("nested.yaml", goodYAML+"notifications:\n  enabled: true\n  recipient: [a@contoso.com]\n")}, []string{"notifications.recipient:", "unknown field"}},
		{"YAML number of the wrong type", []string{"onboard", "--file", file("type.yaml", goodYAML+"deleteThreshold:\n  value: lots\n")}, []string{"deleteThreshold.value:", "must be a whole number"}},
		{"YAML bool of the wrong type", []string{"onboard", "--file", file("bool.yaml", goodYAML+"passwordHashSync: sometimes\n")}, []string{"passwordHashSync:", "must be true or false"}},
		{"YAML list given as a string", []string{"onboard", "--file", file("list.yaml", goodYAML+"notifications:\n  enabled: true\n  recipients: admin@contoso.com\n")}, []string{"notifications.recipients:", "must be a list of strings"}},
		{"YAML threshold out of range", []string{"onboard", "--file", file("range.yaml", goodYAML+"deleteThreshold:\n  value: 1000000\n")}, []string{"deleteThreshold.value:", "out of range"}},
		{"empty YAML file", []string{"onboard", "--file", file("empty.yaml", "")}, []string{"--file", "empty"}},
		{"two YAML documents", []string{"onboard", "--file", file("two.yaml", goodYAML+"---\n"+goodYAML)}, []string{"--file", "more than one YAML document"}},
		{"oversized YAML file", []string{"onboard", "--file", file("big.yaml", goodYAML+"# "+strings.Repeat("x", 70<<10)+"\n")}, []string{"--file", "larger than 64 KiB"}},
		{"YAML syntax error", []string{"onboard", "--file", file("syntax.yaml", "tenantId: [unclosed\n")}, []string{"syntax.yaml:1: ", "invalid spec file"}},
	}
	refused := 0
	for _, c := range starterCases {
		t.Run("starter/"+c.name, func(t *testing.T) {
			out, errOut, code := e.starter(t, c.args...)
			require.Equal(t, 2, code, "exit code; stdout:\n%s\nstderr:\n%s", out, errOut)
			require.Empty(t, out, "nothing on stdout: the starter did not start anything")
			for _, w := range c.want {
				require.Contains(t, errOut, w)
			}
			refused++
		})
	}

	// The workflow checks the spec itself: a client that skips the starter
	// gets the same answer, as a failed workflow, before any Graph call.
	spec := func(change func(*workflows.TenantSpec)) workflows.TenantSpec {
		s := workflows.TenantSpec{TenantID: tid, Domain: "wf.contoso.com"}
		change(&s)
		return s
	}
	workflowCases := []struct {
		name string
		spec workflows.TenantSpec
		want []string // "field: reason"
	}{
		{"malformed tenant id", spec(func(s *workflows.TenantSpec) { s.TenantID = "1234" }), []string{"tenantId", "is not a GUID"}},
		{"missing domain", spec(func(s *workflows.TenantSpec) { s.Domain = "" }), []string{"domain", "is required"}},
		{"domain with spaces", spec(func(s *workflows.TenantSpec) { s.Domain = "contoso .com" }), []string{"domain", "not a valid DNS name"}},
		{"malformed email", spec(func(s *workflows.TenantSpec) {
			s.Notifications = workflows.Notifications{Enabled: true, Recipients: []string{"Admin <admin@contoso.com>"}}
		}), []string{"notifications.recipients[0]", "not an email address"}},
		{"threshold out of range", spec(func(s *workflows.TenantSpec) { s.DeleteThreshold.Value = ptr(0) }), []string{"deleteThreshold.value", "out of range"}},
		{"threshold set and disabled", spec(func(s *workflows.TenantSpec) {
			s.DeleteThreshold = workflows.DeleteThreshold{Enabled: ptr(false), Value: ptr(10)}
		}), []string{"deleteThreshold.value", "threshold is disabled"}},
		{"display name of spaces only", spec(func(s *workflows.TenantSpec) { s.DisplayName = " \t " }), []string{"displayName", "only spaces"}},
		{"oversized display name", spec(func(s *workflows.TenantSpec) { s.DisplayName = strings.Repeat("d", 10000) }), []string{"displayName", "at most 120"}},
		{"several problems at once", spec(func(s *workflows.TenantSpec) {
			s.TenantID, s.Domain, s.Notifications.Enabled = "x", "y", true
		}), []string{"tenantId", "domain", "notifications.recipients"}},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for i, c := range workflowCases {
		t.Run("workflow/"+c.name, func(t *testing.T) {
			run, err := e.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
				ID: fmt.Sprintf("e2e-badinput/%d", i), TaskQueue: workflows.TaskQueue,
			}, workflows.OnboardTenantWorkflow, workflows.OnboardInput{Spec: c.spec})
			require.NoError(t, err)
			err = run.Get(ctx, nil)
			require.Error(t, err)
			ae, ve := validationFailure(t, err)
			t.Logf("%s", ae.Message())
			var fields []string
			for _, f := range ve.Errors {
				fields = append(fields, f.Field+": "+f.Problem)
			}
			all := strings.Join(fields, "\n")
			for _, w := range c.want {
				require.Contains(t, all, w)
				require.Contains(t, ae.Message(), w, "the message names it too")
			}
			require.LessOrEqual(t, len(ae.Message()), 1000, "oversized values are clipped in the message")
			refused++
		})
	}

	// Wrong types in the workflow input (a hand-written JSON payload, as with
	// `temporal workflow start --input`): the payload cannot be decoded.
	t.Run("workflow/wrong types", func(t *testing.T) {
		cli, err := findTemporalCLI()
		require.NoError(t, err)
		id := "e2e-badinput/types"
		input := `{"spec":{"tenantId":42,"domain":["contoso.com"],"passwordHashSync":"yes","deleteThreshold":{"value":"500"}}}`
		out, err := runCLI(ctx, cli, "workflow", "start", "--address", e.hostPort, "--task-queue", workflows.TaskQueue,
			"--type", workflows.OnboardTenantWorkflow, "--workflow-id", id, "--input", input)
		require.NoError(t, err, "%s", out)
		wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
		defer wcancel()
		err = e.client.GetWorkflow(wctx, id, "").Get(wctx, nil)
		require.Error(t, err)
		t.Logf("wrong types: %v", err)
		if wctx.Err() != nil {
			// Still running: the worker cannot decode the input, fails the
			// workflow task and retries it. Nothing reaches Graph.
			desc, derr := describe(ctx, e.client, id)
			require.NoError(t, derr)
			t.Logf("status %s after 20 s", desc.WorkflowExecutionInfo.Status)
			require.NoError(t, e.client.TerminateWorkflow(ctx, id, "", "e2e: undecodable input"))
			t.Fatalf("a wrongly typed workflow input leaves the workflow running (workflow task failing) instead of failing it")
		}
		require.Contains(t, err.Error(), "tenantId")
		refused++
	})

	st := e.sim.Stats()
	require.Zero(t, st.GraphWrites, "graph writes")
	require.Zero(t, st.TotalGraphRequests, "graph requests")
	require.Zero(t, st.TokensIssued, "tokens")
	// The starter started nothing: the only workflows are the direct ones
	// (and the worker's own pollers).
	resp, err := e.client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: "WorkflowType != '" + workflows.WatchPollerWorkflow + "'"})
	require.NoError(t, err)
	for _, ex := range resp.Executions {
		require.True(t, strings.HasPrefix(ex.Execution.WorkflowId, "e2e-badinput/"), "unexpected workflow %s", ex.Execution.WorkflowId)
		require.NotEqual(t, enums.WORKFLOW_EXECUTION_STATUS_COMPLETED, ex.Status)
	}
	t.Logf("%d bad inputs refused (%d through the starter, %d+1 through the workflow); graphsim: %d requests, %d writes, %d tokens",
		refused, len(starterCases), len(workflowCases), st.TotalGraphRequests, st.GraphWrites, st.TokensIssued)
	addFigure(func() { figures.badInputs += refused })
}

func onboardWith(tenant, domain string) []string {
	return []string{"onboard", "--tenant-id", tenant, "--domain", domain}
}
