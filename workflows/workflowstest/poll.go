package workflowstest

import (
	"context"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/cloudsync/cloudsync/workflows"
)

// Poll stands in for the watch poller until ctx ends: every interval it tells
// each running watcher what its job shows, when that changed since it last
// told it (as the real poller does, by workflows.ObservedSignal).
func (f *Fake) Poll(ctx context.Context, c client.Client, every time.Duration) {
	told := map[string]string{}
	for ctx.Err() == nil {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query: "WorkflowType = '" + workflows.WatchSyncJobWorkflow + "' AND ExecutionStatus = 'Running'"})
		if err == nil {
			for _, e := range resp.GetExecutions() {
				var target workflows.WatchTarget
				p := e.GetMemo().GetFields()[workflows.WatchMemoKey]
				if p == nil || converter.GetDefaultDataConverter().FromPayload(p, &target) != nil {
					continue
				}
				id := e.GetExecution().GetWorkflowId()
				s := f.Status(target.TenantID, target.JobID)
				if told[id] != s.Fingerprint() && c.SignalWorkflow(ctx, id, "", workflows.ObservedSignal, s) == nil {
					told[id] = s.Fingerprint()
				}
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(every):
		}
	}
}
