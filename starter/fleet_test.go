package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vbauerster/mpb/v8"

	"github.com/cloudsync/cloudsync/workflows"
)

func fleetFrom(t *testing.T, name, content string) (*fleetFile, error) {
	t.Helper()
	sf, changed := parseFlags(t, "--file", name)
	s, fleet, err := buildSpecs(sf, changed, func(string) ([]byte, error) { return []byte(content), nil })
	if err == nil && fleet == nil {
		t.Fatalf("%s: parsed as one spec %+v, not a fleet", name, s)
	}
	return fleet, err
}

func specsOf(f *fleetFile) []workflows.TenantSpec {
	var out []workflows.TenantSpec
	for _, e := range f.entries {
		out = append(out, e.spec)
	}
	return out
}

const (
	tenant1 = "11111111-2222-3333-4444-555555555555"
	tenant2 = "22222222-3333-4444-5555-666666666666"
	tenant3 = "33333333-4444-5555-6666-777777777777"
)

// The three fleet forms of the examples describe the same fleet.
func TestFleetExamplesAgree(t *testing.T) {
	want := []workflows.TenantSpec{
		{TenantID: tenant1, Domain: "contoso.com", PasswordHashSync: true, ExchangeHybridWriteback: true,
			Notifications: workflows.Notifications{Enabled: true, Recipients: []string{"admin@contoso.com"}}},
		{TenantID: tenant2, Domain: "corp.fabrikam.com", PasswordHashSync: true, DeleteThreshold: workflows.DeleteThreshold{Value: ptr(200)}},
		{TenantID: tenant3, Domain: "tailspintoys.com", StartJobs: ptr(false)},
	}
	yamlDoc, err := os.ReadFile("../examples/fleet.yaml")
	require.NoError(t, err)
	f, err := fleetFrom(t, "fleet.yaml", string(yamlDoc))
	require.NoError(t, err)
	assert.Equal(t, want, specsOf(f))
	assert.Equal(t, "tenants[1] (line 9)", f.entries[1].where)
	require.NoError(t, validateFleet(f))

	// The bare list form.
	var list strings.Builder
	for _, line := range strings.Split(string(yamlDoc), "\n") {
		if strings.HasPrefix(line, "  ") {
			list.WriteString(strings.TrimPrefix(line, "  ") + "\n")
		}
	}
	f, err = fleetFrom(t, "fleet.yml", list.String())
	require.NoError(t, err)
	assert.Equal(t, want, specsOf(f))
	assert.Equal(t, "[0] (line 1)", f.entries[0].where)

	csvDoc, err := os.ReadFile("../examples/fleet.csv")
	require.NoError(t, err)
	f, err = fleetFrom(t, "fleet.CSV", string(csvDoc))
	require.NoError(t, err)
	got := specsOf(f)
	// The CSV example spells out a bit more than the YAML one.
	want[0].Notifications.Recipients = append(want[0].Notifications.Recipients, "ops@contoso.com")
	want[1].DisplayName = "Fabrikam corp"
	want[2].DeleteThreshold.Enabled = ptr(false)
	assert.Equal(t, want, got)
	assert.Equal(t, "row 2 (line 3)", f.entries[1].where)
	require.NoError(t, validateFleet(f))
}

// A YAML file with one mapping is still one tenant spec.
func TestSingleSpecFileIsNotAFleet(t *testing.T) {
	sf, changed := parseFlags(t, "--file", "tenant.yaml")
	s, fleet, err := buildSpecs(sf, changed, func(string) ([]byte, error) {
		return []byte("tenantId: " + tenant1 + "\ndomain: contoso.com\n"), nil
	})
	require.NoError(t, err)
	assert.Nil(t, fleet)
	assert.Equal(t, tenant1, s.TenantID)

	// buildSpec (one tenant) refuses a fleet.
	_, err = buildSpec(sf, changed, func(string) ([]byte, error) {
		return []byte("- tenantId: " + tenant1 + "\n  domain: contoso.com\n"), nil
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "holds a fleet of 1 tenant specs")
}

func TestFleetYAMLProblemsNameTheEntry(t *testing.T) {
	_, err := fleetFrom(t, "f.yaml", `tenants:
  - tenantId: `+tenant1+`
    domain: contoso.com
  - tenantId: `+tenant2+`
    domian: fabrikam.com
  - tenantId: `+tenant3+`
    deleteThreshold: {value: lots}
`)
	require.Error(t, err)
	msg := err.Error()
	// The type errors and unknown fields, and every entry's other problems
	// (here the missing domains), all at once.
	assert.Contains(t, msg, "invalid fleet file (4 problems)")
	assert.Contains(t, msg, "tenants[1].domian: unknown field (line 5); known fields in tenants[1]: deleteThreshold, displayName, domain,")
	assert.Contains(t, msg, `tenants[2].deleteThreshold.value: must be a whole number, got "lots" (line 7)`)
	assert.Contains(t, msg, "tenants[1] (line 4): domain: is required")
	assert.Contains(t, msg, "tenants[2] (line 6): domain: is required")
	assert.NotContains(t, msg, "deleteThreshold.value: is", "a field with a type error is not reported twice")

	_, err = fleetFrom(t, "f.yaml", "tenants:\n  - tenantId: "+tenant1+"\n    domain: contoso.com\nrate: 5\n")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "rate: unknown field (line 4); a fleet document holds only tenants: [...]")

	_, err = fleetFrom(t, "f.yaml", "tenants: []\n")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the fleet holds no tenant spec")

	_, err = fleetFrom(t, "f.yaml", "tenants: "+tenant1+"\n")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "tenants: must be a list of tenant specs (line 1)")
}

func TestFleetCSVProblemsNameRowAndField(t *testing.T) {
	_, err := fleetFrom(t, "f.csv", "tenantId,domain,passwordHashSync,deleteThreshold,color\n")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `header: unknown column "color"; known columns: tenantId, domain,`)

	_, err = fleetFrom(t, "f.csv", "domain,notify\ncontoso.com,true\n")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "header: column tenantId is required")

	_, err = fleetFrom(t, "f.csv", strings.Join([]string{
		"TenantID, Domain, passwordHashSync, deleteThreshold, startJobs",
		tenant1 + ",contoso.com,maybe,500,",
		tenant2 + ",fabrikam.com,true,many,no",
		tenant3 + ",tailspin.com,true",
	}, "\n")+"\n")
	require.Error(t, err)
	msg := err.Error()
	assert.Contains(t, msg, "invalid CSV fleet file (3 problems)")
	assert.Contains(t, msg, `row 1 (line 2): passwordHashSync: must be true or false, got "maybe"`)
	assert.Contains(t, msg, `row 2 (line 3): deleteThreshold: must be a whole number or off, got "many"`)
	assert.Contains(t, msg, "row 3 (line 4): has 3 fields, the header has 5")

	_, err = fleetFrom(t, "f.csv", "tenantId,domain\n")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "a header but no tenant row")

	// Errors in several rows, of both kinds: every one at once.
	_, err = fleetFrom(t, "f.csv", strings.Join([]string{
		"tenantId,domain,passwordHashSync,deleteThreshold",
		tenant1 + ",contoso.com,maybe,10",
		tenant2 + ",fabrikam.com,true,abc",
		"nope,x,true,5",
		tenant3 + ",tailspin.com,true,0",
	}, "\n")+"\n")
	require.Error(t, err)
	msg = err.Error()
	assert.Contains(t, msg, "invalid CSV fleet file (5 problems)", msg)
	assert.Contains(t, msg, `row 1 (line 2): passwordHashSync: must be true or false, got "maybe"`)
	assert.Contains(t, msg, `row 2 (line 3): deleteThreshold: must be a whole number or off, got "abc"`)
	assert.Contains(t, msg, `row 3 (line 4): tenantId: "nope" is not a GUID`)
	assert.Contains(t, msg, `row 3 (line 4): domain: "x" is not a fully qualified domain name`)
	assert.Contains(t, msg, `row 4 (line 5): deleteThreshold.value:`)
}

// Every spec is validated before anything starts; each problem names its row
// and field, and a tenant and domain listed twice is refused.
func TestValidateFleetListsEveryProblem(t *testing.T) {
	f, err := fleetFrom(t, "f.csv", strings.Join([]string{
		"tenantId,domain,notify,recipients",
		tenant1 + ",contoso.com,,",
		"not-a-guid,contoso.com,,",
		tenant2 + ",fabrikam,true,",
		strings.ToUpper(tenant1) + ",Contoso.com.,,",
		tenant3 + ",tailspin.com,true,ops@tailspin.com;bad-address",
	}, "\n"))
	require.NoError(t, err)
	err = validateFleet(f)
	require.Error(t, err)
	msg := err.Error()
	assert.Contains(t, msg, "invalid fleet of 5 tenants (5 problems)")
	assert.Contains(t, msg, "row 2 (line 3): tenantId: \"not-a-guid\" is not a GUID")
	assert.Contains(t, msg, "row 3 (line 4): domain: \"fabrikam\" is not a fully qualified domain name")
	assert.Contains(t, msg, "row 3 (line 4): notifications.recipients: is empty but notifications are enabled")
	assert.Contains(t, msg, "row 4 (line 5): tenant "+tenant1+" domain contoso.com is already in row 1 (line 2)")
	assert.Contains(t, msg, `row 5 (line 6): notifications.recipients[1]: "bad-address" is not an email address`)
}

// A configuration is identified by its domain and renamed to the spec's
// display name, so two domains of one tenant under one display name (which
// defaults to the domain) would rename each other's: refused, row by row,
// before anything starts. Two tenants may share a name.
func TestFleetRefusesTwoDomainsUnderOneDisplayName(t *testing.T) {
	f, err := fleetFrom(t, "f.csv", strings.Join([]string{
		"tenantId,domain,displayName",
		tenant1 + ",contoso.com,Contoso sync",
		tenant1 + ",corp.contoso.com,contoso SYNC",
		tenant2 + ",fabrikam.com,Contoso sync", // another tenant: fine
		tenant2 + ",corp.fabrikam.com,",
		tenant2 + ",eu.fabrikam.com,corp.fabrikam.com", // the other row's default name
		tenant3 + ",tailspin.com,tailspin",
		tenant3 + ",eu.tailspin.com,eu tailspin",
	}, "\n"))
	require.NoError(t, err)
	err = validateFleet(f)
	require.Error(t, err)
	msg := err.Error()
	assert.Contains(t, msg, "invalid fleet of 7 tenants (2 problems)")
	assert.Contains(t, msg, `row 2 (line 3): tenant `+tenant1+` domain corp.contoso.com: display name "contoso SYNC" is already used by domain contoso.com in row 1 (line 2)`)
	assert.Contains(t, msg, `row 5 (line 6): tenant `+tenant2+` domain eu.fabrikam.com: display name "corp.fabrikam.com" is already used by domain corp.fabrikam.com in row 4 (line 5)`)
	assert.NotContains(t, msg, "row 3")
	assert.NotContains(t, msg, "tailspin")

	// Through the CLI: exit 2, nothing started.
	isolateEnv(t)
	t.Setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")
	code, stdout, stderr := runCLI(t, "onboard", "--file", writeFile(t, "fleet.yaml",
		"- {tenantId: "+tenant1+", domain: contoso.com, displayName: Contoso}\n- {tenantId: "+tenant1+", domain: corp.contoso.com, displayName: Contoso}\n"))
	assert.Equal(t, exitUsage, code, stderr)
	assert.Contains(t, stderr, `[1] (line 2): tenant `+tenant1+` domain corp.contoso.com: display name "Contoso" is already used by domain contoso.com in [0] (line 1)`)
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
	assert.Equal(t, exitUsage, code, stderr)
	assert.Contains(t, stderr, "invalid fleet of 300 tenants (300 problems)")
	assert.Contains(t, stderr, "row 1 (line 2): domain:")
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
		assert.Equal(t, exitUsage, code, "%v: %s", tc.args, stderr)
		assert.Contains(t, stderr, tc.want)
	}
	// --rate and --concurrency mean nothing for one tenant.
	code, _, stderr = runCLI(t, "onboard", "--tenant-id", tenant1, "--domain", "contoso.com", "--rate", "2")
	assert.Equal(t, exitUsage, code, stderr)
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
