package e2e

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enums "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/cloudsync/cloudsync/graphsim"
	"github.com/cloudsync/cloudsync/workflows"
)

// waitTicks waits until graphsim's sync engine has ticked n more times.
func waitTicks(t *testing.T, sim *graphsim.Server, n int) {
	t.Helper()
	before := sim.Stats().EngineTicks
	require.Eventually(t, func() bool { return sim.Stats().EngineTicks >= before+n }, 30*time.Second, 10*time.Millisecond, "%d engine ticks", n)
}

// describe is DescribeWorkflowExecution through the SDK's DescribeWorkflow
// (which replaces the deprecated call of that name).
func describe(ctx context.Context, c client.Client, workflowID string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	d, err := c.DescribeWorkflow(ctx, workflowID, "")
	if err != nil {
		return nil, err
	}
	return d.RawResponse, nil
}

// pollEvery is how often require.Eventually looks again in the e2e tests.
const pollEvery = 200 * time.Millisecond

func (e *env) job(tenant, id string) graphsim.JobState {
	for _, j := range e.sim.Snapshot(tenant).Jobs {
		if j.ID == id {
			return j
		}
	}
	return graphsim.JobState{}
}

func (e *env) watchState(t *testing.T, tenant, job string) workflows.WatchState {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := e.client.QueryWorkflow(ctx, workflows.WatchWorkflowID(tenant, job), "", workflows.StatusQuery)
	if err != nil {
		return workflows.WatchState{}
	}
	var st workflows.WatchState
	require.NoError(t, v.Get(&st))
	return st
}

// forceDeletes counts the ForceDeletes restarts graphsim saw for a tenant.
func (e *env) forceDeletes(tenant string) int {
	n := 0
	for _, r := range e.sim.RequestLog() {
		if r.Tenant == tenant && strings.HasSuffix(r.Route, "/restart") && strings.Contains(r.Body, "ForceDeletes") {
			n++
		}
	}
	return n
}

func TestDeletesAboveThresholdWaitForAHuman(t *testing.T) {
	e := setup(t)
	t.Parallel()
	const tenant, domain = "0b7f4c3e-1d2a-4e5f-8a9b-0c1d2e3f4a10", "deletes.contoso.com"
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	// Onboard with fast watchers; the watcher continues as new every ~60 events,
	// so decisions must survive continue-as-new on a real server.
	spec := workflows.TenantSpec{TenantID: tenant, Domain: domain, PasswordHashSync: true,
		DeleteThreshold: workflows.DeleteThreshold{Value: ptr(10)}}
	run, err := e.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: workflows.OnboardWorkflowID(tenant, domain), TaskQueue: workflows.TaskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(workflows.SearchTenant.ValueSet(tenant), workflows.SearchDomain.ValueSet(domain)),
	}, workflows.OnboardTenantWorkflow, workflows.OnboardInput{Spec: spec, WatchOptions: workflows.WatchOptions{
		ReminderInterval: time.Hour, MaxHistoryEvents: 60, Webhook: "e2e-hook",
	}})
	require.NoError(t, err)
	var res workflows.OnboardResult
	require.NoError(t, run.Get(ctx, &res), "worker:\n%s", e.workerOutput())
	prov := res.Jobs[workflows.TemplateProvisioning]
	require.Len(t, res.Watchers, 2)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("watcher state: %+v", e.watchState(t, tenant, prov))
			t.Logf("graphsim job: %+v", e.job(tenant, prov))
			t.Logf("worker:\n%s", tailLines(e.workerOutput(), 80))
		}
	})
	require.Eventually(t, func() bool {
		return e.watchState(t, tenant, prov).Job.StatusCode == "Active"
	}, 60*time.Second, pollEvery, "the watcher to see the job running")

	// Below the threshold: applied on the next cycle, nobody asked.
	require.NoError(t, e.sim.StageDeletions(tenant, prov, 9))
	require.Eventually(t, func() bool { return e.job(tenant, prov).AppliedDeletions == 9 }, 20*time.Second, pollEvery, "9 deletions applied")
	require.Equal(t, 0, e.forceDeletes(tenant))

	// At the threshold: quarantined, the watcher asks for approval.
	require.NoError(t, e.sim.StageDeletions(tenant, prov, 10))
	require.Eventually(t, func() bool {
		return e.watchState(t, tenant, prov).Phase == workflows.PhaseAwaitingApproval
	}, 60*time.Second, pollEvery, "awaiting approval")
	require.Equal(t, "Quarantine", e.job(tenant, prov).StatusCode)
	require.Eventually(t, func() bool {
		out, _, code := e.starter(t, "list", "--awaiting-approval")
		return code == 0 && strings.Contains(out, tenant)
	}, 60*time.Second, pollEvery, "the tenant listed as awaiting approval")
	require.Equal(t, 0, e.forceDeletes(tenant), "ForceDeletes before any approval")
	require.Equal(t, 10, e.job(tenant, prov).PendingDeletions)
	require.Eventually(t, func() bool { return len(e.hook.notified(tenant, "awaiting-approval")) > 0 }, 60*time.Second, pollEvery, "the webhook named in the options told")

	// Approve with the starter.
	out, errOut, code := e.starter(t, "approve", "--tenant-id", tenant, "--domain", domain,
		"--approver", "alice@contoso.com", "--reason", "HR offboarding batch")
	require.Equal(t, 0, code, "approve:\n%s\n%s", out, errOut)
	require.Contains(t, out, "restart-issued")
	require.Eventually(t, func() bool {
		j := e.job(tenant, prov)
		return j.AppliedDeletions == 19 && j.PendingDeletions == 0 && j.StatusCode == "Active"
	}, 60*time.Second, pollEvery, "deletions applied and the job active")
	require.Eventually(t, func() bool {
		return e.watchState(t, tenant, prov).Phase == workflows.PhaseWatching
	}, 60*time.Second, pollEvery, "the watcher back to watching")
	require.Equal(t, 1, e.forceDeletes(tenant))

	// Once more, approving with the plain Temporal CLI.
	require.NoError(t, e.sim.StageDeletions(tenant, prov, 12))
	require.Eventually(t, func() bool {
		return e.watchState(t, tenant, prov).Phase == workflows.PhaseAwaitingApproval
	}, 60*time.Second, pollEvery, "awaiting approval again")
	cli, err := findTemporalCLI()
	require.NoError(t, err)
	// Without an episode, the signal binds to the one presented when it arrives.
	input, _ := json.Marshal(workflows.DecisionRequest{Approver: "bob@contoso.com", Reason: "second batch"})
	cmd := exec.CommandContext(ctx, cli, "workflow", "signal", "--address", e.hostPort,
		"--workflow-id", workflows.WatchWorkflowID(tenant, prov), "--name", workflows.ApproveSignal, "--input", string(input))
	cliOut, err := cmd.CombinedOutput()
	require.NoError(t, err, "temporal workflow signal: %s", cliOut)
	require.Eventually(t, func() bool {
		j := e.job(tenant, prov)
		return j.AppliedDeletions == 31 && j.StatusCode == "Active"
	}, 60*time.Second, pollEvery, "the second batch applied")
	require.Equal(t, 2, e.forceDeletes(tenant))

	// A rejection leaves the deletions pending.
	require.NoError(t, e.sim.StageDeletions(tenant, prov, 20))
	require.Eventually(t, func() bool {
		return e.watchState(t, tenant, prov).Phase == workflows.PhaseAwaitingApproval
	}, 60*time.Second, pollEvery, "awaiting approval a third time")
	out, errOut, code = e.starter(t, "reject", "--tenant-id", tenant, "--domain", domain,
		"--approver", "carol@contoso.com", "--reason", "unexpected OU move")
	require.Equal(t, 0, code, "reject:\n%s\n%s", out, errOut)
	st := e.watchState(t, tenant, prov)
	require.Equal(t, workflows.PhaseRejected, st.Phase)
	// Graph re-evaluates the quarantine (graphsim every 2 s here): the same
	// series is not asked again.
	before := e.job(tenant, prov)
	require.Eventually(t, func() bool {
		j := e.job(tenant, prov)
		return j.QuarantineSeriesCount >= before.QuarantineSeriesCount+2 && j.QuarantineSeriesBegan.Equal(before.QuarantineSeriesBegan)
	}, 60*time.Second, pollEvery, "two re-evaluations of the rejected quarantine")
	st = e.watchState(t, tenant, prov)
	require.Equal(t, workflows.PhaseRejected, st.Phase, "a re-evaluation does not re-open a decided episode")
	j := e.job(tenant, prov)
	require.Equal(t, 20, j.PendingDeletions)
	require.Equal(t, "Quarantine", j.StatusCode)
	require.Equal(t, 2, e.forceDeletes(tenant), "ForceDeletes only for the two approvals")

	// Fixed on-premises? Only an explicit resume starts the job again; the
	// deletions still over the threshold quarantine it again, as a new episode.
	rejected := e.watchState(t, tenant, prov)
	out, errOut, code = e.starter(t, "resume", "--tenant-id", tenant, "--job-id", prov, "--by", "carol@contoso.com", "--reason", "checking the fix")
	require.Equal(t, 0, code, "resume:\n%s\n%s", out, errOut)
	require.Contains(t, out, "started")
	require.Eventually(t, func() bool {
		st := e.watchState(t, tenant, prov)
		return st.Presented != nil && !st.Presented.SeriesBegan.Equal(rejected.Job.SeriesBegan)
	}, 60*time.Second, pollEvery, "a new episode presented")
	require.Equal(t, 2, e.forceDeletes(tenant), "a resume forces nothing")
	require.Equal(t, 20, e.job(tenant, prov).PendingDeletions)

	// The decisions are in the state (and the history), across continue-as-new.
	st = e.watchState(t, tenant, prov)
	var who []string
	for _, d := range st.Decisions {
		who = append(who, d.Approver+":"+d.Outcome)
	}
	require.Equal(t, []string{"alice@contoso.com:restart-issued", "bob@contoso.com:restart-issued", "carol@contoso.com:rejected", "carol@contoso.com:started"}, who)
	require.Greater(t, st.Runs, 1, "the watcher continued as new")
	e.requireBoundedHistory(t, workflows.WatchWorkflowID(tenant, prov), 60)
	e.recordHistories(t, workflows.WatchWorkflowID(tenant, prov), "watch-approvals")
	// graphsim flags every start that lifts a TooManyDeletes quarantine: here
	// exactly the operator's explicit resume, nothing else.
	var lifted int
	for _, v := range e.sim.Violations() {
		if v.Tenant != tenant {
			continue
		}
		require.Equal(t, graphsim.ViolationStartLiftedQuarantine, v.Kind, "graphsim violation: %+v", v)
		lifted++
	}
	require.Equal(t, 1, lifted)
}

// requireBoundedHistory checks every run of a workflow stayed near the bound.
func (e *env) requireBoundedHistory(t *testing.T, workflowID string, bound int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := e.client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: "WorkflowId = '" + workflowID + "'"})
	require.NoError(t, err)
	require.NotEmpty(t, resp.Executions)
	for _, ex := range resp.Executions {
		n := 0
		it := e.client.GetWorkflowHistory(ctx, workflowID, ex.Execution.RunId, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			_, err := it.Next()
			require.NoError(t, err)
			n++
		}
		// A run ends after the loop iteration that crosses the bound, and it
		// first drains what arrived meanwhile (decisions, reports, their
		// notifications): never dropped, so a run may end up to about the
		// bound again past it under load. Bounded all the same.
		require.LessOrEqual(t, n, 2*bound, "run %s has %d events", ex.Execution.RunId, n)
	}
}

func ptr[T any](v T) *T { return &v }

func tailLines(s string, n int) string {
	l := strings.Split(s, "\n")
	return strings.Join(l[max(0, len(l)-n):], "\n")
}
