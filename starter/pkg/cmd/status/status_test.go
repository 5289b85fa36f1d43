package status

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/mocks"
	"go.temporal.io/sdk/workflow"

	"github.com/cloudsync/cloudsync/starter/pkg/cmd/cmdtest"
	"github.com/cloudsync/cloudsync/starter/pkg/cmdutil"
	"github.com/cloudsync/cloudsync/workflows"
)

// status --workflow-id of a watcher, as JSON: Describe and the memo only.
func TestStatusOfAWatcherOutputJSON(t *testing.T) {
	mc := mocks.NewClient(t)
	info := cmdtest.AwaitingWatcher(t)
	id := info.GetExecution().GetWorkflowId()
	mc.On("DescribeWorkflow", mock.Anything, id, "").Return(&client.WorkflowExecutionDescription{
		WorkflowExecutionMetadata: client.WorkflowExecutionMetadata{
			WorkflowExecution: workflow.Execution{ID: id, RunID: "run-1"}, WorkflowType: workflow.Type{Name: workflows.WatchSyncJobWorkflow},
			Status: enums.WORKFLOW_EXECUTION_STATUS_RUNNING, WorkflowStartTime: cmdtest.Started,
		},
		RawResponse: &workflowservice.DescribeWorkflowExecutionResponse{WorkflowExecutionInfo: info},
	}, nil)

	f, stdout, stderr := cmdtest.Factory(t, mc)
	code := cmdtest.Run(t, f, NewCmdStatus(f, nil), "--workflow-id", id, "--output", "json")
	require.Equal(t, cmdutil.ExitOK, code, stderr)
	var v View
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &v), stdout.String())
	require.Empty(t, v.Onboardings)
	require.Len(t, v.Watchers, 1)
	w := v.Watchers[0]
	require.Equal(t, "running", w.Status)
	require.Equal(t, cmdtest.Job, w.JobID)
	require.NotNil(t, w.State)
	require.Equal(t, workflows.PhaseAwaitingApproval, w.State.Phase)
	require.NotNil(t, w.State.Presented)
	require.Equal(t, workflows.Episode{JobID: cmdtest.Job, SeriesBegan: cmdtest.Awaiting}.ID(), w.State.Presented.ID())
}

func TestStatusTarget(t *testing.T) {
	id, label, err := statusTarget(strings.ToUpper(cmdtest.Tenant), "Contoso.com.", "")
	require.NoError(t, err)
	assert.Equal(t, workflows.OnboardWorkflowID(cmdtest.Tenant, cmdtest.Domain), id)
	assert.Equal(t, "of tenant "+cmdtest.Tenant+" domain contoso.com (workflow id "+id+")", label)
	id, _, err = statusTarget("", "", " cloudsync-onboard/x/y ")
	require.NoError(t, err)
	assert.Equal(t, "cloudsync-onboard/x/y", id)
}

// The flags parse into StatusOptions without contacting Temporal.
func TestStatusFlagsParseIntoOptions(t *testing.T) {
	f, _, _ := cmdtest.Factory(t, nil)
	got := cmdtest.Capture(t, f, NewCmdStatus,
		"--tenant-id", cmdtest.Tenant, "--domain", cmdtest.Domain, "-o", "json")
	assert.Equal(t, cmdtest.Tenant, got.TenantID)
	assert.Equal(t, cmdtest.Domain, got.Domain)
	assert.Empty(t, got.WorkflowID)
	assert.True(t, got.Output.JSON())
}

// Bad input is exit 2 and never dials (the Factory's dialer fails the test).
func TestStatusBadInputDoesNotDial(t *testing.T) {
	f, _, stderr := cmdtest.Factory(t, nil)
	code := cmdtest.Run(t, f, NewCmdStatus(f, nil), "--tenant-id", "nope")
	assert.Equal(t, cmdutil.ExitUsage, code)
	assert.Contains(t, stderr.String(), "--tenant-id")
	code = cmdtest.Run(t, f, NewCmdStatus(f, nil))
	assert.Equal(t, cmdutil.ExitUsage, code)
}
