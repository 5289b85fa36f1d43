package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enums "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// recordHistories writes every run of a workflow as JSON into
// $CLOUDSYNC_RECORD_HISTORIES (used to refresh workflows/testdata/histories,
// which the replay test checks on every build).
func (e *env) recordHistories(t *testing.T, workflowID, name string) {
	t.Helper()
	dir := os.Getenv("CLOUDSYNC_RECORD_HISTORIES")
	if dir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := e.client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: "WorkflowId = '" + workflowID + "'"})
	require.NoError(t, err)
	for i, ex := range resp.Executions {
		h := &historypb.History{}
		it := e.client.GetWorkflowHistory(ctx, workflowID, ex.Execution.RunId, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			require.NoError(t, err)
			h.Events = append(h.Events, ev)
		}
		b, err := protojson.MarshalOptions{Multiline: true}.Marshal(h)
		require.NoError(t, err)
		path := filepath.Join(dir, fmt.Sprintf("%s-%d.json", name, len(resp.Executions)-i))
		require.NoError(t, os.WriteFile(path, b, 0o644))
		t.Logf("recorded %s (%d events)", path, len(h.Events))
	}
}
