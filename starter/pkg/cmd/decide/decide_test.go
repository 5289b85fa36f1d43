package decide

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/mocks"

	"github.com/cloudsync/cloudsync/starter/pkg/cmd/cmdtest"
	"github.com/cloudsync/cloudsync/starter/pkg/cmdutil"
	"github.com/cloudsync/cloudsync/workflows"
)

// The flags parse, checked and normalized, into DecideOptions without
// contacting Temporal.
func TestDecideFlagsParseIntoOptions(t *testing.T) {
	f, _, stderr := cmdtest.Factory(t, nil)
	got := cmdtest.Capture(t, f, NewCmdReject, "--tenant-id", strings.ToUpper(cmdtest.Tenant), "--domain", "Contoso.COM.",
		"--approver", " alice@contoso.com ", "--reason", "OU moved by mistake", "--async")
	capture := func(o *DecideOptions) error { got = o; return nil }
	assert.False(t, got.Approve())
	assert.Equal(t, cmdtest.Tenant, got.TenantID)
	assert.Equal(t, cmdtest.Domain, got.Domain)
	assert.Empty(t, got.JobID)
	assert.Equal(t, workflows.DecisionRequest{Approver: "alice@contoso.com", Reason: "OU moved by mistake"}, got.Request)
	assert.True(t, got.Async)

	got = nil
	code := cmdtest.Run(t, f, NewCmdApprove(f, capture), "--tenant-id", cmdtest.Tenant, "--approver", "alice", "--reason", "r")
	assert.Equal(t, cmdutil.ExitUsage, code)
	assert.Nil(t, got, "runF is not reached")
	assert.Contains(t, stderr.String(), `--approver: "alice" is not an e-mail address`)
}

// approve --async signals the watcher, bound to the episode its memo
// presents (read with Describe, no query), and prints what it sent as JSON.
func TestApproveAsyncSignalsThePresentedEpisode(t *testing.T) {
	mc := mocks.NewClient(t)
	info := cmdtest.AwaitingWatcher(t)
	id := info.GetExecution().GetWorkflowId()
	mc.On("DescribeWorkflow", mock.Anything, id, "").Return(cmdtest.Description(info), nil)
	episode := workflows.Episode{JobID: cmdtest.Job, SeriesBegan: cmdtest.Awaiting}.ID()
	want := workflows.DecisionRequest{Approver: "alice@contoso.com", Reason: "HR batch", Episode: episode}
	mc.On("SignalWorkflow", mock.Anything, id, "", workflows.ApproveSignal, want).Return(nil).Once()

	f, stdout, stderr := cmdtest.Factory(t, mc)
	code := cmdtest.Run(t, f, NewCmdApprove(f, nil), "--tenant-id", cmdtest.Tenant, "--job-id", cmdtest.Job,
		"--approver", "alice@contoso.com", "--reason", "HR batch", "--async", "-o", "json")
	require.Equal(t, cmdutil.ExitOK, code, stderr.String())
	var v decisionView
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &v), stdout.String())
	assert.Equal(t, id, v.WorkflowID)
	assert.Equal(t, cmdtest.Job, v.JobID)
	assert.Equal(t, workflows.ApproveSignal, v.Signal)
	require.NotNil(t, v.Request)
	assert.Equal(t, want, *v.Request)
}
