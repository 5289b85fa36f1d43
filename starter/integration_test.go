package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/cloudsync/cloudsync/starter/pkg/cmd/cmdtest"
	"github.com/cloudsync/cloudsync/starter/pkg/cmd/onboard"
	"github.com/cloudsync/cloudsync/starter/pkg/cmd/status"
	"github.com/cloudsync/cloudsync/starter/pkg/cmdutil"
	"github.com/cloudsync/cloudsync/starter/pkg/view"
	"github.com/cloudsync/cloudsync/starter/pkg/visibility"
	"github.com/cloudsync/cloudsync/workflows"
	"github.com/cloudsync/cloudsync/workflows/workflowstest"
)

// fakeActivities is the shared fake (workflowstest) with what these tests
// need on top: tenants in gates block in EnableTenantSync until the gate
// closes, tenants in failJobs fail EnsureJobs for good, and a job id with
// "denied" in it answers 403 to a look. Poll stands in for the poller until
// the test ends.
func fakeActivities(t *testing.T, c client.Client, w worker.Worker, gates map[string]chan struct{}, failJobs map[string]bool) *workflowstest.Fake {
	f := workflowstest.New()
	f.Before = func(ctx context.Context, activity string, in any) error {
		switch in := in.(type) {
		case workflows.TenantInput:
			if g := gates[in.TenantID]; g != nil {
				select {
				case <-g:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		case workflows.EnsureJobsInput:
			if failJobs[in.TenantID] {
				return workflowstest.Refuse("Forbidden", "Graph said 403: missing Synchronization.ReadWrite.All")
			}
		case workflows.WatchTarget:
			if strings.Contains(in.JobID, "denied") {
				return workflowstest.Refuse("GraphForbidden", "Graph answered 403 Forbidden: Authorization_RequestDenied")
			}
		}
		return nil
	}
	w.RegisterActivity(f.Activities())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() { defer close(done); f.Poll(ctx, c, 100*time.Millisecond) }()
	return f
}

// TestAgainstDevServer drives the CLI against a real Temporal dev server and
// the real OnboardTenant and WatchSyncJob workflows with fake activities. It needs
// the Temporal CLI ($TEMPORAL_CLI or on PATH); -short skips it.
func TestAgainstDevServer(t *testing.T) {
	srv, c := startDevServer(t)
	ctx := context.Background()
	const (
		tenantOK   = "aaaaaaaa-0000-0000-0000-000000000001"
		tenantGate = "aaaaaaaa-0000-0000-0000-000000000002"
		tenantFail = "aaaaaaaa-0000-0000-0000-000000000003"
	)
	gate := make(chan struct{})
	// Every query a worker answers is a billed action: the starter asks none
	// (status, list, approve and onboard --wait read Describe and listings).
	queries := &queryCounter{}
	w := worker.New(c, workflows.TaskQueue, worker.Options{Interceptors: []interceptor.WorkerInterceptor{queries}})
	defer func() {
		assert.Zero(t, queries.n.Load(), "queries answered: %v", queries.names())
	}()
	workflows.RegisterWorkflows(w)
	jobs := fakeActivities(t, c, w, map[string]chan struct{}{tenantGate: gate}, map[string]bool{tenantFail: true})
	jobs.DriftEvery = 300 * time.Millisecond
	require.NoError(t, w.Start())
	defer w.Stop()

	t.Setenv("TEMPORAL_ADDRESS", srv.FrontendHostPort())
	t.Setenv("CLOUDSYNC_UI_URL", "http://ui.test")

	t.Run("status of an unknown tenant exits 4", func(t *testing.T) {
		code, _, stderr := runCLI(t, "status", "--tenant-id", tenantOK, "--domain", goodDomain)
		assert.Equal(t, cmdutil.ExitNotFound, code, stderr)
		assert.Contains(t, stderr, "no onboarding of tenant "+tenantOK+" domain contoso.com (workflow id "+workflows.OnboardWorkflowID(tenantOK, goodDomain)+") found in namespace default")
	})

	t.Run("onboard --wait prints every step and the result", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, "onboard", "--tenant-id", strings.ToUpper(tenantOK), "--domain", "Contoso.com.",
			"--password-hash-sync", "--exchange-writeback", "--notify", "--recipient", "admin@contoso.com", "--wait",
			"--approver", "alice@contoso.com", "--approver", "bob@contoso.com", "--reminder-interval", "2h", "--webhook", "teams-ops")
		require.Equal(t, cmdutil.ExitOK, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
		id := workflows.OnboardWorkflowID(tenantOK, goodDomain)
		assert.Contains(t, stdout, "workflow id: "+id)
		assert.Contains(t, stdout, "http://ui.test/namespaces/default/workflows/cloudsync-onboard%2F"+tenantOK+"%2Fcontoso.com")
		for _, step := range []string{"tenant-sync-flag", "application", "jobs", "secrets", "schema", "exchange", "start-jobs"} {
			assert.Contains(t, stdout, "\n  "+step+" ", step)
		}
		assert.Contains(t, stdout, "done: tenant "+tenantOK+" (contoso.com): onboarded, service principal sp-1, 3 job(s)")
		assert.Contains(t, stdout, "AAD2ADExchangeHybridWriteback")
		assert.Empty(t, stderr)

		desc, err := c.DescribeWorkflow(ctx, id, "")
		require.NoError(t, err)
		summary, _ := desc.GetStaticSummary()
		assert.Equal(t, "Onboard contoso.com ("+tenantOK+")", summary)
		got, _ := desc.TypedSearchAttributes.GetKeyword(workflows.SearchTenant)
		assert.Equal(t, tenantOK, got)

		// The watch options reached the onboarding, and through it the watchers.
		var in workflows.OnboardInput
		require.NoError(t, firstInput(ctx, c, id, &in))
		assert.Equal(t, workflows.WatchOptions{Approvers: []string{"alice@contoso.com", "bob@contoso.com"}, ReminderInterval: 2 * time.Hour,
			Webhook: "teams-ops"}, in.WatchOptions)
		assert.Nil(t, in.Watch)
		assert.Contains(t, stdout, "watchers:")
		var win workflows.WatchInput
		require.NoError(t, firstInput(ctx, c, workflows.WatchWorkflowID(tenantOK, "AD2AADProvisioning.job-1"), &win))
		assert.Equal(t, in.WatchOptions, win.Options)
		assert.Equal(t, "sp-1", win.ServicePrincipalID)
	})

	t.Run("status of a completed onboarding", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, "status", "--tenant-id", tenantOK, "--domain", goodDomain)
		require.Equal(t, cmdutil.ExitOK, code, stderr)
		assert.Contains(t, stdout, "status:        completed")
		assert.Contains(t, stdout, "service principal:  sp-1")
		assert.Contains(t, stdout, "AD2AADPasswordHash")
	})

	t.Run("re-running a finished onboarding is allowed", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, "onboard", "--tenant-id", tenantOK, "--domain", goodDomain, "--wait")
		require.Equal(t, cmdutil.ExitOK, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
		assert.Contains(t, stdout, "application               unchanged")
	})

	t.Run("a second onboarding while one runs exits 3", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, "onboard", "--tenant-id", tenantGate, "--domain", goodDomain)
		require.Equal(t, cmdutil.ExitOK, code, stderr)
		assert.Contains(t, stdout, "follow it with: starter status")

		code, _, stderr = runCLI(t, "onboard", "--tenant-id", tenantGate, "--domain", "CONTOSO.com")
		assert.Equal(t, cmdutil.ExitRunning, code, stderr)
		assert.Contains(t, stderr, "an onboarding of tenant "+tenantGate+" domain contoso.com is already running (workflow id "+
			workflows.OnboardWorkflowID(tenantGate, goodDomain)+"); follow it with: starter status --tenant-id "+tenantGate+" --domain contoso.com")

		require.Eventually(t, func() bool {
			code, stdout, _ = runCLI(t, "status", "--workflow-id", workflows.OnboardWorkflowID(tenantGate, goodDomain))
			return code == cmdutil.ExitOK && strings.Contains(stdout, "current step:  tenant-sync-flag")
		}, 10*time.Second, 200*time.Millisecond, stdout)
		assert.Contains(t, stdout, "status:        running")
		// No progress query (a billed action): the steps come with the result.
		assert.Contains(t, stdout, "steps:         listed when it ends")

		require.Eventually(t, func() bool {
			code, stdout, _ = runCLI(t, "list", "--tenant-id", tenantGate)
			return code == cmdutil.ExitOK && strings.Contains(stdout, "onboarding  "+tenantGate)
		}, 10*time.Second, 200*time.Millisecond, stdout)
		assert.Contains(t, stdout, "step tenant-sync-flag")
		assert.Contains(t, stdout, "http://ui.test/namespaces/default/workflows/cloudsync-onboard%2F"+tenantGate)

		// Follow it with a second client while the gate opens.
		done := make(chan struct{})
		var wcode int
		var out, errOut cmdtest.SyncBuffer
		go func() {
			defer close(done)
			wcode = runAttach(t, tenantGate, &out, &errOut)
		}()
		// Open the gate once the second client shows the step it waits in.
		require.Eventually(t, func() bool { return strings.Contains(out.String(), "tenant-sync-flag") }, 10*time.Second, 50*time.Millisecond)
		close(gate)
		<-done
		assert.Equal(t, cmdutil.ExitOK, wcode)
	})

	t.Run("--output json: onboard --wait, and status, as documents a script decodes", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, "onboard", "--tenant-id", tenantOK, "--domain", goodDomain, "--wait", "--output", "json")
		require.Equal(t, cmdutil.ExitOK, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
		var ov view.OnboardingView
		require.NoError(t, json.Unmarshal([]byte(stdout), &ov), "stdout is one JSON document:\n%s", stdout)
		assert.Equal(t, "completed", ov.Status)
		assert.Equal(t, workflows.OnboardWorkflowID(tenantOK, goodDomain), ov.WorkflowID)
		require.NotNil(t, ov.Result)
		assert.Equal(t, "sp-1", ov.Result.ServicePrincipalID)
		assert.NotEmpty(t, ov.Steps)
		assert.Contains(t, stderr, "waiting on", "progress goes to stderr")
		assert.NotContains(t, stdout, "waiting on")

		code, stdout, stderr = runCLI(t, "status", "--tenant-id", tenantOK, "--domain", goodDomain, "--output", "json")
		require.Equal(t, cmdutil.ExitOK, code, stderr)
		var sv status.View
		require.NoError(t, json.Unmarshal([]byte(stdout), &sv), stdout)
		require.Len(t, sv.Onboardings, 1)
		assert.Equal(t, "completed", sv.Onboardings[0].Status)
		assert.Equal(t, workflows.OnboardingCompleted, sv.Onboardings[0].Outcome)
		require.NotNil(t, sv.Onboardings[0].Result)
		assert.Equal(t, ov.Result.Jobs, sv.Onboardings[0].Result.Jobs)
	})

	t.Run("a failed onboarding exits 1 and lists what exists", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, "onboard", "--tenant-id", tenantFail, "--domain", goodDomain, "--wait")
		assert.Equal(t, cmdutil.ExitFailed, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
		assert.Contains(t, stderr, "onboarding failed: onboarding "+tenantFail+" (contoso.com) failed at step jobs: ")
		assert.Contains(t, stderr, "missing Synchronization.ReadWrite.All")
		assert.Contains(t, stdout, "\n  application               created")
		assert.Contains(t, stdout, "\n  jobs                      failed")
		assert.Contains(t, stdout, "what exists now")
		assert.Contains(t, stdout, "service principal:  sp-1")

		code, stdout, _ = runCLI(t, "status", "--tenant-id", tenantFail, "--domain", goodDomain)
		assert.Equal(t, cmdutil.ExitFailed, code)
		assert.Contains(t, stdout, "status:        failed")
		assert.Contains(t, stdout, "jobs                      failed")

		// JSON says the same, with the same exit code.
		code, stdout, _ = runCLI(t, "status", "--tenant-id", tenantFail, "--domain", goodDomain, "--output", "json")
		assert.Equal(t, cmdutil.ExitFailed, code)
		var sv status.View
		require.NoError(t, json.Unmarshal([]byte(stdout), &sv), stdout)
		require.Len(t, sv.Onboardings, 1)
		assert.Equal(t, "failed", sv.Onboardings[0].Status)
		assert.Contains(t, sv.Onboardings[0].Error, "missing Synchronization.ReadWrite.All")
	})

	t.Run("status --tenant-id shows the onboarding and its watchers", func(t *testing.T) {
		var stdout, stderr string
		var code int
		require.Eventually(t, func() bool {
			code, stdout, stderr = runCLI(t, "status", "--tenant-id", tenantOK)
			return code == cmdutil.ExitOK && strings.Contains(stdout, "onboarding of contoso.com:") && strings.Contains(stdout, "watchers of tenant "+tenantOK+" (3):") &&
				strings.Count(stdout, field("phase", "watching")) == 3
		}, 10*time.Second, 200*time.Millisecond, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
		assert.Contains(t, stdout, "status:        completed")
		for _, job := range []string{"AD2AADProvisioning.job-1", "AD2AADPasswordHash.job-1", "AAD2ADExchangeHybridWriteback.job-1"} {
			assert.Contains(t, stdout, "  "+field("job id", job)+"\n")
		}
		assert.Contains(t, stdout, field("job status", "schedule Active, status Active"))
		assert.Contains(t, stdout, field("web ui", "http://ui.test/namespaces/default/workflows/cloudsync-watch%2F"+tenantOK+"%2FAD2AADProvisioning.job-1"))

		// With --domain: the onboarding as before, then the watchers.
		code, stdout, stderr = runCLI(t, "status", "--tenant-id", tenantOK, "--domain", goodDomain)
		require.Equal(t, cmdutil.ExitOK, code, stderr)
		assert.True(t, strings.HasPrefix(stdout, fmt.Sprintf("%-14s %s", "workflow id:", workflows.OnboardWorkflowID(tenantOK, goodDomain))), stdout)
		assert.Contains(t, stdout, "watchers of tenant "+tenantOK+" domain contoso.com (3):")

		// Another domain: neither its onboarding nor the tenant's other watchers.
		code, stdout, stderr = runCLI(t, "status", "--tenant-id", tenantOK, "--domain", "nope.com")
		assert.Equal(t, cmdutil.ExitNotFound, code, stderr)
		assert.NotContains(t, stdout, "watchers of tenant", "the watchers of other domains are not listed")
		assert.NotContains(t, stdout, "job id:")
		assert.Contains(t, stderr, "no onboarding of tenant "+tenantOK+" domain nope.com")

		// A failed onboarding without watchers still exits 1.
		code, stdout, _ = runCLI(t, "status", "--tenant-id", tenantFail)
		assert.Equal(t, cmdutil.ExitFailed, code)
		assert.Contains(t, stdout, "status:        failed")
		assert.Contains(t, stdout, "watchers:      none")

		code, _, stderr = runCLI(t, "status", "--tenant-id", "aaaaaaaa-0000-0000-0000-0000000000ff")
		assert.Equal(t, cmdutil.ExitNotFound, code)
		assert.Contains(t, stderr, "no onboarding or watcher of tenant aaaaaaaa-0000-0000-0000-0000000000ff found")
	})

	t.Run("watch, list, approve and reject", func(t *testing.T) {
		const (
			tenant = "aaaaaaaa-0000-0000-0000-000000000004"
			sp     = "bbbbbbbb-0000-0000-0000-000000000004"
			jobA   = "AD2AADProvisioning.watch-a"
			jobB   = "AD2AADPasswordHash.watch-b"
		)
		idA, idB := workflows.WatchWorkflowID(tenant, jobA), workflows.WatchWorkflowID(tenant, jobB)
		jobs.Quarantine(tenant, jobA)
		jobs.Quarantine(tenant, jobB)
		watch := func(job string) (int, string, string) {
			return runCLI(t, "watch", "--tenant-id", strings.ToUpper(tenant), "--service-principal-id", sp, "--job-id", job, "--domain", "Contoso.com",
				"--reminder-interval", "1h", "--approver", "alice@contoso.com", "--approver", "bob@contoso.com",
				"--webhook", "teams-ops")
		}

		code, stdout, stderr := watch(jobA)
		require.Equal(t, cmdutil.ExitOK, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
		assert.Contains(t, stdout, "workflow id: "+idA)
		assert.Contains(t, stdout, "web ui:      http://ui.test/namespaces/default/workflows/cloudsync-watch%2F"+tenant+"%2F"+jobA)
		desc, err := c.DescribeWorkflow(ctx, idA, "")
		require.NoError(t, err)
		summary, _ := desc.GetStaticSummary()
		assert.Equal(t, "Watch "+jobA+" (contoso.com)", summary)
		for k, want := range map[temporal.SearchAttributeKeyKeyword]string{workflows.SearchTenant: tenant, workflows.SearchDomain: goodDomain} {
			got, _ := desc.TypedSearchAttributes.GetKeyword(k)
			assert.Equal(t, want, got, k.GetName())
		}
		var win workflows.WatchInput
		require.NoError(t, firstInput(ctx, c, idA, &win))
		assert.Equal(t, workflows.WatchInput{TenantID: tenant, Domain: goodDomain, ServicePrincipalID: sp, JobID: jobA, LookFirst: true, Options: workflows.WatchOptions{
			ReminderInterval: time.Hour, Approvers: []string{"alice@contoso.com", "bob@contoso.com"}, Webhook: "teams-ops"}}, win)

		code, _, stderr = watch(jobA)
		assert.Equal(t, cmdutil.ExitRunning, code, stderr)
		assert.Contains(t, stderr, "job "+jobA+" of tenant "+tenant+" is already watched (workflow id "+idA+")")

		code, stdout, stderr = watch(jobB)
		require.Equal(t, cmdutil.ExitOK, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)

		// Visibility trails the workflows: poll.
		require.Eventually(t, func() bool {
			code, stdout, _ = runCLI(t, "list", "--awaiting-approval")
			return code == cmdutil.ExitOK && strings.Contains(stdout, jobA) && strings.Contains(stdout, jobB)
		}, 10*time.Second, 200*time.Millisecond, stdout)
		assert.Contains(t, stdout, "TENANT")
		assert.Regexp(t, tenant+` +contoso\.com +`+regexp.QuoteMeta(jobA)+` +\d{4}-\d\d-\d\dT\S+ +http://ui\.test/namespaces/default/workflows/cloudsync-watch%2F`+tenant+`%2F`+regexp.QuoteMeta(jobA), stdout)
		assert.NotContains(t, stdout, "(started)", "awaiting since comes from the status query")
		assert.NotEmpty(t, jobs.Notified(tenant, jobA, "awaiting-approval"))
		assert.Equal(t, "teams-ops", jobs.Notified(tenant, jobA, "awaiting-approval")[0].Webhook)

		code, stdout, stderr = runCLI(t, "status", "--tenant-id", tenant)
		require.Equal(t, cmdutil.ExitOK, code, stderr)
		assert.Contains(t, stdout, "watchers of tenant "+tenant+" (2):")
		assert.Contains(t, stdout, field("phase", "awaiting-delete-approval"))
		assert.Contains(t, stdout, field("quarantine", "TooManyDeletes (TooManyDeletes): 1200 deletions exceed the threshold of 500, series began"))
		episodeA := workflows.Episode{JobID: jobA, SeriesBegan: workflowstest.Series}.ID()
		assert.Contains(t, stdout, field("awaiting decision", "episode "+episodeA))
		assert.Contains(t, stdout, field("awaiting since", ""))
		assert.Contains(t, stdout, field("advice", "the accidental-delete threshold held deletions back"))
		assert.NotContains(t, stdout, "onboarding of")

		// Two await: the tenant and domain are not enough.
		code, stdout, stderr = runCLI(t, "approve", "--tenant-id", tenant, "--domain", goodDomain, "--approver", "alice@contoso.com", "--reason", "HR offboarding batch")
		assert.Equal(t, cmdutil.ExitUsage, code, stderr)
		assert.Contains(t, stderr, "2 jobs of tenant "+tenant+" domain contoso.com await a decision: give --job-id")
		assert.Contains(t, stderr, jobA)
		assert.Contains(t, stderr, jobB)
		assert.Empty(t, jobs.Restarts(tenant, jobA))

		code, _, stderr = runCLI(t, "approve", "--tenant-id", tenant, "--job-id", jobA, "--approver", "mallory@contoso.com", "--reason", "why not")
		assert.Equal(t, cmdutil.ExitFailed, code, stderr)
		assert.Contains(t, stderr, "approve refused: mallory@contoso.com is not an allowed approver for this tenant")
		assert.Empty(t, jobs.Restarts(tenant, jobA))

		code, stdout, stderr = runCLI(t, "approve", "--tenant-id", tenant, "--job-id", jobA, "--approver", "alice@contoso.com",
			"--reason", "HR offboarding batch", "--async=false")
		require.Equal(t, cmdutil.ExitOK, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
		assert.Contains(t, stdout, "approved by alice@contoso.com: restart-issued")
		assert.Contains(t, stdout, "episode:     "+episodeA)
		restarts := jobs.Restarts(tenant, jobA)
		require.Len(t, restarts, 1)
		assert.Equal(t, episodeA, restarts[0].Episode.ID(), "bound to the episode the command saw")
		assert.Equal(t, "alice@contoso.com", restarts[0].Decision.Approver)
		assert.Equal(t, "HR offboarding batch", restarts[0].Decision.Reason)
		assert.True(t, restarts[0].Decision.Approve)
		assert.Equal(t, sp, restarts[0].ServicePrincipalID)

		// The same decision again is the same update: a no-op with the same answer.
		code, stdout, stderr = runCLI(t, "approve", "--tenant-id", tenant, "--job-id", jobA, "--approver", "alice@contoso.com",
			"--reason", "HR offboarding batch", "--episode", episodeA)
		assert.Equal(t, cmdutil.ExitOK, code, stderr)
		assert.Contains(t, stdout, "approved by alice@contoso.com: restart-issued")
		assert.Len(t, jobs.Restarts(tenant, jobA), 1)
		// Nothing presented: recorded as not acted upon, exit 4.
		code, _, stderr = runCLI(t, "approve", "--tenant-id", tenant, "--job-id", jobA, "--approver", "alice@contoso.com", "--reason", "again")
		assert.Equal(t, cmdutil.ExitNotFound, code, stderr)
		assert.Contains(t, stderr, "nothing was decided: nothing awaited a decision on job "+jobA)
		assert.Len(t, jobs.Restarts(tenant, jobA), 1)

		// Only B awaits now (once visibility has caught up): reject it by tenant and domain.
		require.Eventually(t, func() bool {
			code, stdout, stderr = runCLI(t, "reject", "--tenant-id", tenant, "--domain", goodDomain, "--approver", "bob@contoso.com", "--reason", "an OU was moved by mistake")
			return code != cmdutil.ExitUsage
		}, 10*time.Second, 200*time.Millisecond, stderr)
		require.Equal(t, cmdutil.ExitOK, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
		assert.Contains(t, stdout, "rejected by bob@contoso.com: rejected")
		assert.Contains(t, stdout, "workflow id: "+idB)
		assert.Empty(t, jobs.Restarts(tenant, jobB))

		// A signal is fire and forget: B's watcher records it as not acted upon;
		// nothing awaited a decision, so the exit is 4 as with the update.
		code, stdout, stderr = runCLI(t, "approve", "--tenant-id", tenant, "--job-id", jobB, "--approver", "alice@contoso.com", "--reason", "late", "--async")
		require.Equal(t, cmdutil.ExitNotFound, code, stderr)
		assert.Contains(t, stderr, "nothing awaited a decision on job "+jobB)
		assert.Contains(t, stdout, "sent signal approve-deletes to watcher "+idB)
		assert.Contains(t, stdout, "records it as not acted upon")
		require.Eventually(t, func() bool {
			code, stdout, _ = runCLI(t, "status", "--workflow-id", idB)
			return code == cmdutil.ExitOK && strings.Contains(stdout, field("decision", "approval by alice@contoso.com (late)"))
		}, 10*time.Second, 200*time.Millisecond, stdout)
		// It reads as what it was: an approval not acted upon, not "approved".
		assert.Contains(t, stdout, ": not acted upon: nothing awaited a decision on job "+jobB+" (phase deletes-rejected)")
		assert.NotContains(t, stdout, "approved by alice@contoso.com (late)")
		assert.Contains(t, stdout, field("phase", "deletes-rejected"))
		assert.Contains(t, stdout, field("summary", "Watch "+jobB+" (contoso.com)"))
		assert.Empty(t, jobs.Restarts(tenant, jobB))

		// Nothing awaits any more.
		require.Eventually(t, func() bool {
			code, _, stderr = runCLI(t, "approve", "--tenant-id", tenant, "--approver", "alice@contoso.com", "--reason", "x")
			return code == cmdutil.ExitNotFound
		}, 10*time.Second, 200*time.Millisecond, stderr)
		assert.Contains(t, stderr, "nothing awaits approval for tenant "+tenant)
		require.Eventually(t, func() bool {
			code, stdout, _ = runCLI(t, "list", "--awaiting-approval")
			return code == cmdutil.ExitOK && strings.Contains(stdout, "nothing awaits approval")
		}, 10*time.Second, 200*time.Millisecond, stdout)

		code, stdout, stderr = runCLI(t, "status", "--tenant-id", tenant)
		require.Equal(t, cmdutil.ExitOK, code, stderr)
		assert.Contains(t, stdout, field("decision", "approved by alice@contoso.com (HR offboarding batch) for episode "+episodeA))
		assert.Contains(t, stdout, "restart-issued")
		assert.Contains(t, stdout, field("decision", "approval by alice@contoso.com (late)"))

		code, stdout, stderr = runCLI(t, "list")
		require.Equal(t, cmdutil.ExitOK, code, stderr)
		for _, want := range []string{"KIND", "watcher", jobA, jobB, "AD2AADProvisioning.job-1", "deletes-rejected"} {
			assert.Contains(t, stdout, want)
		}

		code, _, stderr = runCLI(t, "approve", "--tenant-id", tenant, "--job-id", "AD2AADProvisioning.nope", "--approver", "alice@contoso.com", "--reason", "x")
		assert.Equal(t, cmdutil.ExitNotFound, code, stderr)
		assert.Contains(t, stderr, "no running watcher "+workflows.WatchWorkflowID(tenant, "AD2AADProvisioning.nope"))
		code, _, stderr = runCLI(t, "reject", "--tenant-id", tenant, "--job-id", "AD2AADProvisioning.nope", "--approver", "alice@contoso.com", "--reason", "x", "--async")
		assert.Equal(t, cmdutil.ExitNotFound, code, stderr)
		// An ended watcher answers no decision; its status says how it ended.
		require.NoError(t, c.TerminateWorkflow(ctx, idA, "", "test: adopted elsewhere"))
		code, _, stderr = runCLI(t, "approve", "--tenant-id", tenant, "--job-id", jobA, "--approver", "alice@contoso.com", "--reason", "x")
		assert.Equal(t, cmdutil.ExitNotFound, code, stderr)
		assert.Contains(t, stderr, "no running watcher "+idA)
		code, stdout, _ = runCLI(t, "status", "--workflow-id", idA)
		assert.Equal(t, cmdutil.ExitFailed, code)
		assert.Contains(t, stdout, field("status", "terminated"))
		assert.Contains(t, stdout, field("error", "the watcher was terminated"))
		// The last state, replayed by the worker (watching once the poller saw the restart).
		assert.Regexp(t, regexp.QuoteMeta(field("phase", ""))+"(restarting-with-force-deletes|watching)\n", stdout)
		code, stdout, _ = runCLI(t, "watch", "--tenant-id", tenant, "--service-principal-id", sp, "--job-id", jobA, "--reminder-interval", "10m")
		assert.Equal(t, cmdutil.ExitOK, code, "a watcher may start again once the last one ended")
		assert.Contains(t, stdout, "workflow id: "+idA)

		code, _, stderr = runCLI(t, "status", "--workflow-id", "cloudsync-watch/nope/nope")
		assert.Equal(t, cmdutil.ExitNotFound, code, stderr)
		assert.Contains(t, stderr, "no onboarding or watcher with workflow id cloudsync-watch/nope/nope found")
	})

	t.Run("exit codes: nothing awaits approval is 4 everywhere", func(t *testing.T) {
		const (
			tenant = "aaaaaaaa-0000-0000-0000-000000000006"
			sp     = "bbbbbbbb-0000-0000-0000-000000000006"
			job    = "AD2AADProvisioning.calm"
		)
		code, stdout, stderr := runCLI(t, "watch", "--tenant-id", tenant, "--service-principal-id", sp, "--job-id", job, "--domain", goodDomain,
			"--approver", "alice@contoso.com")
		require.Equal(t, cmdutil.ExitOK, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
		require.Eventually(t, func() bool {
			_, stdout, _ := runCLI(t, "list", "--tenant-id", tenant)
			return strings.Contains(stdout, job)
		}, 10*time.Second, 200*time.Millisecond)
		decide := func(verb string, extra ...string) []string {
			return append([]string{verb, "--tenant-id", tenant, "--approver", "alice@contoso.com", "--reason", "r"}, extra...)
		}
		for _, tc := range []struct {
			name string
			args []string
			code int
			want string
		}{
			{"approve --domain", decide("approve", "--domain", goodDomain), cmdutil.ExitNotFound, "nothing awaits approval for tenant " + tenant + " domain contoso.com"},
			{"reject --domain", decide("reject", "--domain", goodDomain), cmdutil.ExitNotFound, "nothing awaits approval"},
			{"approve --job-id (update)", decide("approve", "--job-id", job), cmdutil.ExitNotFound, "nothing was decided: nothing awaited a decision on job " + job},
			{"reject --job-id (update)", decide("reject", "--job-id", job), cmdutil.ExitNotFound, "nothing was decided"},
			{"approve --job-id --async (signal)", decide("approve", "--job-id", job, "--async"), cmdutil.ExitNotFound, "nothing awaited a decision on job " + job + " when the signal was sent"},
			{"reject --job-id --async (signal)", decide("reject", "--job-id", job, "--async"), cmdutil.ExitNotFound, "recorded as not acted upon"},
			{"approve an unwatched job", decide("approve", "--job-id", "AD2AADProvisioning.none"), cmdutil.ExitNotFound, "no running watcher"},
			{"approve an unwatched job --async", decide("approve", "--job-id", "AD2AADProvisioning.none", "--async"), cmdutil.ExitNotFound, "no running watcher"},
			{"approve as a name, not an address", []string{"approve", "--tenant-id", tenant, "--job-id", job, "--approver", "alice", "--reason", "r"}, cmdutil.ExitUsage, "not an e-mail address"},
			{"approve as someone not allowed", []string{"approve", "--tenant-id", tenant, "--job-id", job, "--approver", "mallory@contoso.com", "--reason", "r"}, cmdutil.ExitFailed, "not an allowed approver"},
			{"status of another domain", []string{"status", "--tenant-id", tenant, "--domain", "nope.com"}, cmdutil.ExitNotFound, "no onboarding of tenant " + tenant + " domain nope.com"},
			{"status of the watched domain (no onboarding)", []string{"status", "--tenant-id", tenant, "--domain", goodDomain}, cmdutil.ExitOK, "no onboarding of tenant " + tenant + " domain contoso.com"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				code, stdout, stderr := runCLI(t, tc.args...)
				assert.Equal(t, tc.code, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
				assert.Contains(t, stderr, tc.want)
			})
		}
	})

	t.Run("watch says at once whether the job is there", func(t *testing.T) {
		const (
			tenant = "aaaaaaaa-0000-0000-0000-000000000005"
			sp     = "bbbbbbbb-0000-0000-0000-000000000005"
		)
		watch := func(job string, extra ...string) (int, string, string) {
			return runCLI(t, append([]string{"watch", "--tenant-id", tenant, "--service-principal-id", sp, "--job-id", job, "--domain", goodDomain}, extra...)...)
		}
		// The job is there: exit 0 with its status.
		code, stdout, stderr := watch("AD2AADProvisioning.here")
		require.Equal(t, cmdutil.ExitOK, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
		assert.Contains(t, stdout, "job status:  schedule Active, status Active (phase watching)")

		// Not there (a mistyped id): exit 4 and the watcher is stopped.
		missing := "AD2AADProvisioning.missing"
		code, _, stderr = watch(missing)
		assert.Equal(t, cmdutil.ExitNotFound, code, stderr)
		assert.Contains(t, stderr, "job "+missing+" is not among the sync jobs of service principal "+sp)
		assert.Contains(t, stderr, "The watcher was stopped")
		desc, err := c.DescribeWorkflow(ctx, workflows.WatchWorkflowID(tenant, missing), "")
		require.NoError(t, err)
		assert.Equal(t, enums.WORKFLOW_EXECUTION_STATUS_TERMINATED, desc.Status)

		// --keep-if-missing keeps it (a job created moments ago), still exit 4.
		code, _, stderr = watch(missing, "--keep-if-missing")
		assert.Equal(t, cmdutil.ExitNotFound, code, stderr)
		assert.Contains(t, stderr, "The watcher is kept (--keep-if-missing)")
		desc, err = c.DescribeWorkflow(ctx, workflows.WatchWorkflowID(tenant, missing), "")
		require.NoError(t, err)
		assert.Equal(t, enums.WORKFLOW_EXECUTION_STATUS_RUNNING, desc.Status)

		// Graph refuses: exit 1, the watcher is kept (it recovers by itself).
		denied := "AD2AADProvisioning.denied"
		code, _, stderr = watch(denied)
		assert.Equal(t, cmdutil.ExitFailed, code, stderr)
		assert.Contains(t, stderr, "could not be looked at: Graph answered 403 Forbidden")
		assert.Contains(t, stderr, "The watcher is kept")

		// --check-timeout 0: no waiting (nor a first look).
		code, stdout, stderr = watch("AD2AADProvisioning.nocheck", "--check-timeout", "0")
		require.Equal(t, cmdutil.ExitOK, code, stderr)
		assert.NotContains(t, stdout, "job status:")
	})

	t.Run("a namespace without the search attributes: list exits 5 either way", func(t *testing.T) {
		_, err := c.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
			Namespace: "no-attrs", WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour)})
		require.NoError(t, err)
		var code int
		var stderr string
		require.Eventually(t, func() bool {
			code, _, stderr = runCLI(t, "list", "--namespace", "no-attrs")
			return !strings.Contains(stderr, "does not exist")
		}, 30*time.Second, 500*time.Millisecond, stderr)
		assert.Equal(t, cmdutil.ExitUnreachable, code, stderr)
		assert.Contains(t, stderr, "deploy/temporal/search-attributes.sh --namespace no-attrs")
		code, _, stderr = runCLI(t, "list", "--awaiting-approval", "--namespace", "no-attrs")
		assert.Equal(t, cmdutil.ExitUnreachable, code, stderr)
		assert.Contains(t, stderr, "deploy/temporal/search-attributes.sh --namespace no-attrs")
	})

	planAndDrift(t, jobs, tenantOK)

	t.Run("an unknown namespace exits 5", func(t *testing.T) {
		code, _, stderr := runCLI(t, "onboard", "--tenant-id", tenantOK, "--domain", goodDomain, "--namespace", "no-such-ns")
		assert.Equal(t, cmdutil.ExitUnreachable, code, stderr)
		assert.Contains(t, stderr, `namespace "no-such-ns" does not exist`)
	})
}

// queryCounter counts the queries the worker answers.
type queryCounter struct {
	interceptor.WorkerInterceptorBase
	n  atomic.Int64
	mu sync.Mutex
	q  []string
}

func (q *queryCounter) names() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]string(nil), q.q...)
}

func (q *queryCounter) InterceptWorkflow(ctx workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	return &queryCounterInbound{WorkflowInboundInterceptorBase: interceptor.WorkflowInboundInterceptorBase{Next: next}, c: q}
}

type queryCounterInbound struct {
	interceptor.WorkflowInboundInterceptorBase
	c *queryCounter
}

func (i *queryCounterInbound) HandleQuery(ctx workflow.Context, in *interceptor.HandleQueryInput) (any, error) {
	i.c.n.Add(1)
	i.c.mu.Lock()
	i.c.q = append(i.c.q, in.QueryType)
	i.c.mu.Unlock()
	return i.Next.HandleQuery(ctx, in)
}

// field is one "key: value" row of a watcher's status.
func field(k, v string) string { return fmt.Sprintf("%-16s %s", k+":", v) }

// firstInput decodes the input of a workflow's first run.
func firstInput(ctx context.Context, c client.Client, id string, out any) error {
	it := c.GetWorkflowHistory(ctx, id, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	ev, err := it.Next()
	if err != nil {
		return err
	}
	attrs := ev.GetWorkflowExecutionStartedEventAttributes()
	if attrs == nil {
		return fmt.Errorf("first event of %s is %s", id, ev.GetEventType())
	}
	return converter.GetDefaultDataConverter().FromPayloads(attrs.GetInput(), out)
}

// runAttach follows a running onboarding the way onboard --wait does, using
// the CLI's own follow loop on an existing run.
func runAttach(t *testing.T, tenant string, stdout, stderr io.Writer) int {
	t.Helper()
	a := newApp(stdout, stderr)
	a.Conn = cmdutil.ConnFlags{ConnectTimeout: 5 * time.Second, UIURL: cmdutil.DefaultUIURL}
	ob := &onboard.OnboardOptions{IO: a.IO, Dial: a.Dial, Conn: &a.Conn, PollInterval: 100 * time.Millisecond}
	c, err := visibility.Dial(context.Background(), ob.Dial)
	if err != nil {
		t.Error(err)
		return -1
	}
	defer c.Close()
	spec := workflows.TenantSpec{TenantID: tenant, Domain: goodDomain}.Normalized()
	run := c.GetWorkflow(context.Background(), workflows.OnboardWorkflowID(tenant, goodDomain), "")
	err = ob.Follow(context.Background(), c, run, spec, a.IO.Out, nil, view.OnboardingView{})
	if ee, ok := err.(*cmdutil.ExitError); ok {
		return ee.Code
	}
	if err != nil {
		t.Error(err)
		return -1
	}
	return cmdutil.ExitOK
}

// startDevServer starts the Temporal CLI's dev server with the cloudsync
// search attributes and dials it; it skips under -short or without the CLI.
func startDevServer(t *testing.T) (*testsuite.DevServer, client.Client) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short")
	}
	cli := os.Getenv("TEMPORAL_CLI") // set by the Makefile
	if cli == "" {
		var err error
		if cli, err = exec.LookPath("temporal"); err != nil {
			t.Skip("the Temporal CLI is not installed (make tools) and TEMPORAL_CLI is not set")
		}
	}
	isolateEnv(t)
	quiet := log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	sa := []string{}
	for _, a := range workflows.SearchAttributes {
		sa = append(sa, "--search-attribute", a.Name+"="+a.Type)
	}
	srv, err := testsuite.StartDevServer(context.Background(), testsuite.DevServerOptions{
		ExistingPath: cli, LogLevel: "error", ExtraArgs: sa,
		ClientOptions: &client.Options{Logger: quiet}, Stdout: io.Discard, Stderr: io.Discard,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Stop() })
	c, err := client.Dial(client.Options{HostPort: srv.FrontendHostPort(), Logger: quiet})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return srv, c
}
