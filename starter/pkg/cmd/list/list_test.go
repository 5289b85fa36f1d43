package list

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/mocks"

	"github.com/cloudsync/cloudsync/starter/pkg/cmd/cmdtest"
	"github.com/cloudsync/cloudsync/starter/pkg/cmdutil"
	"github.com/cloudsync/cloudsync/workflows"
)

// list --output json is one document a script decodes: the watcher awaiting
// a decision with its episode's start, from visibility alone.
func TestListOutputJSON(t *testing.T) {
	mc := mocks.NewClient(t)
	mc.On("ListWorkflow", mock.Anything, mock.MatchedBy(func(r *workflowservice.ListWorkflowExecutionsRequest) bool {
		return strings.Contains(r.Query, "CloudSyncAwaitingApproval = true")
	})).Return(&workflowservice.ListWorkflowExecutionsResponse{Executions: []*workflowpb.WorkflowExecutionInfo{cmdtest.AwaitingWatcher(t)}}, nil)

	f, stdout, stderr := cmdtest.Factory(t, mc)
	code := cmdtest.Run(t, f, NewCmdList(f, nil), "--awaiting-approval", "--output", "json")
	require.Equal(t, cmdutil.ExitOK, code, stderr)
	var v listView
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &v), stdout.String())
	require.True(t, v.AwaitingApproval)
	require.Len(t, v.Items, 1)
	it := v.Items[0]
	require.Equal(t, "watcher", it.Kind)
	require.Equal(t, cmdtest.Tenant, it.TenantID)
	require.Equal(t, cmdtest.Domain, it.Domain)
	require.Equal(t, cmdtest.Job, it.JobID)
	require.Equal(t, workflows.PhaseAwaitingApproval, it.Phase)
	require.True(t, it.AwaitingApproval)
	require.NotNil(t, it.AwaitingSince)
	require.True(t, it.AwaitingSince.Equal(cmdtest.Awaiting))
	require.Equal(t, workflows.WatchWorkflowID(cmdtest.Tenant, cmdtest.Job), it.WorkflowID)
	require.Contains(t, it.WebUI, "http://ui.test/namespaces/")

	// The text is the table it always was.
	stdout.Reset()
	code = cmdtest.Run(t, f, NewCmdList(f, nil), "--awaiting-approval")
	require.Equal(t, cmdutil.ExitOK, code)
	require.Contains(t, stdout.String(), "TENANT")
	require.Contains(t, stdout.String(), cmdtest.Awaiting.Local().Format(time.RFC3339))
	require.NotContains(t, stdout.String(), "(started)")
}

// The flags parse into ListOptions without contacting Temporal; a bad
// tenant is exit 2 before runF.
func TestListFlagsParseIntoOptions(t *testing.T) {
	f, _, stderr := cmdtest.Factory(t, nil)
	got := cmdtest.Capture(t, f, NewCmdList, "--drifted", "--tenant-id", " "+strings.ToUpper(cmdtest.Tenant)+" ", "-o", "json")
	capture := func(o *ListOptions) error { got = o; return nil }
	require.True(t, got.Drifted)
	require.False(t, got.Awaiting)
	require.Equal(t, cmdtest.Tenant, got.Tenant, "normalized")
	require.True(t, got.Output.JSON())

	got = nil
	code := cmdtest.Run(t, f, NewCmdList(f, capture), "--tenant-id", "contoso.com")
	require.Equal(t, cmdutil.ExitUsage, code)
	require.Nil(t, got, "runF is not reached")
	require.Contains(t, stderr.String(), "--tenant-id: \"contoso.com\" is not a GUID")
}
