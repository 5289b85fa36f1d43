package main

import (
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudsync/cloudsync/starter/pkg/cmd/plan"
)

// plan's bad input exits 1 (exit 2 means "changes" for plan, as with
// terraform plan -detailed-exitcode), names the problem, and opens no
// connection to Temporal.
func TestPlanBadInputExitsOneWithoutContactingTemporal(t *testing.T) {
	isolateEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	var mu sync.Mutex
	var accepted []string // remote addresses, in the order accepted
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			accepted = append(accepted, c.RemoteAddr().String())
			mu.Unlock()
			c.Close()
		}
	}()
	t.Setenv("TEMPORAL_ADDRESS", ln.Addr().String())
	fleet := writeFile(t, "fleet.csv", "tenantId,domain\n"+goodTenant+",contoso.com\nnot-a-guid,fabrikam.com\n")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no tenant", []string{"plan", "--domain", "contoso.com"}, "tenantId"},
		{"bad domain", []string{"plan", "--tenant-id", goodTenant, "--domain", "not a domain"}, "domain"},
		{"unknown flag", []string{"plan", "--tenant-id", goodTenant, "--domain", "contoso.com", "--bogus"}, "unknown flag: --bogus"},
		{"an argument", []string{"plan", "contoso.com"}, "plan takes no arguments"},
		{"bad output", []string{"plan", "--tenant-id", goodTenant, "--domain", "contoso.com", "--output", "yaml"}, `invalid argument "yaml" for "-o, --output" flag: must be text or json`},
		{"bad fleet row", []string{"plan", "--file", fleet}, "row 2"},
		{"file and flags", []string{"plan", "--file", fleet, "--domain", "contoso.com"}, "--file cannot be combined with --domain"},
		{"missing file", []string{"plan", "--file", "/nonexistent/spec.yaml"}, "--file"},
		{"short timeout", []string{"plan", "--tenant-id", goodTenant, "--domain", "contoso.com", "--timeout", "1s"}, "--timeout: 1s is too short"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tc.args...)
			assert.Equal(t, plan.ExitError, code, "stdout: %s\nstderr: %s", stdout, stderr)
			assert.Contains(t, stderr, tc.want)
			assert.Empty(t, stdout)
		})
	}
	// A connection of ours, accepted after any the CLI made (accepts are
	// in order): once it is, the CLI's would have been too.
	probe, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer probe.Close()
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.Contains(accepted, probe.LocalAddr().String())
	}, 5*time.Second, 5*time.Millisecond)
	mu.Lock()
	assert.Equal(t, []string{probe.LocalAddr().String()}, accepted, "bad input opened a connection to Temporal")
	mu.Unlock()

	// Temporal unreachable: 1 as well.
	t.Setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")
	code, _, stderr := runCLI(t, "plan", "--tenant-id", goodTenant, "--domain", "contoso.com", "--connect-timeout", "100ms")
	assert.Equal(t, plan.ExitError, code)
	assert.Contains(t, stderr, "cannot reach Temporal")
}
