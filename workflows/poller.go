package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// pollerRunsPerHistory bounds a poller's history: each PollShard run (hours
// long) adds a handful of events.
const pollerRunsPerHistory = 100

// WatchPoller runs one shard of the fleet's polling: a long PollShard activity
// that lists each watched service principal's jobs once per interval, keeps
// what it last reported in its heartbeat, and signals a watcher only when
// something changed. The worker's configuration (interval, shards, gone-after)
// lives in the activity; a run ends at the worker's refresh interval, and the
// next one reports every job once (the watchers' sign of life).
func WatchPoller(ctx workflow.Context, in PollerInput) error {
	hb := OrDefault(in.HeartbeatTimeout, DefaultPollerHeartbeatTimeout)
	ao := workflow.ActivityOptions{
		StartToCloseTimeout: 25 * time.Hour,
		HeartbeatTimeout:    hb,
		// Graph outages are handled inside; this retries a crashed worker's run
		// on another worker, resuming from the last heartbeat.
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 5 * time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
		Summary:     "poll watched jobs",
	}
	ctx = workflow.WithActivityOptions(ctx, ao)
	for run := 0; ; run++ {
		res, err := Execute(ctx, WatchingActivities.PollShard, PollShardInput{Shard: in.Shard}).Get(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil // cancelled: nothing to clean up
			}
			workflow.GetLogger(ctx).Error("poll shard failed", "shard", in.Shard, "error", err)
			if err := workflow.Sleep(ctx, time.Minute); err != nil {
				return nil
			}
			continue
		}
		if res.Retired {
			return nil
		}
		if run+1 >= pollerRunsPerHistory || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			in.Runs += run + 1
			return workflow.NewContinueAsNewError(ctx, WatchPollerWorkflow, in)
		}
	}
}
