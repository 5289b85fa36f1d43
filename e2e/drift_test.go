package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enums "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/converter"

	"github.com/cloudsync/cloudsync/graphsim"
	"github.com/cloudsync/cloudsync/workflows"
)

// driftInterval is the e2e worker's CLOUDSYNC_DRIFT_INTERVAL.
const driftInterval = 2 * time.Second

// driftOf reads a drift check's search attribute and memo (Describe: no query).
func (e *env) driftOf(t *testing.T, id string) (string, workflows.DriftState, enums.WorkflowExecutionStatus) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := describe(ctx, e.client, id)
	if err != nil {
		return "", workflows.DriftState{}, enums.WORKFLOW_EXECUTION_STATUS_UNSPECIFIED
	}
	info := d.GetWorkflowExecutionInfo()
	dc := converter.GetDefaultDataConverter()
	var sa string
	if p := info.GetSearchAttributes().GetIndexedFields()[workflows.SearchDrift.GetName()]; p != nil {
		_ = dc.FromPayload(p, &sa)
	}
	var st workflows.DriftState
	if p := info.GetMemo().GetFields()[workflows.DriftMemoKey]; p != nil {
		require.NoError(t, dc.FromPayload(p, &st))
	}
	return sa, st, info.GetStatus()
}

// Drift made through graphsim's control API (a secret key removed, the
// CredentialData mapping removed, a job deleted, the sync flag turned off) is
// reported within one check: the search attribute, the status line, one
// webhook notification, list --drifted; the checks only read. A re-run of
// starter onboard repairs it, and the drift is none again at once, notified.
// Cancelling the drift check (as offboarding does) ends it as canceled, with
// no read scheduled after the cancellation.
func TestDriftReportedWithinOneCheckAndRepairedByOnboard(t *testing.T) {
	e := newEnv(t, envConfig{name: "drift", ownServer: true,
		sim:       graphsim.Options{Seed: 11, SyncInterval: 200 * time.Millisecond, SyncDeactivation: time.Second},
		workerEnv: []string{"CLOUDSYNC_DRIFT_INTERVAL=" + driftInterval.String()}})
	t.Parallel()
	tenant, domain := tenantN(0xd41f, 1), "drift.contoso.com"
	id := workflows.DriftWorkflowID(tenant, domain)
	spec := fullSpec(tenant, domain, 50)
	file := specYAML(t, t.TempDir(), "spec.yaml", spec)

	out, errOut, code := e.starter(t, "onboard", "--file", file, "--wait", "--webhook", "e2e-hook")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s\nworker:\n%s", out, errOut, e.workerOutput())
	require.Contains(t, out, id)
	res := e.result(t, tenant, domain)
	prov, phs := res.Jobs[workflows.TemplateProvisioning], res.Jobs[workflows.TemplatePasswordHash]

	// The onboarding left drift none; the first check finds none too.
	require.Eventually(t, func() bool {
		sa, st, _ := e.driftOf(t, id)
		return sa == workflows.DriftNone && st.By == "check" && st.Checks >= 1
	}, 30*time.Second, pollEvery, "a drift check that found none")
	_, before, _ := e.driftOf(t, id)
	out, _, code = e.starter(t, "status", "--tenant-id", tenant, "--domain", domain)
	require.Equal(t, 0, code)
	require.Contains(t, out, "drift:         none (checked ")

	// Drift from the outside. The job's delete first: Graph's reads lag
	// behind a delete (graphsim's DeleteLag), so it shows in a check a while
	// later; the rest is made once a check has seen it.
	from := len(e.sim.RequestLog())
	require.NoError(t, e.sim.DeleteJob(tenant, phs))
	require.Eventually(t, func() bool {
		sa, _, _ := e.driftOf(t, id)
		return sa == workflows.DriftJobMissing
	}, 30*time.Second, pollEvery, "the job's delete reported")
	_, before, _ = e.driftOf(t, id)
	made := time.Now()
	require.NoError(t, e.sim.DeleteSecret(tenant, res.ServicePrincipalID, "SyncNotificationSettings"))
	n, err := e.sim.RemoveCredentialDataMapping(tenant, prov)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	require.NoError(t, e.sim.SetOnPremisesSyncEnabled(tenant, false))
	all := "credentialdata-missing,job-missing,secret-missing,sync-flag-off"
	var st workflows.DriftState
	require.Eventually(t, func() bool {
		var sa string
		sa, st, _ = e.driftOf(t, id)
		return sa == all
	}, 30*time.Second, pollEvery, "the drift reported")
	// Within one check: the first check that began after the drift was made
	// (one in flight then may have seen part of it).
	require.LessOrEqual(t, st.Checks-before.Checks, int64(2), "checks since the drift: %d", st.Checks-before.Checks)
	t.Logf("drift reported %s after it was made (interval %s)", since(made), driftInterval)
	require.Len(t, st.Changes, 5, "flag, jobs, secrets, schema, start (the new job): %+v", st.Changes)

	out, _, code = e.starter(t, "status", "--tenant-id", tenant, "--domain", domain)
	require.Equal(t, 0, code)
	require.Contains(t, out, "drift:         "+all+" since ")
	require.Contains(t, out, "+ secrets: add SyncNotificationSettings")
	out, _, code = e.starter(t, "list", "--drifted")
	require.Equal(t, 0, code)
	require.Contains(t, out, tenant)
	var notes []workflows.Notification
	require.Eventually(t, func() bool {
		notes = e.hook.notified(tenant, workflows.NotifyDrift)
		return len(notes) > 0 && slices.Equal(notes[len(notes)-1].Drift, strings.Split(all, ","))
	}, 20*time.Second, pollEvery, "the drift notification")
	require.Contains(t, notes[len(notes)-1].Message, "starter onboard")
	onlyGETs(t, e.sim, tenant, from)
	require.Eventually(t, func() bool {
		_, body := scrape(t, "http://"+e.metricsAddr+"/metrics")
		return strings.Contains(body, "\ncloudsync_drift_detected 1\n")
	}, 40*time.Second, pollEvery, "the worker's drift gauge")

	// The repair, once Entra lets the sync flag be turned on again.
	require.Eventually(t, func() bool { return e.sim.Snapshot(tenant).SyncDeactivatingUntil.IsZero() }, 30*time.Second, pollEvery, "the sync deactivation over")
	out, errOut, code = e.starter(t, "onboard", "--file", file, "--wait")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s\nworker:\n%s", out, errOut, e.workerOutput())
	requireOnboarded(t, e.sim, spec, false)
	// The onboarding hands its spec to the drift check as it ends: none at
	// once, set by the onboarding (the next check is an interval later).
	var repaired workflows.DriftState
	require.Eventually(t, func() bool {
		var sa string
		sa, repaired, _ = e.driftOf(t, id)
		return sa == workflows.DriftNone
	}, 10*time.Second, pollEvery, "drift none after the repair")
	require.Equal(t, "onboarding", repaired.By, "cleared by the onboarding's spec, not by a later check")
	require.Eventually(t, func() bool { return len(e.hook.notified(tenant, workflows.NotifyDriftRepaired)) == 1 }, 20*time.Second, pollEvery, "the repaired notification")
	require.Eventually(t, func() bool {
		sa, st, _ := e.driftOf(t, id)
		return sa == workflows.DriftNone && st.By == "check" && st.Checks > repaired.Checks
	}, 30*time.Second, pollEvery, "a check after the repair that found none")
	require.Len(t, e.hook.notified(tenant, workflows.NotifyDriftRepaired), 1)
	out, _, code = e.starter(t, "list", "--drifted")
	require.Equal(t, 0, code)
	require.NotContains(t, out, tenant)

	// Cancelled (offboarding does it): canceled, not failed; nothing scheduled after.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, e.client.CancelWorkflow(ctx, id, ""))
	require.Eventually(t, func() bool {
		_, _, status := e.driftOf(t, id)
		return status != enums.WORKFLOW_EXECUTION_STATUS_RUNNING
	}, 30*time.Second, pollEvery, "the drift check closed")
	_, _, status := e.driftOf(t, id)
	require.Equal(t, enums.WORKFLOW_EXECUTION_STATUS_CANCELED, status)
	it := e.client.GetWorkflowHistory(ctx, id, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	cancelled, waited := false, false
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		// Started by the onboarding with its interval and first state, the
		// check writes nothing before its first wait (lean-onboarding 3).
		waited = waited || ev.GetTimerStartedEventAttributes() != nil
		if !waited && (ev.GetMarkerRecordedEventAttributes() != nil || ev.GetWorkflowPropertiesModifiedEventAttributes() != nil) {
			t.Fatalf("the drift check wrote %s at its start", ev.GetEventType())
		}
		if ev.GetWorkflowExecutionCancelRequestedEventAttributes() != nil {
			cancelled = true
		}
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil && cancelled {
			t.Fatalf("activity %s scheduled after the cancellation", a.GetActivityType().GetName())
		}
	}
	require.True(t, cancelled)
	e.recordHistories(t, id, "drift")
	e.requireNoViolations(t, tenant)
}
