package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/cloudsync/cloudsync/starter/pkg/cmdutil"
)

const (
	tenant1 = "11111111-2222-3333-4444-555555555555"
	tenant2 = "22222222-3333-4444-5555-666666666666"
	tenant3 = "33333333-4444-5555-6666-777777777777"
)

// Through the CLI, two domains of a tenant under one display name exit 2,
// nothing started.
func TestCLIRefusesTwoDomainsUnderOneDisplayName(t *testing.T) {
	isolateEnv(t)
	t.Setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")
	code, stdout, stderr := runCLI(t, "onboard", "--file", writeFile(t, "fleet.yaml",
		"- {tenantId: "+tenant1+", domain: contoso.com, displayName: Contoso}\n- {tenantId: "+tenant1+", domain: corp.contoso.com, displayName: Contoso}\n"))
	assert.Equal(t, cmdutil.ExitUsage, code, stderr)
	assert.Contains(t, stderr, `:2: [1]: tenant `+tenant1+` domain corp.contoso.com: display name "Contoso" is already used by domain contoso.com in [0] (line 1)`)
	assert.NotContains(t, stderr, "cannot reach Temporal")
	assert.Empty(t, stdout)
}

// A bad fleet exits 2 and never contacts Temporal, whatever its size.
func TestBadFleetExitsTwoBeforeStartingAnything(t *testing.T) {
	isolateEnv(t)
	t.Setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")
	var b strings.Builder
	b.WriteString("tenantId,domain\n")
	for i := range 300 {
		fmt.Fprintf(&b, "%08d-0000-4000-8000-000000000000,tenant%d\n", i, i) // every domain is bad
	}
	code, stdout, stderr := runCLI(t, "onboard", "--file", writeFile(t, "fleet.csv", b.String()))
	assert.Equal(t, cmdutil.ExitUsage, code, stderr)
	assert.Contains(t, stderr, "invalid fleet of 300 tenants (300 problems)")
	assert.Contains(t, stderr, "fleet.csv:2: row 1: domain:")
	assert.Contains(t, stderr, "… and 100 more")
	assert.NotContains(t, stderr, "cannot reach Temporal")
	assert.Empty(t, stdout)

	good := writeFile(t, "ok.yaml", "- {tenantId: "+tenant1+", domain: contoso.com}\n- {tenantId: "+tenant2+", domain: fabrikam.com}\n")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--rate", "0"}, "--rate: 0 is out of range"},
		{[]string{"--concurrency", "0"}, "--concurrency: 0 is out of range"},
		{[]string{"--no-watch", "--approver", "alice@contoso.com"}, "--no-watch: cannot be combined with --approver"},
		{[]string{"--reminder-interval", "1s"}, "--reminder-interval:"},
	} {
		code, _, stderr := runCLI(t, append([]string{"onboard", "--file", good}, tc.args...)...)
		assert.Equal(t, cmdutil.ExitUsage, code, "%v: %s", tc.args, stderr)
		assert.Contains(t, stderr, tc.want)
	}
	// --rate and --concurrency mean nothing for one tenant.
	code, _, stderr = runCLI(t, "onboard", "--tenant-id", tenant1, "--domain", "contoso.com", "--rate", "2")
	assert.Equal(t, cmdutil.ExitUsage, code, stderr)
	assert.Contains(t, stderr, "--rate: applies to a fleet file")
}
