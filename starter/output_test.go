package main

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

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

// runMocked runs one command line against the SDK's mock client.
func runMocked(t *testing.T, mc *mocks.Client, args ...string) (int, string, string) {
	t.Helper()
	isolateEnv(t)
	var out, errOut bytes.Buffer
	a := newApp(&out, &errOut)
	a.Dialer = func(context.Context, client.Options) (client.Client, error) { return mc, nil }
	mc.On("Close").Return().Maybe()
	code := a.execute(context.Background(), args)
	return code, out.String(), errOut.String()
}

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

	code, stdout, stderr := runMocked(t, mc, "status", "--workflow-id", id, "--output", "json")
	require.Equal(t, cmdutil.ExitOK, code, stderr)
	var v statusView
	require.NoError(t, json.Unmarshal([]byte(stdout), &v), stdout)
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

// A bad --output value is a usage error before Temporal is contacted.
func TestOutputFormatIsChecked(t *testing.T) {
	mc := mocks.NewClient(t)
	code, _, stderr := runMocked(t, mc, "list", "--output", "yaml")
	require.Equal(t, cmdutil.ExitUsage, code)
	require.Contains(t, stderr, "must be text or json")
}
