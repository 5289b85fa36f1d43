package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enums "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/cloudsync/cloudsync/graphsim"
	"github.com/cloudsync/cloudsync/workflows"
)

// maxAttempt is the attempt number of an activity type's last start in a
// workflow's history (1: it was never retried).
func maxAttempt(ctx context.Context, t *testing.T, c client.Client, workflowID, activityType string) int32 {
	t.Helper()
	it := c.GetWorkflowHistory(ctx, workflowID, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	types := map[int64]string{}
	var max int32
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil {
			types[ev.EventId] = a.ActivityType.GetName()
		}
		if a := ev.GetActivityTaskStartedEventAttributes(); a != nil && types[a.ScheduledEventId] == activityType && a.Attempt > max {
			max = a.Attempt
		}
	}
	return max
}

// TestNonRetryableFailuresFailFastAndRerunCleanly: a wrong client secret, a
// missing Graph permission (403), notification settings Graph refuses (400
// UnknownError wrapping InvalidNotificationSettings) and an unknown tenant
// each fail the onboarding at once (the failing step is not retried) with one
// message that names the step and the cause, and failure details that list
// what already exists. After the fix, a re-run completes without duplicates.
func TestNonRetryableFailuresFailFastAndRerunCleanly(t *testing.T) {
	t.Parallel()
	const (
		wrongSecretTenant = iota
		forbiddenTenant
		notificationsTenant
		unknownTenant
	)
	tenant := func(i int) string { return tenantN(0xfa11ed00, i) }
	const goodQueue, badQueue = "cloudsync-failures", "cloudsync-failures-wrong-secret"
	e := newEnv(t, envConfig{name: "failures", taskQueue: goodQueue, sim: graphsim.Options{
		Seed: 21,
		// Long enough that the 403 can be switched on between the app and the jobs.
		ReplicationLag:   8 * time.Second,
		DiscoverFailures: 1,
		KnownTenants:     []string{tenant(wrongSecretTenant), tenant(forbiddenTenant), tenant(notificationsTenant)},
	}})
	_, err := e.spawnWorker("AZURE_CLIENT_SECRET="+wrongSecret, "CLOUDSYNC_TASK_QUEUE="+badQueue)
	require.NoError(t, err)

	type failure struct {
		msg     string
		details workflows.OnboardResult
		took    time.Duration
	}
	// fail runs an onboarding that must fail, and checks what every failure shares.
	var failWithin func(t *testing.T, queue string, spec workflows.TenantSpec, step, activityType string, maxAttempts int32, cause ...string) failure
	fail := func(t *testing.T, queue string, spec workflows.TenantSpec, step, activityType string, cause ...string) failure {
		return failWithin(t, queue, spec, step, activityType, 1, cause...)
	}
	failWithin = func(t *testing.T, queue string, spec workflows.TenantSpec, step, activityType string, maxAttempts int32, cause ...string) failure {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		t0 := time.Now()
		run, err := startOnboarding(ctx, e.client, queue, workflows.OnboardInput{Spec: spec, Watch: ptr(false)})
		require.NoError(t, err)
		err = run.Get(ctx, nil)
		require.Error(t, err, "the onboarding should fail")
		ae, details := failureDetails(t, err)
		f := failure{msg: ae.Message(), details: details, took: since(t0)}
		t.Logf("failed after %s: %s", f.took, f.msg)
		require.Contains(t, f.msg, "failed at step "+step)
		for _, c := range cause {
			require.Contains(t, f.msg, c)
		}
		require.NotContains(t, f.msg, "\n", "one message")
		require.Equal(t, workflows.OutcomeFailed, details.Steps[len(details.Steps)-1].Outcome)
		require.Equal(t, step, details.Steps[len(details.Steps)-1].Step)
		require.LessOrEqual(t, maxAttempt(ctx, t, e.client, run.GetID(), activityType), maxAttempts, "the failing step was retried")
		// The operator's view says the same.
		out, errOut, code := e.starter(t, "status", "--tenant-id", spec.TenantID, "--domain", spec.Domain)
		require.Equal(t, 1, code, "starter status of a failed onboarding:\n%s\n%s", out, errOut)
		require.Contains(t, out+errOut, cause[0])
		return f
	}
	rerun := func(t *testing.T, spec workflows.TenantSpec) workflows.OnboardResult {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		res, err := e.onboard(ctx, workflows.OnboardInput{Spec: spec, Watch: ptr(false)})
		require.NoError(t, err, "re-run after the fix; worker:\n%s", tail(e.workerOutput(), 3000))
		requireOnboarded(t, e.sim, spec, false)
		addFigure(func() { figures.onboardings++ })
		return res
	}

	t.Run("wrong-client-secret", func(t *testing.T) {
		t.Parallel()
		spec := fullSpec(tenant(wrongSecretTenant), "wrongsecret.contoso.com", 40)
		f := fail(t, badQueue, spec, workflows.StepTenantSyncFlag, workflows.EnableTenantSyncActivity,
			"AADSTS7000215", "Invalid client secret", "Check the app's client id and secret")
		require.NotContains(t, f.msg, wrongSecret)
		require.Empty(t, f.details.ServicePrincipalID, "nothing was created")
		require.Less(t, f.took, 30*time.Second)
		require.Zero(t, tenantRequests(e.sim, spec.TenantID).total, "no Graph request without a token")
		// The fix: the right secret (the other worker).
		rerun(t, spec)
	})

	t.Run("missing-permission-403", func(t *testing.T) {
		t.Parallel()
		spec := fullSpec(tenant(forbiddenTenant), "forbidden.contoso.com", 40)
		go func() {
			// Once the app exists, take the permission away: the jobs (the next
			// write, after the replication wait) are refused.
			for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
				if tenantRequests(e.sim, spec.TenantID).byRoute[instantiated] > 0 {
					e.sim.SetTenantOptions(spec.TenantID, graphsim.TenantOptions{MissingPermission: "Synchronization.ReadWrite.All"})
					return
				}
			}
		}()
		// A new service principal's 403s are retried for the settle window
		// (15 s here, 5 min in production: Graph answers them for a while after
		// a creation), then reported as the missing permission.
		f := failWithin(t, goodQueue, spec, workflows.StepJobs, workflows.EnsureJobsActivity, 8,
			"Synchronization.ReadWrite.All", "403", "Authorization_RequestDenied", "admin consent")
		require.Greater(t, f.took, 15*time.Second, "retried for the settle window first")
		// What exists is listed: the app and its service principal.
		require.NotEmpty(t, f.details.ServicePrincipalID)
		require.NotEmpty(t, f.details.AppID)
		require.Equal(t, workflows.OutcomeCreated, stepOutcome(f.details, workflows.StepApplication))
		require.Less(t, f.took, time.Minute)
		st := e.sim.Snapshot(spec.TenantID)
		require.Len(t, st.ServicePrincipals, 1)
		require.Equal(t, st.ServicePrincipals[0].ID, f.details.ServicePrincipalID)
		require.Empty(t, st.Jobs)

		e.sim.SetTenantOptions(spec.TenantID, graphsim.TenantOptions{}) // the fix: admin consent
		res := rerun(t, spec)
		require.Equal(t, f.details.ServicePrincipalID, res.ServicePrincipalID, "the re-run used the app the failed run made")
		require.Equal(t, workflows.OutcomeUnchanged, stepOutcome(res, workflows.StepApplication))
	})

	t.Run("invalid-notification-settings-400", func(t *testing.T) {
		t.Parallel()
		spec := fullSpec(tenant(notificationsTenant), "notifications.contoso.com", 40)
		e.sim.SetTenantOptions(spec.TenantID, graphsim.TenantOptions{RejectNotificationSettings: true})
		f := fail(t, goodQueue, spec, workflows.StepSecrets, workflows.ApplySecretsActivity,
			"InvalidNotificationSettings", "400", "check the recipients' email addresses")
		require.NotEmpty(t, f.details.ServicePrincipalID)
		require.Len(t, f.details.Jobs, 2, "the provisioning and password hash jobs exist: %v", f.details.Jobs)
		require.Equal(t, workflows.OutcomeCreated, stepOutcome(f.details, workflows.StepJobs))
		require.Less(t, f.took, time.Minute)
		st := e.sim.Snapshot(spec.TenantID)
		require.Len(t, st.Jobs, 2)
		require.Empty(t, st.Secrets[f.details.ServicePrincipalID], "nothing written")

		e.sim.SetTenantOptions(spec.TenantID, graphsim.TenantOptions{}) // the fix
		res := rerun(t, spec)
		require.Equal(t, f.details.Jobs[workflows.TemplateProvisioning], res.Jobs[workflows.TemplateProvisioning])
		require.Equal(t, f.details.Jobs[workflows.TemplatePasswordHash], res.Jobs[workflows.TemplatePasswordHash])
	})

	t.Run("unknown-tenant", func(t *testing.T) {
		t.Parallel()
		spec := fullSpec(tenant(unknownTenant), "unknown.contoso.com", 40)
		f := fail(t, goodQueue, spec, workflows.StepTenantSyncFlag, workflows.EnableTenantSyncActivity,
			"AADSTS90002", "not found")
		require.Empty(t, f.details.ServicePrincipalID)
		require.Less(t, f.took, 30*time.Second)
		require.Zero(t, tenantRequests(e.sim, spec.TenantID).total)
		require.Empty(t, e.sim.Snapshot(spec.TenantID).Applications)
	})
}

func stepOutcome(r workflows.OnboardResult, step string) workflows.Outcome {
	for _, s := range r.Steps {
		if s.Step == step {
			return s.Outcome
		}
	}
	return ""
}
