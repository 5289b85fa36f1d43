package plan

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/cloudsync/cloudsync/starter/pkg/cmd/cmdtest"
)

// The flags parse into PlanOptions without contacting Temporal; the spec
// flags are read as onboard reads them.
func TestPlanFlagsParseIntoOptions(t *testing.T) {
	f, _, _ := cmdtest.Factory(t, nil)
	got := cmdtest.Capture(t, f, NewCmdPlan,
		"--tenant-id", cmdtest.Tenant, "--domain", cmdtest.Domain, "--password-hash-sync", "--concurrency", "5", "--timeout", "1m", "-o", "json")
	assert.Equal(t, cmdtest.Tenant, got.Spec.TenantID)
	assert.True(t, got.Spec.PasswordHashSync)
	assert.True(t, got.Changed("password-hash-sync"))
	assert.False(t, got.Changed("file"))
	assert.Equal(t, 5, got.Concurrency)
	assert.Equal(t, time.Minute, got.Timeout)
	assert.True(t, got.Output.JSON())
}

// Bad input is plan's exit 1 (2 means changes), before any dial.
func TestPlanBadInputIsExitOne(t *testing.T) {
	f, stdout, stderr := cmdtest.Factory(t, nil)
	code := cmdtest.Run(t, f, NewCmdPlan(f, nil), "--tenant-id", cmdtest.Tenant, "--domain", "not a domain")
	assert.Equal(t, ExitError, code)
	assert.Contains(t, stderr.String(), "domain")
	assert.Empty(t, stdout.String())
}
