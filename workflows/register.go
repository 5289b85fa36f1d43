package workflows

import (
	"context"
	"fmt"
	"time"

	enums "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

func workflowOpts(name string) workflow.RegisterOptions { return workflow.RegisterOptions{Name: name} }

// RegisterWorkflows registers every workflow under its contract name (the
// worker, the replayer and tests share it).
func RegisterWorkflows(r worker.WorkflowRegistry) {
	r.RegisterWorkflowWithOptions(OnboardTenant, workflowOpts(OnboardTenantWorkflow))
	r.RegisterWorkflowWithOptions(WatchSyncJob, workflowOpts(WatchSyncJobWorkflow))
	r.RegisterWorkflowWithOptions(WatchPoller, workflowOpts(WatchPollerWorkflow))
	r.RegisterWorkflowWithOptions(OffboardTenant, workflowOpts(OffboardTenantWorkflow))
}

// EnsurePollers starts the watch poller shards of a task queue that are not
// running (every worker does it at start; a running shard is kept). Shards
// beyond the worker's configured count retire themselves.
func EnsurePollers(ctx context.Context, c client.Client, taskQueue string, shards int, heartbeat time.Duration) error {
	for i := 0; i < shards; i++ {
		sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		_, err := c.ExecuteWorkflow(sctx, client.StartWorkflowOptions{
			ID:                       PollerWorkflowID(taskQueue, i),
			TaskQueue:                taskQueue,
			WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
			StaticSummary:            fmt.Sprintf("cloudsync poller shard %d of %d", i, shards),
		}, WatchPollerWorkflow, PollerInput{Shard: i, HeartbeatTimeout: heartbeat})
		cancel()
		if err != nil {
			return fmt.Errorf("poller shard %d: %w", i, err)
		}
	}
	return nil
}
