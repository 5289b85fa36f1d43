package visibility

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"

	"github.com/cloudsync/cloudsync/workflows"
)

const (
	tenant = "11111111-2222-3333-4444-555555555555"
	job    = "AD2AADProvisioning.0123456789abcdef0123456789abcdef.0123456789abcdef0123456789abcdef"
)

func TestWatcherHelpers(t *testing.T) {
	assert.Equal(t, job, WatcherJobID(workflows.WatchWorkflowID(tenant, job)))
	assert.Equal(t, "other-id", WatcherJobID("other-id"))
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	runs := LatestRuns([]Execution{
		{ID: "w1", RunID: "old", Start: t0, Status: enums.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW},
		{ID: "w1", RunID: "new", Start: t0.Add(time.Hour), Status: enums.WORKFLOW_EXECUTION_STATUS_RUNNING},
		{ID: "w0", RunID: "done", Start: t0.Add(2 * time.Hour), Status: enums.WORKFLOW_EXECUTION_STATUS_COMPLETED},
	})
	require.Len(t, runs, 2)
	assert.Equal(t, "new", runs[0].RunID, "the running run first")
	assert.Equal(t, "done", runs[1].RunID)
	assert.Equal(t, "WorkflowType = 'WatchSyncJob' AND CloudSyncTenant = '"+tenant+"' AND CloudSyncDomain = 'contoso.com' AND ExecutionStatus = 'Running'",
		WatchersQuery(tenant, "contoso.com", true))

}
