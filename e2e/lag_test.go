package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enums "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/cloudsync/cloudsync/graphsim"
	"github.com/cloudsync/cloudsync/workflows"
)

// activityAttempts is, per activity type of a workflow's history, the
// highest attempt number an activity of that type started with (1: never
// retried).
func activityAttempts(ctx context.Context, t *testing.T, c client.Client, workflowID string) map[string]int32 {
	t.Helper()
	it := c.GetWorkflowHistory(ctx, workflowID, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	types := map[int64]string{}
	out := map[string]int32{}
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil {
			types[ev.EventId] = a.ActivityType.GetName()
		}
		if a := ev.GetActivityTaskStartedEventAttributes(); a != nil {
			if typ := types[a.ScheduledEventId]; a.Attempt > out[typ] {
				out[typ] = a.Attempt
			}
		}
	}
	return out
}

// TestOnboardingWaitsOutGraphsLagWithoutRetries: across Graph's lag at its
// realistic size (a new service principal unreadable for 10 s, a new job
// unreadable by id for 10 s, the service principal's synchronization calls
// refused with 403/409 for 14 s), a full onboarding runs every activity once:
// the steps wait the lag out within their attempt, and no retry (a billed
// Temporal action each) is spent on it. Its Graph requests are a clean
// onboarding's plus the lag's own answers.
func TestOnboardingWaitsOutGraphsLagWithoutRetries(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{name: "lag", taskQueue: "cloudsync-lag", sim: graphsim.Options{
		Seed: 31, ReplicationLag: 10 * time.Second, JobReadLag: 10 * time.Second, SyncSettle: 14 * time.Second,
	}})
	spec := fullSpec(tenantN(0x1a900000, 0), "lag.contoso.com", 25)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	t0 := time.Now()
	res, err := e.onboard(ctx, workflows.OnboardInput{Spec: spec, Watch: ptr(false)})
	require.NoError(t, err, "worker:\n%s", tail(e.workerOutput(), 4000))
	require.True(t, res.Changed)
	requireOnboarded(t, e.sim, spec, false)
	require.Empty(t, e.sim.Violations())

	attempts := activityAttempts(ctx, t, e.client, workflows.OnboardWorkflowID(spec.TenantID, spec.Domain))
	require.Contains(t, attempts, workflows.WaitForServicePrincipalActivity)
	for typ, n := range attempts {
		require.EqualValues(t, 1, n, "%s was retried: %v", typ, attempts)
	}

	c := tenantRequests(e.sim, "")
	lag := 0
	for k, v := range c.byRoute {
		if k == "GET /servicePrincipals/{id} 404" || (strings.Contains(k, "/synchronization/") && (strings.HasSuffix(k, " 403") || strings.HasSuffix(k, " 409"))) {
			lag += v
		}
	}
	t.Logf("onboarded across the lag in %s; %d Graph requests, %d of them the lag's answers; attempts %v; %v", since(t0), c.total, lag, attempts, c.byRoute)
	require.Positive(t, c.byRoute["GET /servicePrincipals/{id} 404"], "the replication lag was met")
	require.Positive(t, lag-c.byRoute["GET /servicePrincipals/{id} 404"], "the settle window was met")
	require.Equal(t, cleanOnboardingRequests, c.total-lag, "a clean onboarding's requests, plus the lag's answers")
	addFigure(func() { figures.onboardings++ })
}
