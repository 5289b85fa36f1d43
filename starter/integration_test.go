package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/cloudsync/cloudsync/workflows"
)

// fakeGraph implements the onboarding activities by name, without Graph.
// Tenants listed in gates block in EnableTenantSync until the gate closes;
// tenants in failJobs fail EnsureJobs for good.
type fakeGraph struct {
	mu       sync.Mutex
	gates    map[string]chan struct{}
	failJobs map[string]bool
	apps     map[string]bool
}

func (f *fakeGraph) gate(tenant string) chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gates[tenant]
}

func (f *fakeGraph) register(w worker.Worker) {
	reg := func(fn any, name string) { w.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name}) }
	reg(func(ctx context.Context, in workflows.TenantInput) (workflows.StepReport, error) {
		if g := f.gate(in.TenantID); g != nil {
			select {
			case <-g:
			case <-ctx.Done():
				return workflows.StepReport{}, ctx.Err()
			}
		}
		return workflows.StepReport{Step: workflows.StepTenantSyncFlag, Outcome: workflows.OutcomeChanged, Detail: "on-premises sync enabled"}, nil
	}, workflows.EnableTenantSyncActivity)
	reg(func(_ context.Context, in workflows.EnsureApplicationInput) (workflows.ApplicationResult, error) {
		f.mu.Lock()
		existed := f.apps[in.TenantID]
		f.apps[in.TenantID] = true
		f.mu.Unlock()
		out := workflows.OutcomeCreated
		if existed {
			out = workflows.OutcomeUnchanged
		}
		return workflows.ApplicationResult{ApplicationObjectID: "app-obj-1", AppID: "app-1", ServicePrincipalID: "sp-1",
			Report: workflows.StepReport{Step: workflows.StepApplication, Outcome: out, Detail: in.DisplayName}}, nil
	}, workflows.EnsureApplicationActivity)
	reg(func(context.Context, workflows.ServicePrincipalInput) error { return nil }, workflows.WaitForServicePrincipalActivity)
	reg(func(_ context.Context, in workflows.EnsureJobsInput) (workflows.EnsureJobsResult, error) {
		if f.failJobs[in.TenantID] {
			return workflows.EnsureJobsResult{}, temporal.NewNonRetryableApplicationError("Graph said 403: missing Synchronization.ReadWrite.All", "Forbidden", nil)
		}
		jobs := map[string]string{}
		for _, t := range in.Templates {
			jobs[t] = t + ".job-1"
		}
		return workflows.EnsureJobsResult{Jobs: jobs, Report: workflows.StepReport{Step: workflows.StepJobs, Outcome: workflows.OutcomeCreated, Detail: strings.Join(in.Templates, ", ")}}, nil
	}, workflows.EnsureJobsActivity)
	reg(func(context.Context, workflows.SecretsInput) (workflows.StepReport, error) {
		return workflows.StepReport{Step: workflows.StepSecrets, Outcome: workflows.OutcomeChanged}, nil
	}, workflows.ApplySecretsActivity)
	reg(func(context.Context, workflows.JobInput) (workflows.SchemaResult, error) {
		return workflows.SchemaResult{ADDirectoryID: "ad-1", Report: workflows.StepReport{Step: workflows.StepSchema, Outcome: workflows.OutcomeChanged}}, nil
	}, workflows.PatchSchemaActivity)
	reg(func(context.Context, workflows.ExchangeCheckInput) (workflows.ExchangeCheckResult, error) {
		return workflows.ExchangeCheckResult{MailNicknamePresent: true, ADDirectoryID: "ad-1"}, nil
	}, workflows.CheckExchangeSchemaActivity)
	reg(func(_ context.Context, in workflows.StartJobsInput) (workflows.StartJobsResult, error) {
		return workflows.StartJobsResult{Started: in.JobIDs, Report: workflows.StepReport{Step: workflows.StepStartJobs, Outcome: workflows.OutcomeChanged, Detail: fmt.Sprint(len(in.JobIDs), " started")}}, nil
	}, workflows.StartJobsActivity)
}

// TestAgainstDevServer drives the CLI against a real Temporal dev server and
// the real OnboardTenant workflow with fake activities (about 3 s). It needs
// the Temporal CLI ($TEMPORAL_CLI or on PATH); -short skips it.
func TestAgainstDevServer(t *testing.T) {
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
	ctx := context.Background()
	sa := []string{}
	for _, n := range workflows.SearchAttributeNames {
		sa = append(sa, "--search-attribute", n+"=Keyword")
	}
	srv, err := testsuite.StartDevServer(ctx, testsuite.DevServerOptions{
		ExistingPath:  cli,
		LogLevel:      "error",
		ExtraArgs:     sa,
		ClientOptions: &client.Options{Logger: quiet},
		Stdout:        io.Discard,
		Stderr:        io.Discard,
	})
	require.NoError(t, err)
	defer srv.Stop()

	c, err := client.Dial(client.Options{HostPort: srv.FrontendHostPort(), Logger: quiet})
	require.NoError(t, err)
	defer c.Close()
	const (
		tenantOK   = "aaaaaaaa-0000-0000-0000-000000000001"
		tenantGate = "aaaaaaaa-0000-0000-0000-000000000002"
		tenantFail = "aaaaaaaa-0000-0000-0000-000000000003"
	)
	gate := make(chan struct{})
	fake := &fakeGraph{gates: map[string]chan struct{}{tenantGate: gate}, failJobs: map[string]bool{tenantFail: true}, apps: map[string]bool{}}
	w := worker.New(c, workflows.TaskQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(workflows.OnboardTenant, workflow.RegisterOptions{Name: workflows.OnboardTenantWorkflow})
	fake.register(w)
	require.NoError(t, w.Start())
	defer w.Stop()

	t.Setenv("TEMPORAL_ADDRESS", srv.FrontendHostPort())
	t.Setenv("CLOUDSYNC_UI_URL", "http://ui.test")

	t.Run("status of an unknown tenant exits 4", func(t *testing.T) {
		code, _, stderr := runCLI(t, "status", "--tenant-id", tenantOK, "--domain", goodDomain)
		assert.Equal(t, exitNotFound, code, stderr)
		assert.Contains(t, stderr, "no onboarding of tenant "+tenantOK+" domain contoso.com (workflow id "+workflows.OnboardWorkflowID(tenantOK, goodDomain)+") found in namespace default")
	})

	t.Run("onboard --wait prints every step and the result", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, "onboard", "--tenant-id", strings.ToUpper(tenantOK), "--domain", "Contoso.com.",
			"--password-hash-sync", "--exchange-writeback", "--notify", "--recipient", "admin@contoso.com", "--wait")
		require.Equal(t, exitOK, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
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
	})

	t.Run("status of a completed onboarding", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, "status", "--tenant-id", tenantOK, "--domain", goodDomain)
		require.Equal(t, exitOK, code, stderr)
		assert.Contains(t, stdout, "status:        completed")
		assert.Contains(t, stdout, "service principal:  sp-1")
		assert.Contains(t, stdout, "AD2AADPasswordHash")
	})

	t.Run("re-running a finished onboarding is allowed", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, "onboard", "--tenant-id", tenantOK, "--domain", goodDomain, "--wait")
		require.Equal(t, exitOK, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
		assert.Contains(t, stdout, "application               unchanged")
	})

	t.Run("a second onboarding while one runs exits 3", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, "onboard", "--tenant-id", tenantGate, "--domain", goodDomain)
		require.Equal(t, exitOK, code, stderr)
		assert.Contains(t, stdout, "follow it with: starter status")

		code, _, stderr = runCLI(t, "onboard", "--tenant-id", tenantGate, "--domain", "CONTOSO.com")
		assert.Equal(t, exitRunning, code, stderr)
		assert.Contains(t, stderr, "an onboarding of tenant "+tenantGate+" domain contoso.com is already running (workflow id "+
			workflows.OnboardWorkflowID(tenantGate, goodDomain)+"); follow it with: starter status --tenant-id "+tenantGate+" --domain contoso.com")

		require.Eventually(t, func() bool {
			code, stdout, _ = runCLI(t, "status", "--workflow-id", workflows.OnboardWorkflowID(tenantGate, goodDomain))
			return code == exitOK && strings.Contains(stdout, "current step:  tenant-sync-flag")
		}, 10*time.Second, 200*time.Millisecond, stdout)
		assert.Contains(t, stdout, "status:        running")
		assert.Contains(t, stdout, "steps:         none yet")

		// Follow it with a second client while the gate opens.
		done := make(chan struct{})
		var wcode int
		var wout string
		go func() {
			defer close(done)
			var out, errOut strings.Builder
			wcode = runAttach(t, tenantGate, &out, &errOut)
			wout = out.String()
		}()
		time.Sleep(300 * time.Millisecond)
		close(gate)
		<-done
		assert.Equal(t, exitOK, wcode)
		assert.Contains(t, wout, "tenant-sync-flag")
	})

	t.Run("a failed onboarding exits 1 and lists what exists", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, "onboard", "--tenant-id", tenantFail, "--domain", goodDomain, "--wait")
		assert.Equal(t, exitFailed, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
		assert.Contains(t, stderr, "onboarding failed: onboarding "+tenantFail+" (contoso.com) failed at step jobs: ")
		assert.Contains(t, stderr, "missing Synchronization.ReadWrite.All")
		assert.Contains(t, stdout, "\n  application               created")
		assert.Contains(t, stdout, "\n  jobs                      failed")
		assert.Contains(t, stdout, "what exists now")
		assert.Contains(t, stdout, "service principal:  sp-1")

		code, stdout, _ = runCLI(t, "status", "--tenant-id", tenantFail, "--domain", goodDomain)
		assert.Equal(t, exitFailed, code)
		assert.Contains(t, stdout, "status:        failed")
		assert.Contains(t, stdout, "jobs                      failed")
	})

	t.Run("an unknown namespace exits 5", func(t *testing.T) {
		code, _, stderr := runCLI(t, "onboard", "--tenant-id", tenantOK, "--domain", goodDomain, "--namespace", "no-such-ns")
		assert.Equal(t, exitUnreachable, code, stderr)
		assert.Contains(t, stderr, `namespace "no-such-ns" does not exist`)
	})
}

// runAttach follows a running onboarding the way onboard --wait does, using
// the CLI's own follow loop on an existing run.
func runAttach(t *testing.T, tenant string, stdout, stderr io.Writer) int {
	t.Helper()
	a := &app{stdout: stdout, stderr: stderr, pollInterval: 100 * time.Millisecond, conn: connFlags{connectTimeout: 5 * time.Second, uiURL: defaultUIURL}}
	c, err := a.conn.dial(context.Background(), stderr)
	if err != nil {
		t.Error(err)
		return -1
	}
	defer c.Close()
	spec := workflows.TenantSpec{TenantID: tenant, Domain: goodDomain}.Normalized()
	run := c.GetWorkflow(context.Background(), workflows.OnboardWorkflowID(tenant, goodDomain), "")
	err = a.follow(context.Background(), c, run, spec)
	if ee, ok := err.(*exitError); ok {
		return ee.code
	}
	if err != nil {
		t.Error(err)
		return -1
	}
	return exitOK
}
