package offboard

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudsync/cloudsync/starter/pkg/cmd/cmdtest"
	"github.com/cloudsync/cloudsync/starter/pkg/cmdutil"
	"github.com/cloudsync/cloudsync/workflows"
)

// The flags parse into OffboardOptions without contacting Temporal: a new
// offboarding's input, or a decision.
func TestOffboardFlagsParseIntoOptions(t *testing.T) {
	f, _, stderr := cmdtest.Factory(t, nil)
	got := cmdtest.Capture(t, f, NewCmdOffboard, "--tenant-id", cmdtest.Tenant, "--domain", "Contoso.COM",
		"--allowed-approver", "alice@contoso.com", "--display-name", "Contoso sync")
	capture := func(o *OffboardOptions) error { got = o; return nil }
	assert.Equal(t, workflows.OffboardInput{TenantID: cmdtest.Tenant, Domain: cmdtest.Domain, DisplayName: "Contoso sync", Approvers: []string{"alice@contoso.com"}}, got.Input)
	assert.Nil(t, got.Decision)

	got = nil
	code := cmdtest.Run(t, f, NewCmdOffboard(f, capture), "--tenant-id", cmdtest.Tenant, "--domain", cmdtest.Domain,
		"--reject", "--approver", "bob@contoso.com", "--reason", "still in use")
	require.Equal(t, cmdutil.ExitOK, code, stderr.String())
	require.NotNil(t, got.Decision)
	assert.False(t, got.Approve())
	assert.Equal(t, workflows.OffboardDecisionRequest{Approver: "bob@contoso.com", Reason: "still in use"}, *got.Decision)

	got = nil
	code = cmdtest.Run(t, f, NewCmdOffboard(f, capture), "--tenant-id", cmdtest.Tenant, "--domain", cmdtest.Domain, "--approve", "--reject")
	assert.Equal(t, cmdutil.ExitUsage, code)
	assert.Nil(t, got, "runF is not reached")
	assert.Contains(t, stderr.String(), "--approve: cannot be combined with --reject")
}
