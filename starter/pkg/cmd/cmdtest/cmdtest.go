// Package cmdtest holds what command tests share: a Factory over buffers
// with the SDK's mock client as its dialer, an isolated environment, and
// workflows as visibility and Describe show them.
package cmdtest

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"
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

// Fixtures of the mock workflows.
const (
	Tenant = "11111111-2222-3333-4444-555555555555"
	Domain = "contoso.com"
	Job    = "AD2AADProvisioning.0123456789abcdef0123456789abcdef.0123456789abcdef0123456789abcdef"
	UIURL  = "http://ui.test"
)

var (
	Started  = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	Awaiting = time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
)

// IsolateEnv clears every TEMPORAL_* and CLOUDSYNC_* variable for the test
// (restored afterwards) and points the TOML profile at a missing file, so the
// developer's own configuration cannot leak in.
func IsolateEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "TEMPORAL_") || strings.HasPrefix(k, "CLOUDSYNC_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	t.Setenv("TEMPORAL_CONFIG_FILE", filepath.Join(t.TempDir(), "no-such-temporal.toml"))
}

// Factory is a Factory over buffers whose dialer hands mc (nil: a dialer
// that fails the test, for commands that must not contact Temporal).
func Factory(t *testing.T, mc *mocks.Client) (f *cmdutil.Factory, stdout, stderr *bytes.Buffer) {
	t.Helper()
	IsolateEnv(t)
	stdout, stderr = &bytes.Buffer{}, &bytes.Buffer{}
	f = cmdutil.New(strings.NewReader(""), stdout, stderr)
	f.Conn = cmdutil.ConnFlags{ConnectTimeout: time.Second, UIURL: UIURL}
	f.Dialer = func(context.Context, client.Options) (client.Client, error) {
		if mc == nil {
			t.Error("Temporal was contacted")
			return nil, context.Canceled
		}
		mc.On("Close").Return().Maybe()
		return mc, nil
	}
	return f, stdout, stderr
}

// Run runs cmd with args as the root command would: the exit code, stdout
// and stderr.
func Run(t *testing.T, f *cmdutil.Factory, cmd *cobra.Command, args ...string) int {
	t.Helper()
	cmd.SetArgs(args)
	cmd.SetOut(f.IO.Out)
	cmd.SetErr(f.IO.ErrOut)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	return cmdutil.ExitCode(f.IO.ErrOut, cmd.ExecuteContext(context.Background()))
}

// Payload is v as the default data converter encodes it.
func Payload(t *testing.T, v any) *commonpb.Payload {
	t.Helper()
	p, err := converter.GetDefaultDataConverter().ToPayload(v)
	require.NoError(t, err)
	return p
}

// AwaitingWatcher is a running watcher as visibility and Describe show it:
// its search attributes and the state it publishes in its memo.
func AwaitingWatcher(t *testing.T) *workflowpb.WorkflowExecutionInfo {
	ep := workflows.Episode{JobID: Job, SeriesBegan: Awaiting}
	st := workflows.WatchState{Phase: workflows.PhaseAwaitingApproval, AwaitingSince: Awaiting, Presented: &ep,
		Job: workflows.JobStatus{ScheduleState: "Active", StatusCode: "Quarantine", QuarantineReason: "TooManyDeletes", SeriesBegan: Awaiting}}
	return &workflowpb.WorkflowExecutionInfo{
		Execution: &commonpb.WorkflowExecution{WorkflowId: workflows.WatchWorkflowID(Tenant, Job), RunId: "run-1"},
		Type:      &commonpb.WorkflowType{Name: workflows.WatchSyncJobWorkflow},
		Status:    enums.WORKFLOW_EXECUTION_STATUS_RUNNING,
		StartTime: timestamppb.New(Started),
		SearchAttributes: &commonpb.SearchAttributes{IndexedFields: map[string]*commonpb.Payload{
			"CloudSyncTenant": Payload(t, Tenant), "CloudSyncDomain": Payload(t, Domain),
			"CloudSyncJobState": Payload(t, "Quarantine"), "CloudSyncAwaitingApproval": Payload(t, true),
		}},
		Memo: &commonpb.Memo{Fields: map[string]*commonpb.Payload{workflows.WatchStateMemoKey: Payload(t, st)}},
	}
}

// Description is what DescribeWorkflow says of info's run.
func Description(info *workflowpb.WorkflowExecutionInfo) *client.WorkflowExecutionDescription {
	return &client.WorkflowExecutionDescription{
		WorkflowExecutionMetadata: client.WorkflowExecutionMetadata{
			WorkflowExecution: workflow.Execution{ID: info.GetExecution().GetWorkflowId(), RunID: info.GetExecution().GetRunId()},
			WorkflowType:      workflow.Type{Name: info.GetType().GetName()},
			Status:            info.GetStatus(), WorkflowStartTime: info.GetStartTime().AsTime(),
		},
		RawResponse: &workflowservice.DescribeWorkflowExecutionResponse{WorkflowExecutionInfo: info},
	}
}

// SyncBuffer is a buffer written by a command's goroutines (a fleet's) and
// read by the test.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *SyncBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *SyncBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// Capture runs the command newCmd builds with args and returns the options
// its runF got; the test fails when the command fails or runF is not reached.
func Capture[O any](t *testing.T, f *cmdutil.Factory, newCmd func(*cmdutil.Factory, func(*O) error) *cobra.Command, args ...string) *O {
	t.Helper()
	var got *O
	code := Run(t, f, newCmd(f, func(o *O) error { got = o; return nil }), args...)
	require.Equal(t, cmdutil.ExitOK, code, "%s", f.IO.ErrOut)
	require.NotNil(t, got, "runF was not reached")
	return got
}
