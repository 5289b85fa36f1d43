package main

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/cloudsync/cloudsync/starter/pkg/cmdutil"
	"github.com/cloudsync/cloudsync/starter/pkg/view"
	"github.com/cloudsync/cloudsync/workflows"
)

// fakeOffboards implements the offboarding activities by name: each tenant in
// found has one configuration of two jobs; deletes are recorded in order.
type fakeOffboards struct {
	mu      sync.Mutex
	found   map[string]bool
	deletes map[string][]string // tenant -> what was deleted, in order
}

func (f *fakeOffboards) done(tenant string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.deletes[tenant]...)
}

func (f *fakeOffboards) record(tenant, what string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deletes[tenant] = append(f.deletes[tenant], what)
}

func (f *fakeOffboards) register(w worker.Worker) {
	reg := func(fn any, name string) { w.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name}) }
	reg(func(_ context.Context, in workflows.InventoryInput) (workflows.Inventory, error) {
		if !f.found[in.TenantID] {
			return workflows.Inventory{}, nil
		}
		return workflows.Inventory{Found: true, ServicePrincipalID: "sp-1", AppID: "app-1", ApplicationObjectID: "app-obj-1", DisplayName: in.Domain,
			Jobs: []workflows.InventoryJob{{ID: "AD2AADProvisioning.job-1", TemplateID: workflows.TemplateProvisioning, ScheduleState: "Active", StatusCode: "Active"},
				{ID: "AD2AADPasswordHash.job-2", TemplateID: workflows.TemplatePasswordHash, ScheduleState: "Active", StatusCode: "Active"}}}, nil
	}, workflows.InventoryConfigurationActivity)
	reg(func(_ context.Context, in workflows.StopWatchingInput) (workflows.StepReport, error) {
		f.record(in.TenantID, "stop-watching")
		return workflows.StepReport{Step: workflows.StepStopWatching, Outcome: workflows.OutcomeChanged, Detail: "ended the watchers of " + strings.Join(in.JobIDs, ", ")}, nil
	}, workflows.StopWatchingActivity)
	reg(func(_ context.Context, in workflows.DeleteJobInput) (workflows.StepReport, error) {
		f.record(in.TenantID, in.JobID)
		return workflows.StepReport{Step: workflows.StepDeleteJobs, Outcome: workflows.OutcomeDeleted, Detail: "job " + in.JobID}, nil
	}, workflows.DeleteSyncJobActivity)
	reg(func(_ context.Context, in workflows.DeleteObjectInput) (workflows.StepReport, error) {
		f.record(in.TenantID, in.ServicePrincipalID)
		return workflows.StepReport{Step: workflows.StepDeleteSP, Outcome: workflows.OutcomeDeleted, Detail: "service principal " + in.ServicePrincipalID}, nil
	}, workflows.DeleteServicePrincipalActivity)
	reg(func(_ context.Context, in workflows.DeleteObjectInput) (workflows.StepReport, error) {
		f.record(in.TenantID, in.ApplicationObjectID)
		return workflows.StepReport{Step: workflows.StepDeleteApp, Outcome: workflows.OutcomeAlreadyGone, Detail: "application " + in.ApplicationObjectID}, nil
	}, workflows.DeleteApplicationActivity)
	reg(func(_ context.Context, in workflows.ConfirmRemovedInput) (workflows.StepReport, error) {
		return workflows.StepReport{Step: workflows.StepConfirmRemoved, Outcome: workflows.OutcomeUnchanged, Detail: "Graph's reads agree"}, nil
	}, workflows.ConfirmRemovedActivity)
}

// blocker stands in for a running onboarding: it waits until signalled.
func blocker(ctx workflow.Context) error {
	workflow.GetSignalChannel(ctx, "go").Receive(ctx, nil)
	return nil
}

// TestOffboardAgainstDevServer drives 'starter offboard' against a real
// Temporal dev server and the real OffboardTenant workflow with fake
// activities: publication, approval, rejection, refusals and exit codes.
func TestOffboardAgainstDevServer(t *testing.T) {
	srv, c := startDevServer(t)
	ctx := context.Background()
	const (
		tenantA  = "bbbbbbbb-0000-0000-0000-000000000001" // approved
		tenantR  = "bbbbbbbb-0000-0000-0000-000000000002" // rejected
		tenantN  = "bbbbbbbb-0000-0000-0000-000000000003" // nothing there
		tenantL  = "bbbbbbbb-0000-0000-0000-000000000004" // an allow-list
		tenantOn = "bbbbbbbb-0000-0000-0000-000000000005" // an onboarding runs
	)
	fake := &fakeOffboards{found: map[string]bool{tenantA: true, tenantR: true, tenantL: true, tenantOn: true}, deletes: map[string][]string{}}
	queries := &queryCounter{}
	w := worker.New(c, workflows.TaskQueue, worker.Options{Interceptors: []interceptor.WorkerInterceptor{queries}})
	defer func() { assert.Zero(t, queries.n.Load(), "queries answered: %v", queries.names()) }()
	workflows.RegisterWorkflows(w)
	w.RegisterWorkflowWithOptions(blocker, workflow.RegisterOptions{Name: "Blocker"})
	fake.register(w)
	require.NoError(t, w.Start())
	defer w.Stop()
	t.Setenv("TEMPORAL_ADDRESS", srv.FrontendHostPort())
	t.Setenv("CLOUDSYNC_UI_URL", "http://ui.test")
	off := func(tenant string, extra ...string) []string {
		return append([]string{"offboard", "--tenant-id", tenant, "--domain", "Contoso.com"}, extra...)
	}

	t.Run("nothing found: it says so, without asking", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, off(tenantN)...)
		require.Equal(t, cmdutil.ExitOK, code, "%s%s", stdout, stderr)
		assert.Contains(t, stdout, "nothing to remove")
		assert.NotContains(t, stdout, "approve with")
	})

	t.Run("deciding before any offboarding exits 4", func(t *testing.T) {
		code, _, stderr := runCLI(t, off(tenantA, "--approve", "--approver", "alice@contoso.com", "--reason", "retired")...)
		assert.Equal(t, cmdutil.ExitNotFound, code, stderr)
		assert.Contains(t, stderr, "no offboarding of tenant "+tenantA+" domain contoso.com")
	})

	t.Run("it publishes what it will remove and how to decide", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, off(tenantA)...)
		require.Equal(t, cmdutil.ExitOK, code, "%s%s", stdout, stderr)
		assert.Contains(t, stdout, "started offboarding of tenant "+tenantA+" domain contoso.com")
		assert.Contains(t, stdout, "phase:         awaiting-offboard-approval since")
		assert.Contains(t, stdout, "will remove:\n  - sync job AD2AADProvisioning.job-1 (AD2AADProvisioning, Active/Active)")
		assert.Contains(t, stdout, "  - service principal sp-1")
		assert.Contains(t, stdout, "  - application app-obj-1 (appId app-1)")
		assert.Contains(t, stdout, "never touched: the tenant's onPremisesSyncEnabled")
		assert.Contains(t, stdout, "approve with:  starter offboard --tenant-id "+tenantA+" --domain contoso.com --approve")
		assert.Empty(t, fake.done(tenantA), "nothing removed before an approval")
		desc, err := c.DescribeWorkflow(ctx, workflows.OffboardWorkflowID(tenantA, goodDomain), "")
		require.NoError(t, err)
		awaiting, _ := desc.TypedSearchAttributes.GetBool(workflows.SearchAwaitingApproval)
		assert.True(t, awaiting)
	})

	t.Run("a second offboarding shows the running one", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, off(tenantA)...)
		require.Equal(t, cmdutil.ExitOK, code, "%s%s", stdout, stderr)
		assert.Contains(t, stdout, "already running: showing it")
		assert.Contains(t, stdout, "awaiting-offboard-approval")
	})

	t.Run("list --awaiting-approval and status show it", func(t *testing.T) {
		require.Eventually(t, func() bool {
			_, stdout, _ := runCLI(t, "list", "--awaiting-approval")
			return strings.Contains(stdout, tenantA) && strings.Contains(stdout, "(offboarding)")
		}, 15*time.Second, 200*time.Millisecond)
		code, stdout, stderr := runCLI(t, "status", "--tenant-id", tenantA, "--domain", goodDomain)
		assert.Equal(t, cmdutil.ExitOK, code, "%s%s", stdout, stderr)
		assert.Contains(t, stdout, "offboarding of contoso.com:")
		assert.Contains(t, stdout, "awaiting-offboard-approval")
		code, stdout, _ = runCLI(t, "status", "--workflow-id", workflows.OffboardWorkflowID(tenantA, goodDomain))
		assert.Equal(t, cmdutil.ExitOK, code)
		assert.Contains(t, stdout, "will remove:")
	})

	t.Run("approve --wait removes in order and prints each step", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, off(tenantA, "--approve", "--approver", "alice@contoso.com", "--reason", "domain retired", "--wait")...)
		require.Equal(t, cmdutil.ExitOK, code, "%s%s", stdout, stderr)
		assert.Contains(t, stdout, "approved by alice@contoso.com: domain retired")
		for _, r := range []workflows.StepReport{
			{Step: workflows.StepDeleteJobs, Outcome: workflows.OutcomeDeleted, Detail: "job AD2AADProvisioning.job-1"},
			{Step: workflows.StepDeleteJobs, Outcome: workflows.OutcomeDeleted, Detail: "job AD2AADPasswordHash.job-2"},
			{Step: workflows.StepDeleteSP, Outcome: workflows.OutcomeDeleted, Detail: "service principal sp-1"},
			{Step: workflows.StepDeleteApp, Outcome: workflows.OutcomeAlreadyGone, Detail: "application app-obj-1"},
			{Step: workflows.StepConfirmRemoved, Outcome: workflows.OutcomeUnchanged, Detail: "Graph's reads agree"},
			{Step: workflows.StepSyncFlagUntouched, Outcome: workflows.OutcomeSkipped, Detail: workflows.SyncFlagNote},
		} {
			assert.Contains(t, stdout, view.StepLine(r)+"\n")
		}
		assert.Less(t, strings.Index(stdout, "stop-watching"), strings.Index(stdout, "delete-jobs"))
		assert.Contains(t, stdout, "done: tenant "+tenantA+" (contoso.com): offboarded (approved by alice@contoso.com)")
		assert.Equal(t, []string{"stop-watching", "AD2AADProvisioning.job-1", "AD2AADPasswordHash.job-2", "sp-1", "app-obj-1"}, fake.done(tenantA))
	})

	t.Run("deciding on a finished offboarding exits 4", func(t *testing.T) {
		code, _, stderr := runCLI(t, off(tenantA, "--reject", "--approver", "bob@contoso.com", "--reason", "late")...)
		assert.Equal(t, cmdutil.ExitNotFound, code, stderr)
		assert.Contains(t, stderr, "is completed: nothing awaits a decision")
	})

	t.Run("rejected: nothing removed", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, off(tenantR)...)
		require.Equal(t, cmdutil.ExitOK, code, "%s%s", stdout, stderr)
		code, stdout, stderr = runCLI(t, off(tenantR, "--reject", "--approver", "bob@contoso.com", "--reason", "still in use", "--wait")...)
		require.Equal(t, cmdutil.ExitOK, code, "%s%s", stdout, stderr)
		assert.Contains(t, stdout, "rejected by bob@contoso.com: still in use")
		assert.Contains(t, stdout, "offboarding rejected by bob@contoso.com: nothing removed")
		assert.Empty(t, fake.done(tenantR))
	})

	t.Run("an approver not on the allow-list is refused by the workflow (exit 1)", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, off(tenantL, "--allowed-approver", "alice@contoso.com")...)
		require.Equal(t, cmdutil.ExitOK, code, "%s%s", stdout, stderr)
		code, _, stderr = runCLI(t, off(tenantL, "--approve", "--approver", "mallory@contoso.com", "--reason", "x")...)
		assert.Equal(t, cmdutil.ExitFailed, code, stderr)
		assert.Contains(t, stderr, "approve refused: mallory@contoso.com is not an allowed approver")
		assert.Empty(t, fake.done(tenantL))
		code, _, stderr = runCLI(t, off(tenantL, "--approve", "--approver", "alice@contoso.com", "--reason", "retired")...)
		assert.Equal(t, cmdutil.ExitOK, code, stderr)
		require.Eventually(t, func() bool { return len(fake.done(tenantL)) == 5 }, 15*time.Second, 100*time.Millisecond)
	})

	t.Run("refused while an onboarding of the pair runs (exit 3)", func(t *testing.T) {
		id := workflows.OnboardWorkflowID(tenantOn, goodDomain)
		_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: workflows.TaskQueue}, "Blocker")
		require.NoError(t, err)
		code, _, stderr := runCLI(t, off(tenantOn)...)
		assert.Equal(t, cmdutil.ExitRunning, code, stderr)
		assert.Contains(t, stderr, "an onboarding of tenant "+tenantOn+" domain contoso.com is running")
		require.NoError(t, c.SignalWorkflow(ctx, id, "", "go", nil))
		_, err = c.DescribeWorkflow(ctx, workflows.OffboardWorkflowID(tenantOn, goodDomain), "")
		assert.True(t, cmdutil.IsNotFound(err), "no offboarding was started")
	})
}
