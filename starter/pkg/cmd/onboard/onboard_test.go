package onboard

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudsync/cloudsync/starter/pkg/cmd/cmdtest"
	"github.com/cloudsync/cloudsync/starter/pkg/cmdutil"
	"github.com/cloudsync/cloudsync/workflows"
)

// One tenant's flags, or a fleet file, parse into OnboardOptions without
// contacting Temporal.
func TestOnboardFlagsParseIntoOptions(t *testing.T) {
	f, _, stderr := cmdtest.Factory(t, nil)
	got := cmdtest.Capture(t, f, NewCmdOnboard, "--tenant-id", cmdtest.Tenant, "--domain", cmdtest.Domain,
		"--password-hash-sync", "--approver", "alice@contoso.com", "--wait", "-o", "json")
	capture := func(o *OnboardOptions) error { got = o; return nil }
	assert.Nil(t, got.Fleet)
	assert.Equal(t, workflows.TenantSpec{TenantID: cmdtest.Tenant, Domain: cmdtest.Domain, PasswordHashSync: true}, got.Input.Spec)
	assert.Equal(t, []string{"alice@contoso.com"}, got.Input.WatchOptions.Approvers)
	assert.True(t, got.Wait)
	assert.True(t, got.Output.JSON())

	fleet := filepath.Join(t.TempDir(), "fleet.csv")
	require.NoError(t, os.WriteFile(fleet, []byte("tenantId,domain\n"+cmdtest.Tenant+",contoso.com\n"+cmdtest.Tenant+",fabrikam.com\n"), 0o600))
	got = nil
	code := cmdtest.Run(t, f, NewCmdOnboard(f, capture), "--file", fleet, "--rate", "2", "--no-watch")
	require.Equal(t, cmdutil.ExitOK, code, stderr.String())
	require.NotNil(t, got.Fleet)
	assert.Len(t, got.Fleet.Entries, 2)
	assert.Equal(t, fleetOptions{rate: 2, concurrency: defaultFleetConcurrency, wait: true}, got.fleet, "a fleet is followed unless --wait=false")
	require.NotNil(t, got.Input.Watch)
	assert.False(t, *got.Input.Watch)
}

// A spec file's problems and the flags' come together, exit 2, nothing sent.
func TestOnboardListsFileAndFlagProblemsAtOnce(t *testing.T) {
	f, _, stderr := cmdtest.Factory(t, nil)
	file := filepath.Join(t.TempDir(), "tenant.yaml")
	require.NoError(t, os.WriteFile(file, []byte("tenantId: nope\ndomain: contoso.com\n"), 0o600))
	code := cmdtest.Run(t, f, NewCmdOnboard(f, nil), "--file", file, "--reminder-interval", "1s")
	assert.Equal(t, cmdutil.ExitUsage, code)
	assert.Contains(t, stderr.String(), file+`:1: tenantId: "nope" is not a GUID`)
	assert.Contains(t, stderr.String(), "--reminder-interval: 1s is too short")
}
