package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enums "go.temporal.io/api/enums/v1"

	"github.com/cloudsync/cloudsync/graphsim"
	"github.com/cloudsync/cloudsync/workflows"
)

// An approval sent for episode A while no worker runs binds to A when the
// watcher receives it. Meanwhile A was lifted and B imposed: the restart
// re-reads the job, refuses, and B is presented for its own decision. No
// ForceDeletes reaches Graph until B is approved.
func TestApprovalForOneEpisodeNeverForcesTheNext(t *testing.T) {
	e := newEnv(t, envConfig{name: "episodes", taskQueue: "cloudsync-episodes", sim: graphsim.Options{SyncInterval: 200 * time.Millisecond}})
	t.Parallel()
	const tenant, domain = "0b7f4c3e-1d2a-4e5f-8a9b-0c1d2e3f4e01", "episodes.contoso.com"
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	res, err := e.onboard(ctx, workflows.OnboardInput{Spec: fullSpec(tenant, domain, 10),
		WatchOptions: workflows.WatchOptions{ReminderInterval: time.Hour, Webhook: "e2e-hook"}})
	require.NoError(t, err, "worker:\n%s", e.workerOutput())
	prov := res.Jobs[workflows.TemplateProvisioning]

	require.NoError(t, e.sim.StageDeletions(tenant, prov, 10))
	var a workflows.WatchState
	require.Eventually(t, func() bool {
		a = e.watchState(t, tenant, prov)
		return a.Presented != nil
	}, 30*time.Second, pollEvery, "episode A presented")

	// No worker: the approval waits in the history.
	require.NoError(t, e.killWorker())
	require.NoError(t, e.client.SignalWorkflow(ctx, workflows.WatchWorkflowID(tenant, prov), "", workflows.ApproveSignal,
		workflows.DecisionRequest{Approver: "alice@contoso.com", Reason: "batch A"}))
	// An admin lifts A in the portal; the deletions still pending quarantine
	// the job again at its next cycle: a new series.
	require.NoError(t, e.sim.LiftQuarantine(tenant, prov))
	require.Eventually(t, func() bool {
		j := e.job(tenant, prov)
		return j.StatusCode == "Quarantine" && j.Cycles > 0
	}, 30*time.Second, pollEvery, "the job quarantined again")
	require.NoError(t, e.startWorker())

	var b workflows.WatchState
	require.Eventually(t, func() bool {
		b = e.watchState(t, tenant, prov)
		return b.Presented != nil && b.Presented.ID() != a.Presented.ID() && len(b.Decisions) > 0
	}, 60*time.Second, pollEvery, "episode B presented after the refused restart")
	require.Equal(t, 0, e.forceDeletes(tenant), "the approval of A forced nothing")
	// The worker's gauge counts it from visibility (this env's task queue only).
	require.Eventually(t, func() bool {
		_, body := scrape(t, "http://"+e.metricsAddr+"/metrics")
		return strings.Contains(body, "\ncloudsync_watch_awaiting_approval 1\n")
	}, 40*time.Second, pollEvery, "the awaiting-approval gauge")
	require.Equal(t, a.Presented.ID(), b.Decisions[0].Episode)
	require.True(t, strings.HasPrefix(b.Decisions[0].Outcome, workflows.OutcomeRefused), b.Decisions[0].Outcome)
	require.Equal(t, 10, e.job(tenant, prov).PendingDeletions)

	// B gets its own approval, bound to B by the starter.
	out, errOut, code := e.starter(t, "approve", "--tenant-id", tenant, "--job-id", prov,
		"--approver", "bob@contoso.com", "--reason", "batch B reviewed")
	require.Equal(t, 0, code, "approve:\n%s\n%s", out, errOut)
	require.Contains(t, out, "episode:     "+b.Presented.ID())
	require.Eventually(t, func() bool { return e.job(tenant, prov).AppliedDeletions == 10 }, 30*time.Second, pollEvery, "B's deletions applied")
	require.Equal(t, 1, e.forceDeletes(tenant))
	e.recordHistories(t, workflows.WatchWorkflowID(tenant, prov), "watch-episodes")
	e.recordHistories(t, workflows.PollerWorkflowID(e.taskQueue, 0), "poller")
	e.requireNoViolations(t, tenant)
}

// A decision when nothing is presented is recorded, visible in status, and
// acts on nothing; unwatch and cancel end watchers cleanly, with a notice.
func TestEarlyDecisionUnwatchAndCancel(t *testing.T) {
	e := setup(t)
	t.Parallel()
	const tenant, domain = "0b7f4c3e-1d2a-4e5f-8a9b-0c1d2e3f4e02", "lifecycle.contoso.com"
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := e.onboard(ctx, workflows.OnboardInput{Spec: fullSpec(tenant, domain, 10),
		WatchOptions: workflows.WatchOptions{Webhook: "e2e-hook"}})
	require.NoError(t, err, "worker:\n%s", e.workerOutput())
	prov, phs := res.Jobs[workflows.TemplateProvisioning], res.Jobs[workflows.TemplatePasswordHash]
	require.Eventually(t, func() bool { return e.watchState(t, tenant, prov).Job.StatusCode == "Active" }, 30*time.Second, pollEvery, "the watcher to see the job")

	out, errOut, code := e.starter(t, "approve", "--tenant-id", tenant, "--job-id", prov, "--approver", "alice@contoso.com", "--reason", "saw Microsoft's mail")
	require.Equal(t, 4, code, "nothing presented: exit 4\n%s\n%s", out, errOut)
	require.Contains(t, errOut, "nothing was decided")
	out, _, code = e.starter(t, "status", "--workflow-id", workflows.WatchWorkflowID(tenant, prov))
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "not acted upon: nothing awaited a decision")
	require.Equal(t, 0, e.forceDeletes(tenant))

	out, errOut, code = e.starter(t, "unwatch", "--tenant-id", tenant, "--job-id", phs, "--by", "alice@contoso.com", "--reason", "handed over")
	require.Equal(t, 0, code, "unwatch:\n%s\n%s", out, errOut)
	var st workflows.WatchState
	require.NoError(t, e.client.GetWorkflow(ctx, workflows.WatchWorkflowID(tenant, phs), "").Get(ctx, &st))
	require.Equal(t, "unwatched by alice@contoso.com: handed over", st.Outcome)

	require.NoError(t, e.client.CancelWorkflow(ctx, workflows.WatchWorkflowID(tenant, prov), ""))
	require.Eventually(t, func() bool {
		d, err := describe(ctx, e.client, workflows.WatchWorkflowID(tenant, prov))
		return err == nil && d.GetWorkflowExecutionInfo().GetStatus() == enums.WORKFLOW_EXECUTION_STATUS_CANCELED
	}, 30*time.Second, pollEvery, "the cancelled watcher closed")
	require.Eventually(t, func() bool { return len(e.hook.notified(tenant, "ended")) == 2 }, 10*time.Second, pollEvery, "both ended notices")
	e.recordHistories(t, workflows.WatchWorkflowID(tenant, prov), "watch-cancelled")
	e.recordHistories(t, workflows.WatchWorkflowID(tenant, phs), "watch-unwatched")
}

// A revoked consent makes Graph refuse the poller; after a few refusals the
// watcher says the job is unreachable, once, and recovers by itself.
func TestRevokedConsentMakesWatchersUnreachable(t *testing.T) {
	e := setup(t)
	t.Parallel()
	const tenant, domain = "0b7f4c3e-1d2a-4e5f-8a9b-0c1d2e3f4e03", "consent.contoso.com"
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	spec := fullSpec(tenant, domain, 10)
	spec.PasswordHashSync = false
	res, err := e.onboard(ctx, workflows.OnboardInput{Spec: spec, WatchOptions: workflows.WatchOptions{Webhook: "e2e-hook"}})
	require.NoError(t, err, "worker:\n%s", e.workerOutput())
	prov := res.Jobs[workflows.TemplateProvisioning]
	require.Eventually(t, func() bool { return e.watchState(t, tenant, prov).Job.StatusCode == "Active" }, 30*time.Second, pollEvery, "the watcher to see the job")

	e.sim.SetTenantOptions(tenant, graphsim.TenantOptions{ConsentRevoked: true})
	require.Eventually(t, func() bool { return e.watchState(t, tenant, prov).Phase == workflows.PhaseUnreachable }, 30*time.Second, pollEvery, "unreachable")
	provNotices := func() []workflows.Notification {
		var out []workflows.Notification
		for _, n := range e.hook.notified(tenant, "unreachable") {
			if n.JobID == prov {
				out = append(out, n)
			}
		}
		return out
	}
	require.Eventually(t, func() bool { return len(provNotices()) == 1 }, 10*time.Second, pollEvery, "the unreachable notice")
	require.Contains(t, provNotices()[0].Message, "consent")

	e.sim.SetTenantOptions(tenant, graphsim.TenantOptions{})
	require.Eventually(t, func() bool { return e.watchState(t, tenant, prov).Phase == workflows.PhaseWatching }, 60*time.Second, pollEvery, "watching again")
	require.Len(t, provNotices(), 1, "said once")
}
