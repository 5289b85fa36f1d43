package workflows

import (
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
}
