package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/mocks"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/types/known/timestamppb"

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

func payload(t *testing.T, v any) *commonpb.Payload {
	t.Helper()
	p, err := converter.GetDefaultDataConverter().ToPayload(v)
	require.NoError(t, err)
	return p
}

var (
	mockStarted  = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	mockAwaiting = time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	mockJob      = "AD2AADProvisioning.0123456789abcdef0123456789abcdef.0123456789abcdef0123456789abcdef"
)

// awaitingWatcher is a running watcher as visibility and Describe show it:
// its search attributes and the state it publishes in its memo.
func awaitingWatcher(t *testing.T) *workflowpb.WorkflowExecutionInfo {
	ep := workflows.Episode{JobID: mockJob, SeriesBegan: mockAwaiting}
	st := workflows.WatchState{Phase: workflows.PhaseAwaitingApproval, AwaitingSince: mockAwaiting, Presented: &ep,
		Job: workflows.JobStatus{ScheduleState: "Active", StatusCode: "Quarantine", QuarantineReason: "TooManyDeletes", SeriesBegan: mockAwaiting}}
	return &workflowpb.WorkflowExecutionInfo{
		Execution: &commonpb.WorkflowExecution{WorkflowId: workflows.WatchWorkflowID(goodTenant, mockJob), RunId: "run-1"},
		Type:      &commonpb.WorkflowType{Name: workflows.WatchSyncJobWorkflow},
		Status:    enums.WORKFLOW_EXECUTION_STATUS_RUNNING,
		StartTime: timestamppb.New(mockStarted),
		SearchAttributes: &commonpb.SearchAttributes{IndexedFields: map[string]*commonpb.Payload{
			"CloudSyncTenant": payload(t, goodTenant), "CloudSyncDomain": payload(t, goodDomain),
			"CloudSyncJobState": payload(t, "Quarantine"), "CloudSyncAwaitingApproval": payload(t, true),
		}},
		Memo: &commonpb.Memo{Fields: map[string]*commonpb.Payload{workflows.WatchStateMemoKey: payload(t, st)}},
	}
}

// list --output json is one document a script decodes: the watcher awaiting
// a decision with its episode's start, from visibility alone.
func TestListOutputJSON(t *testing.T) {
	mc := mocks.NewClient(t)
	mc.On("ListWorkflow", mock.Anything, mock.MatchedBy(func(r *workflowservice.ListWorkflowExecutionsRequest) bool {
		return strings.Contains(r.Query, "CloudSyncAwaitingApproval = true")
	})).Return(&workflowservice.ListWorkflowExecutionsResponse{Executions: []*workflowpb.WorkflowExecutionInfo{awaitingWatcher(t)}}, nil)

	code, stdout, stderr := runMocked(t, mc, "list", "--awaiting-approval", "--output", "json", "--ui-url", "http://ui.test")
	require.Equal(t, cmdutil.ExitOK, code, stderr)
	var v listView
	require.NoError(t, json.Unmarshal([]byte(stdout), &v), stdout)
	require.True(t, v.AwaitingApproval)
	require.Len(t, v.Items, 1)
	it := v.Items[0]
	require.Equal(t, "watcher", it.Kind)
	require.Equal(t, goodTenant, it.TenantID)
	require.Equal(t, goodDomain, it.Domain)
	require.Equal(t, mockJob, it.JobID)
	require.Equal(t, workflows.PhaseAwaitingApproval, it.Phase)
	require.True(t, it.AwaitingApproval)
	require.NotNil(t, it.AwaitingSince)
	require.True(t, it.AwaitingSince.Equal(mockAwaiting))
	require.Equal(t, workflows.WatchWorkflowID(goodTenant, mockJob), it.WorkflowID)
	require.Contains(t, it.WebUI, "http://ui.test/namespaces/")

	// The text is the table it always was.
	code, stdout, _ = runMocked(t, mc, "list", "--awaiting-approval", "--ui-url", "http://ui.test")
	require.Equal(t, cmdutil.ExitOK, code)
	require.Contains(t, stdout, "TENANT")
	require.Contains(t, stdout, mockAwaiting.Local().Format(time.RFC3339))
	require.NotContains(t, stdout, "(started)")
}

// status --workflow-id of a watcher, as JSON: Describe and the memo only.
func TestStatusOfAWatcherOutputJSON(t *testing.T) {
	mc := mocks.NewClient(t)
	info := awaitingWatcher(t)
	id := info.GetExecution().GetWorkflowId()
	mc.On("DescribeWorkflow", mock.Anything, id, "").Return(&client.WorkflowExecutionDescription{
		WorkflowExecutionMetadata: client.WorkflowExecutionMetadata{
			WorkflowExecution: workflow.Execution{ID: id, RunID: "run-1"}, WorkflowType: workflow.Type{Name: workflows.WatchSyncJobWorkflow},
			Status: enums.WORKFLOW_EXECUTION_STATUS_RUNNING, WorkflowStartTime: mockStarted,
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
	require.Equal(t, mockJob, w.JobID)
	require.NotNil(t, w.State)
	require.Equal(t, workflows.PhaseAwaitingApproval, w.State.Phase)
	require.NotNil(t, w.State.Presented)
	require.Equal(t, workflows.Episode{JobID: mockJob, SeriesBegan: mockAwaiting}.ID(), w.State.Presented.ID())
}

// A bad --output value is a usage error before Temporal is contacted.
func TestOutputFormatIsChecked(t *testing.T) {
	mc := mocks.NewClient(t)
	code, _, stderr := runMocked(t, mc, "list", "--output", "yaml")
	require.Equal(t, cmdutil.ExitUsage, code)
	require.Contains(t, stderr, "must be text or json")
}
