package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/worker"

	"github.com/cloudsync/cloudsync/starter/pkg/cmd/cmdtest"
	"github.com/cloudsync/cloudsync/starter/pkg/cmdutil"
	"github.com/cloudsync/cloudsync/workflows"
)

// TestFleetAgainstDevServer onboards a 20-tenant fleet through the CLI on a
// real dev server with the real workflows and fake activities: one tenant
// fails, one ends awaiting a delete approval; then a re-run of the same fleet
// (as CSV, plus a tenant already onboarding) follows the running one instead
// of starting it again.
func TestFleetAgainstDevServer(t *testing.T) {
	srv, c := startDevServer(t)
	ctx := context.Background()

	tenant := func(i int) string { return fmt.Sprintf("cccccccc-0000-0000-0000-%012d", i) }
	domain := func(i int) string { return fmt.Sprintf("fleet%02d.contoso.com", i) }
	failing, quarantined, late := tenant(7), tenant(1), tenant(21)
	gate := make(chan struct{})
	w := worker.New(c, workflows.TaskQueue, worker.Options{})
	workflows.RegisterWorkflows(w)
	jobs := fakeActivities(t, c, w, map[string]chan struct{}{late: gate}, map[string]bool{failing: true})
	jobs.Quarantine(quarantined, workflows.TemplateProvisioning+".job-1")
	require.NoError(t, w.Start())
	defer w.Stop()
	t.Setenv("TEMPORAL_ADDRESS", srv.FrontendHostPort())

	var y strings.Builder
	y.WriteString("tenants:\n")
	for i := 1; i <= 20; i++ {
		fmt.Fprintf(&y, "  - tenantId: %s\n    domain: %s\n    passwordHashSync: %t\n", tenant(i), domain(i), i%2 == 0)
	}
	fleetYAML := writeFile(t, "fleet.yaml", y.String())

	start := time.Now()
	code, stdout, stderr := runCLI(t, "onboard", "--file", fleetYAML, "--rate", "20", "--concurrency", "8")
	require.Equal(t, cmdutil.ExitFailed, code, "one tenant fails: exit 1\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
	t.Logf("20 tenants in %s", time.Since(start).Round(time.Millisecond))
	assert.Contains(t, stdout, "onboarding a fleet of 20 tenants: at most 20 starts/s, 8 in flight")
	assert.Regexp(t, `TENANT +DOMAIN +RESULT +DETAIL`, stdout)
	assert.Regexp(t, failing+` +fleet07\.contoso\.com +failed +onboarding `+failing+` \(fleet07\.contoso\.com\) failed at step jobs: Graph said 403: missing Synchronization\.ReadWrite\.All`, stdout)
	assert.Regexp(t, tenant(2)+` +fleet02\.contoso\.com +completed +service principal sp-1, 2 job\(s\)`, stdout)
	assert.Regexp(t, quarantined+` +fleet01\.contoso\.com +completed, awaiting approval +1 job\(s\) hold deletions back`, stdout)
	assert.Contains(t, stdout, "fleet of 20 tenants in ")
	assert.Contains(t, stdout, ": 19 completed, 1 failed, 1 awaiting approval\n")
	assert.Contains(t, stderr, "20/20 done: 19 completed, 1 failed; 0 running, 0 to start", "the last progress line")
	for i := 1; i <= 20; i++ {
		assert.Contains(t, stdout, tenant(i))
	}

	// One more tenant is being onboarded by someone else while the same fleet
	// (as CSV, plus that tenant) is run again.
	code, _, stderr = runCLI(t, "onboard", "--tenant-id", late, "--domain", domain(21))
	require.Equal(t, cmdutil.ExitOK, code, stderr)
	var csv strings.Builder
	csv.WriteString("tenantId,domain,passwordHashSync\n")
	for i := 1; i <= 21; i++ {
		fmt.Fprintf(&csv, "%s,%s,%t\n", tenant(i), domain(i), i%2 == 0)
	}
	fleetCSV := writeFile(t, "fleet.csv", csv.String())
	var rerunOut, rerunErr cmdtest.SyncBuffer
	done := make(chan int, 1)
	go func() { done <- run([]string{"onboard", "--file", fleetCSV, "--rate", "50"}, &rerunOut, &rerunErr) }()
	// Every other tenant done, the fleet still follows the one that runs (its
	// progress line says so); only then does that one go on. That the fleet
	// then reports it completed shows it waited for it.
	const waiting = "20/21 done: 19 completed, 1 failed; 1 running, 0 to start"
	require.Eventually(t, func() bool { return strings.Contains(rerunErr.String(), waiting) }, time.Minute, 100*time.Millisecond,
		"the fleet following the running onboarding")
	select {
	case <-done:
		t.Fatalf("the fleet ended before the running onboarding did:\n%s\n%s", rerunOut.String(), rerunErr.String())
	default:
	}
	close(gate)
	code = <-done
	require.Equal(t, cmdutil.ExitFailed, code, "stdout:\n%s\nstderr:\n%s", rerunOut.String(), rerunErr.String())
	assert.Regexp(t, late+` +fleet21\.contoso\.com +completed \(was running\)`, rerunOut.String())
	assert.Contains(t, rerunOut.String(), ": 20 completed, 1 failed, 1 awaiting approval, 1 already running (followed, not started again)\n")
	// The running onboarding was followed, not started a second time.
	resp, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Query: "WorkflowId = '" + workflows.OnboardWorkflowID(late, domain(21)) + "'"})
	require.NoError(t, err)
	assert.EqualValues(t, 1, resp.GetCount())
}

// Without a worker the fleet's progress says so (as a single onboard does);
// interrupted, its last line does not call the unfinished onboardings done.
func TestFleetWithoutWorkerAndInterrupted(t *testing.T) {
	srv, _ := startDevServer(t)
	t.Setenv("TEMPORAL_ADDRESS", srv.FrontendHostPort())
	tenant := func(i int) string { return fmt.Sprintf("dddddddd-0000-0000-0000-%012d", i) }
	fleet := writeFile(t, "fleet.yaml", "- {tenantId: "+tenant(1)+", domain: a.contoso.com}\n- {tenantId: "+tenant(2)+", domain: b.contoso.com}\n")
	var stdout, stderr cmdtest.SyncBuffer
	a := newApp(&stdout, &stderr)
	a.PollInterval, a.FleetEvery = 100*time.Millisecond, 200*time.Millisecond
	a.Conn = cmdutil.ConnFlags{ConnectTimeout: 5 * time.Second, UIURL: cmdutil.DefaultUIURL}
	root := a.rootCmd()
	root.SetArgs([]string{"onboard", "--file", fleet, "--rate", "50"})
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		// Interrupt once the hint showed (or after 15 s: the assertions below fail).
		assert.Eventually(t, func() bool { return strings.Contains(stderr.String(), "no worker is polling") }, 15*time.Second, 100*time.Millisecond)
		cancel()
	}()
	err := root.ExecuteContext(ctx)
	var ee *cmdutil.ExitError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, cmdutil.ExitInterrupted, ee.Code)
	out := stderr.String()
	assert.Contains(t, out, `no worker is polling task queue "cloudsync"`)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	last := lines[len(lines)-1]
	assert.NotContains(t, last, "2/2 done", "the last progress line: %s", out)
	assert.Contains(t, last, "0/2 done: 0 completed, 0 failed; 0 running, 0 to start, 2 not followed")
}
