package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vbauerster/mpb/v8"

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

func TestProgressLine(t *testing.T) {
	run := &fleetRun{}
	for _, s := range []string{rowCompleted, rowNoChange, rowFailed, rowRunning, rowRunning, rowPending} {
		run.rows = append(run.rows, &fleetRow{state: s})
	}
	line := progressLine(run, fleetOptions{wait: true})
	assert.True(t, strings.HasPrefix(line, "3/6 done: 2 completed, 1 failed; 2 running, 1 to start"), line)
	line = progressLine(run, fleetOptions{})
	assert.True(t, strings.HasPrefix(line, "4/6 started, 1 could not start"), line)

	// Interrupted: what was not followed is not "done".
	lost := &fleetRun{rows: []*fleetRow{{state: rowLost}, {state: rowLost}}}
	line = progressLine(lost, fleetOptions{wait: true})
	assert.True(t, strings.HasPrefix(line, "0/2 done: 0 completed, 0 failed; 0 running, 0 to start, 2 not followed (they go on: starter list)"), line)

	// No worker: the hint a single onboard gives.
	idle := &fleetRun{rows: []*fleetRow{{state: rowRunning}}, hint: `no worker is polling task queue "cloudsync"`}
	line = progressLine(idle, fleetOptions{wait: true})
	assert.Contains(t, line, `1 running, 0 to start`)
	assert.True(t, strings.HasSuffix(line, `; no worker is polling task queue "cloudsync"`), line)
}

// On a terminal the bar (mpb) fills with the rows done and ends on the last
// state, followed by the progress line cut to the width; the hint has a row of
// its own, so a long one never pushes the bar out.
func TestFleetBarOnATerminal(t *testing.T) {
	run := &fleetRun{started: time.Now()}
	for range 6 {
		run.rows = append(run.rows, &fleetRow{state: rowPending})
	}
	var out lockedBuf
	// A buffer is no terminal: auto refresh and a width stand in for one.
	stop := fleetBar(run, fleetOptions{wait: true}, mpb.WithOutput(&out), mpb.WithAutoRefresh(), mpb.WithWidth(100))
	for i, s := range []string{rowCompleted, rowNoChange, rowFailed, rowRunning, rowRunning} {
		run.set(run.rows[i], s, "")
	}
	hint := `no worker is polling task queue "cloudsync" in namespace "default" at 127.0.0.1:7233: start one`
	run.setHint(hint)
	stop()
	screen := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.GreaterOrEqual(t, len(screen), 2, "%q", out.String())
	barLine, hintLine := screen[len(screen)-2], screen[len(screen)-1]
	assert.Contains(t, barLine, "[###############...............] 3/6 done: 2 completed, 1 failed; 2 running, 1 to start", "%q", out.String())
	assert.LessOrEqual(t, len([]rune(barLine)), 100, "cut to the width: %q", barLine)
	assert.Equal(t, hint, strings.TrimSpace(hintLine))
}
