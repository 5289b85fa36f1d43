package main

import (
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type badInput struct {
	name string
	args []string
	// want are substrings of stderr, the first naming the field or flag.
	want []string
}

func badInputs(t *testing.T) []badInput {
	ok := []string{"--tenant-id", goodTenant, "--domain", goodDomain}
	with := func(extra ...string) []string { return append(append([]string{"onboard"}, ok...), extra...) }
	recipients := func(n int) []string {
		var a []string
		for i := range n {
			a = append(a, "--recipient", "ops"+strconv.Itoa(i)+"@contoso.com")
		}
		return a
	}
	goodYAML := "tenantId: " + goodTenant + "\ndomain: contoso.com\n"
	return []badInput{
		{"malformed tenant id", []string{"onboard", "--tenant-id", "contoso.onmicrosoft.com", "--domain", goodDomain},
			[]string{"tenantId:", "is not a GUID"}},
		{"tenant id with a bad digit", []string{"onboard", "--tenant-id", "1111111g-2222-3333-4444-555555555555", "--domain", goodDomain},
			[]string{"tenantId:"}},
		{"missing tenant id", []string{"onboard", "--domain", goodDomain},
			[]string{"tenantId:", "is required"}},
		{"missing domain", []string{"onboard", "--tenant-id", goodTenant},
			[]string{"domain:", "is required"}},
		{"domain with a bad label", []string{"onboard", "--tenant-id", goodTenant, "--domain", "-corp.contoso.com"},
			[]string{"domain:", `label "-corp"`}},
		{"single-label domain", []string{"onboard", "--tenant-id", goodTenant, "--domain", "contoso"},
			[]string{"domain:", "not a fully qualified"}},
		{"too-long display name", with("--display-name", strings.Repeat("n", 121)),
			[]string{"displayName:", "121 characters"}},
		{"display name of spaces", with("--display-name", "   "),
			[]string{"displayName:", "only spaces"}},
		{"display name with control characters", with("--display-name", "Contoso\x07"),
			[]string{"displayName:", "control characters"}},
		{"invalid email", with("--notify", "--recipient", "admin-at-contoso"),
			[]string{"notifications.recipients[0]:", "not an email address"}},
		{"recipients with a comma", with("--notify", "--recipient", "a@contoso.com,b@contoso.com"),
			[]string{"notifications.recipients[0]:", "several addresses"}},
		{"notify without recipient", with("--notify"),
			[]string{"notifications.recipients:", "is empty but notifications are enabled"}},
		{"too many recipients", with(append([]string{"--notify"}, recipients(21)...)...),
			[]string{"notifications.recipients:", "21 addresses"}},
		{"threshold 0", with("--delete-threshold", "0"),
			[]string{"deleteThreshold.value:", "0 is out of range"}},
		{"threshold -5", with("--delete-threshold", "-5"),
			[]string{"deleteThreshold.value:", "-5 is out of range"}},
		{"threshold 100001", with("--delete-threshold=100001"),
			[]string{"deleteThreshold.value:", "100001 is out of range"}},
		{"threshold not a number", with("--delete-threshold", "lots"),
			[]string{"--delete-threshold"}},
		{"no-delete-threshold with delete-threshold", with("--no-delete-threshold", "--delete-threshold", "300"),
			[]string{"deleteThreshold.value:", "threshold is disabled"}},
		{"every problem at once", []string{"onboard", "--tenant-id", "x", "--domain", "y", "--notify", "--delete-threshold", "0"},
			[]string{"tenantId:", "domain:", "notifications.recipients:", "deleteThreshold.value:", "(4 problems)"}},
		{"unknown YAML field", []string{"onboard", "--file", writeFile(t, "unknown.yaml", goodYAML+"passwordHashSynch: true\n")},
			[]string{"passwordHashSynch: unknown field (line 3)", "passwordHashSync"}},
		{"oversized unknown YAML field", []string{"onboard", "--file", writeFile(t, "bigkey.yaml", goodYAML+strings.Repeat("k", 1000)+": 1\n")},
			[]string{"unknown field (line 3)"}},
		{"unknown nested YAML field", []string{"onboard", "--file", writeFile(t, "nested.yaml", goodYAML+"deleteThreshold:\n  valu: 10\n")},
			[]string{"deleteThreshold.valu: unknown field (line 4)", "known fields in deleteThreshold: enabled, value"}},
		{"wrong YAML type", []string{"onboard", "--file", writeFile(t, "type.yaml", goodYAML+"deleteThreshold:\n  value: abc\n")},
			[]string{"deleteThreshold.value:", `must be a whole number, got "abc" (line 4)`}},
		{"YAML scalar for a mapping", []string{"onboard", "--file", writeFile(t, "scalar.yaml", goodYAML+"deleteThreshold: 500\n")},
			[]string{"deleteThreshold:", "must be a mapping (enabled, value)"}},
		{"YAML syntax error", []string{"onboard", "--file", writeFile(t, "syntax.yaml", "tenantId: [\n")},
			[]string{"invalid spec file", "line"}},
		{"empty YAML file", []string{"onboard", "--file", writeFile(t, "empty.yaml", "# nothing\n")},
			[]string{"--file", "empty"}},
		{"two YAML documents", []string{"onboard", "--file", writeFile(t, "two.yaml", goodYAML+"---\n"+goodYAML)},
			[]string{"--file", "more than one YAML document"}},
		{"invalid spec in YAML", []string{"onboard", "--file", writeFile(t, "invalid.yaml", "tenantId: nope\ndomain: contoso.com\nnotifications:\n  enabled: true\n")},
			[]string{"tenantId:", "notifications.recipients:"}},
		{"--file plus --domain", []string{"onboard", "--file", writeFile(t, "mixed.yaml", goodYAML), "--domain", goodDomain},
			[]string{"--file cannot be combined with --domain"}},
		{"--file plus a boolean flag", []string{"onboard", "--file", writeFile(t, "mixed2.yaml", goodYAML), "--password-hash-sync=false"},
			[]string{"--file cannot be combined with --password-hash-sync"}},
		{"empty --file", []string{"onboard", "--file", ""},
			[]string{"--file: give the path"}},
		{"nonexistent file", []string{"onboard", "--file", "/nonexistent/tenant.yaml"},
			[]string{"--file:", "no such file"}},
		{"directory as file", []string{"onboard", "--file", t.TempDir()},
			[]string{"--file:", "is a directory"}},
		{"oversized file", []string{"onboard", "--file", writeFile(t, "big.yaml", goodYAML+"# "+strings.Repeat("x", maxSpecFileSize)+"\n")},
			[]string{"--file:", "larger than 64 KiB"}},
		{"oversized tenant id", []string{"onboard", "--tenant-id", strings.Repeat("1", 100000), "--domain", goodDomain},
			[]string{"tenantId:", "..."}},
		{"oversized domain", []string{"onboard", "--tenant-id", goodTenant, "--domain", strings.Repeat("a", 60) + "." + strings.Repeat("b.", 100) + "com"},
			[]string{"domain:", "at most 253"}},
		{"oversized display name", with("--display-name", strings.Repeat("D", 100000)),
			[]string{"displayName:", "100000 characters"}},
		{"oversized recipient", with("--notify", "--recipient", strings.Repeat("a", 100000)+"@contoso.com"),
			[]string{"notifications.recipients[0]:", "..."}},
		{"oversized YAML value", []string{"onboard", "--file", writeFile(t, "bigvalue.yaml", "tenantId: "+goodTenant+"\ndomain: "+strings.Repeat("c", 5000)+".com\n")},
			[]string{"domain:", "at most 253"}},
		{"unknown flag", []string{"onboard", "--tenant", goodTenant},
			[]string{"unknown flag: --tenant"}},
		{"positional argument", append(with(), "contoso.com"),
			[]string{"unknown command"}},
		{"unknown command", []string{"offboard"},
			[]string{`unknown command "offboard"`}},
		{"status without target", []string{"status"},
			[]string{"--tenant-id and --domain"}},
		{"status with a bad tenant", []string{"status", "--tenant-id", "nope", "--domain", goodDomain},
			[]string{"tenantId:"}},
		{"status with workflow id and tenant", []string{"status", "--workflow-id", "x", "--tenant-id", goodTenant},
			[]string{"--workflow-id"}},
	}
}

// Bad input never reaches Temporal: exit 2, a message naming the field, and
// no connection attempt.
func TestBadInputExitsTwoWithoutContactingTemporal(t *testing.T) {
	isolateEnv(t)
	t.Setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")
	cases := badInputs(t)
	require.GreaterOrEqual(t, len(cases), 15)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tc.args...)
			assert.Equal(t, exitUsage, code, "stderr: %s", stderr)
			for _, w := range tc.want {
				assert.Contains(t, stderr, w)
			}
			assert.NotContains(t, stderr, "cannot reach Temporal")
			assert.NotContains(t, stderr, "127.0.0.1:1")
			assert.NotContains(t, stdout, "started")
			assert.Less(t, len(stderr), 4000, "oversized values must be clipped in messages")
		})
	}
}

// The same cases against a live listener: nothing may even connect.
func TestBadInputOpensNoConnection(t *testing.T) {
	isolateEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	t.Setenv("TEMPORAL_ADDRESS", ln.Addr().String())
	for _, tc := range badInputs(t) {
		code, _, stderr := runCLI(t, tc.args...)
		assert.Equal(t, exitUsage, code, "%s: %s", tc.name, stderr)
	}
	time.Sleep(50 * time.Millisecond)
	assert.Zero(t, accepted.Load(), "a bad input opened a connection to Temporal")
}

func TestUnreachableTemporalExitsFive(t *testing.T) {
	isolateEnv(t)
	t.Setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")
	start := time.Now()
	code, stdout, stderr := runCLI(t, "onboard", "--tenant-id", goodTenant, "--domain", goodDomain, "--connect-timeout", "1s")
	assert.Equal(t, exitUnreachable, code, stderr)
	assert.Contains(t, stderr, "cannot reach Temporal at 127.0.0.1:1: ")
	assert.Contains(t, stderr, "Start it with `make dev-server` or set TEMPORAL_ADDRESS")
	assert.Empty(t, stdout)
	assert.Less(t, time.Since(start), 4*time.Second)

	// --address wins over the environment; status reports the same way.
	t.Setenv("TEMPORAL_ADDRESS", "127.0.0.1:2")
	code, _, stderr = runCLI(t, "status", "--tenant-id", goodTenant, "--domain", goodDomain, "--address", "127.0.0.1:1", "--connect-timeout", "1s")
	assert.Equal(t, exitUnreachable, code, stderr)
	assert.Contains(t, stderr, "cannot reach Temporal at 127.0.0.1:1: ")

	// The sample spec file is valid, so it gets as far as dialling.
	code, _, stderr = runCLI(t, "onboard", "--file", "../examples/tenant.yaml", "--address", "127.0.0.1:1", "--connect-timeout", "1s")
	assert.Equal(t, exitUnreachable, code, stderr)
}

// A host that never answers: the connect timeout bounds the wait.
func TestConnectTimeoutBoundsTheWait(t *testing.T) {
	isolateEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		var conns []net.Conn // accepted, then never answered
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	start := time.Now()
	code, _, stderr := runCLI(t, "onboard", "--tenant-id", goodTenant, "--domain", goodDomain,
		"--address", ln.Addr().String(), "--connect-timeout", "500ms")
	assert.Equal(t, exitUnreachable, code, stderr)
	assert.Contains(t, stderr, "cannot reach Temporal at "+ln.Addr().String())
	assert.Less(t, time.Since(start), 3*time.Second)
}

func TestHelpDocumentsExitCodes(t *testing.T) {
	isolateEnv(t)
	code, stdout, _ := runCLI(t, "--help")
	assert.Equal(t, exitOK, code)
	for _, want := range []string{"Exit codes:", "0  ok", "1  the onboarding failed", "2  bad input", "3  an onboarding of the same tenant and domain is already running", "4  no such onboarding", "5  Temporal unreachable"} {
		assert.Contains(t, stdout, want)
	}
	code, stdout, _ = runCLI(t, "onboard", "--help")
	assert.Equal(t, exitOK, code)
	for _, f := range append(specFlagNames, "file", "wait", "address", "namespace", "connect-timeout", "ui-url") {
		assert.Contains(t, stdout, "--"+f)
	}
	code, _, stderr := runCLI(t)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, "Exit codes:")
}

func TestBadClientConfigIsUsageError(t *testing.T) {
	isolateEnv(t)
	t.Setenv("TEMPORAL_CONFIG_FILE", writeFile(t, "temporal.toml", "[profile.default\naddress = \n"))
	code, _, stderr := runCLI(t, "onboard", "--tenant-id", goodTenant, "--domain", goodDomain, "--connect-timeout", "1s")
	assert.Equal(t, exitUsage, code, stderr)
	assert.Contains(t, stderr, "cannot load the Temporal client configuration")
}

// The starter must never link the Graph SDK (nor activities/graph).
func TestStarterDoesNotLinkGraphSDK(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not on PATH")
	}
	out, err := exec.Command(goBin, "list", "-deps", "github.com/cloudsync/cloudsync/starter").CombinedOutput()
	require.NoError(t, err, string(out))
	deps := strings.Fields(string(out))
	require.Contains(t, deps, "github.com/cloudsync/cloudsync/workflows")
	for _, d := range deps {
		assert.NotContains(t, d, "msgraph", "starter links %s", d)
		assert.NotContains(t, d, "kiota", "starter links %s", d)
		assert.NotEqual(t, "github.com/cloudsync/cloudsync/graph", d)
		assert.NotEqual(t, "github.com/cloudsync/cloudsync/activities", d)
	}
}
