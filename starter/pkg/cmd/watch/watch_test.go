package watch

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/mocks"

	"github.com/cloudsync/cloudsync/starter/pkg/cmd/cmdtest"
	"github.com/cloudsync/cloudsync/starter/pkg/cmdutil"
	"github.com/cloudsync/cloudsync/workflows"
)

const sp = "66666666-7777-8888-9999-000000000000"

// watch's flags parse, checked and normalized, into the workflow's input.
func TestWatchFlagsParseIntoOptions(t *testing.T) {
	f, _, _ := cmdtest.Factory(t, nil)
	got := cmdtest.Capture(t, f, NewCmdWatch,
		"--tenant-id", strings.ToUpper(cmdtest.Tenant), "--service-principal-id", strings.ToUpper(sp), "--job-id", cmdtest.Job,
		"--domain", "Contoso.com", "--approver", "alice@contoso.com", "--reminder-interval", "4h", "--check-timeout", "0")
	assert.Equal(t, workflows.WatchInput{TenantID: cmdtest.Tenant, ServicePrincipalID: sp, JobID: cmdtest.Job, Domain: cmdtest.Domain,
		Options: workflows.WatchOptions{Approvers: []string{"alice@contoso.com"}, ReminderInterval: 4 * time.Hour}}, got.Input)
	assert.Zero(t, got.CheckTimeout)
	assert.False(t, got.Input.LookFirst, "--check-timeout 0: no first look to wait for")
}

// unwatch sends its update with who and why, and says what it stopped;
// bad input is exit 2 before any dial.
func TestUnwatchSendsTheUpdate(t *testing.T) {
	f, _, stderr := cmdtest.Factory(t, nil)
	code := cmdtest.Run(t, f, NewCmdUnwatch(f, nil), "--tenant-id", cmdtest.Tenant, "--job-id", cmdtest.Job, "--by", "alice@contoso.com")
	require.Equal(t, cmdutil.ExitUsage, code)
	assert.Contains(t, stderr.String(), "--reason: is required")

	mc := mocks.NewClient(t)
	id := workflows.WatchWorkflowID(cmdtest.Tenant, cmdtest.Job)
	want := workflows.UnwatchRequest{By: "alice@contoso.com", Reason: "handed over"}
	h := mocks.NewWorkflowUpdateHandle(t)
	h.On("Get", mock.Anything, nil).Return(nil)
	mc.On("UpdateWorkflow", mock.Anything, mock.MatchedBy(func(o client.UpdateWorkflowOptions) bool {
		return o.WorkflowID == id && o.UpdateName == workflows.UnwatchUpdate && len(o.Args) == 1 && o.Args[0] == want
	})).Return(h, nil).Once()
	f, stdout, stderr := cmdtest.Factory(t, mc)
	code = cmdtest.Run(t, f, NewCmdUnwatch(f, nil), "--tenant-id", cmdtest.Tenant, "--job-id", cmdtest.Job, "--by", " alice@contoso.com ", "--reason", "handed over")
	require.Equal(t, cmdutil.ExitOK, code, stderr.String())
	assert.Contains(t, stdout.String(), "stopped watching job "+cmdtest.Job+" of tenant "+cmdtest.Tenant+" (by alice@contoso.com: handed over)")
}
