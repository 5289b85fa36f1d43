package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"

	"github.com/cloudsync/cloudsync/graphsim"
	"github.com/cloudsync/cloudsync/workflows"
)

// A worker with healthy watchers writes no ERROR line (issue #12, item 1): a
// poll that finds nothing new is not an error anywhere, and the onboarding's
// expected conditions (Graph's replication lag: the service principal not
// visible yet) are benign, logged at debug, not as failed activities.
func TestHealthyWatchersLogNoErrors(t *testing.T) {
	setup(t)
	t.Parallel()
	e := newEnv(t, envConfig{name: "quiet-logs", taskQueue: "cloudsync-quiet-logs", sim: graphsim.Options{
		Seed: 12, ReplicationLag: 3 * time.Second, SyncInterval: 200 * time.Millisecond}})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const tenant, domain = "0b7f4c3e-1d2a-4e5f-8a9b-0c1d2e3f4c12", "quiet.contoso.com"
	res, err := e.onboard(ctx, workflows.OnboardInput{Spec: fullSpec(tenant, domain, 500)})
	require.NoError(t, err, "worker:\n%s", tail(e.workerOutput(), 4000))
	require.NotEmpty(t, res.Watchers)

	// The watchers settle: each has heard from the poller (or looked) and
	// watches a healthy job (its state, published in its memo, read with
	// Describe: no query).
	require.Eventually(t, func() bool {
		for _, id := range res.Watchers {
			d, err := describe(ctx, e.client, id)
			if err != nil {
				return false
			}
			p := d.GetWorkflowExecutionInfo().GetMemo().GetFields()[workflows.WatchStateMemoKey]
			var st workflows.WatchState
			if p == nil {
				return false
			}
			if err := converter.GetDefaultDataConverter().FromPayload(p, &st); err != nil || st.Observations == 0 || st.Phase != workflows.PhaseWatching {
				return false
			}
		}
		return true
	}, 60*time.Second, pollEvery, "the watchers to settle")
	settled := len(e.workerOutput())

	// Ten polls (one list of the service principal's jobs each, every 1 s) of
	// healthy watching.
	const listed = "GET /servicePrincipals/{id}/synchronization/jobs 200"
	polls := e.sim.Stats().Requests[listed]
	require.Eventually(t, func() bool { return e.sim.Stats().Requests[listed] >= polls+10 }, time.Minute, pollEvery, "ten polls")
	all := e.workerOutput()
	since := all[settled:]
	d, err := describe(ctx, e.client, workflows.PollerWorkflowID(e.taskQueue, 0))
	require.NoError(t, err, "the poller runs")
	require.NotEmpty(t, d.GetPendingActivities(), "the poller's PollShard runs")
	for _, line := range strings.Split(since, "\n") {
		require.NotContains(t, line, `"level":"error"`, "an ERROR line while the watchers were healthy:\n%s", line)
		if strings.Contains(line, `"level":"warn"`) {
			require.NotRegexp(t, `(?i)watch|PollShard|WatchSyncJob|WatchPoller|Notify`, line, "a WARN line from watching while healthy")
		}
	}
	// The onboarding waited for the service principal (replication lag) and
	// never logged that expected wait as an error.
	for _, line := range strings.Split(all, "\n") {
		if strings.Contains(line, `"level":"error"`) {
			require.NotContains(t, line, workflows.ErrServicePrincipalNotVisible, "an expected wait logged as an error")
			require.NotRegexp(t, `(?i)watch|PollShard|WatchSyncJob|WatchPoller`, line, "an ERROR line from watching")
		}
	}
}
