package main

import (
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudsync/cloudsync/starter/pkg/cmdutil"
	"github.com/cloudsync/cloudsync/starter/pkg/spec"
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
	cases := []badInput{
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
			[]string{"unknown.yaml:3: passwordHashSynch: unknown field", "passwordHashSync"}},
		{"oversized unknown YAML field", []string{"onboard", "--file", writeFile(t, "bigkey.yaml", goodYAML+strings.Repeat("k", 1000)+": 1\n")},
			[]string{"bigkey.yaml:3: kkk", "...: unknown field"}},
		{"unknown nested YAML field", []string{"onboard", "--file", writeFile(t, "nested.yaml", goodYAML+"deleteThreshold:\n  valu: 10\n")},
			[]string{"nested.yaml:4: deleteThreshold.valu: unknown field", "known fields in deleteThreshold: enabled, value"}},
		{"wrong YAML type", []string{"onboard", "--file", writeFile(t, "type.yaml", goodYAML+"deleteThreshold:\n  value: abc\n")},
			[]string{"deleteThreshold.value:", `type.yaml:4: deleteThreshold.value: must be a whole number, got "abc"`}},
		{"YAML scalar for a mapping", []string{"onboard", "--file", writeFile(t, "scalar.yaml", goodYAML+"deleteThreshold: 500\n")},
			[]string{"deleteThreshold:", "must be a mapping (enabled, value)"}},
		{"YAML syntax error", []string{"onboard", "--file", writeFile(t, "syntax.yaml", "tenantId: [\n")},
			[]string{"invalid spec file", "syntax.yaml:1: "}},
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
		{"oversized file", []string{"onboard", "--file", writeFile(t, "big.yaml", goodYAML+"# "+strings.Repeat("x", spec.MaxSpecFileSize)+"\n")},
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
		{"unknown command", []string{"destroy"},
			[]string{`unknown command "destroy"`}},
		{"status without target", []string{"status"},
			[]string{"--tenant-id and --domain"}},
		{"status with a bad tenant", []string{"status", "--tenant-id", "nope", "--domain", goodDomain},
			[]string{"tenantId:"}},
		{"status with workflow id and tenant", []string{"status", "--workflow-id", "x", "--tenant-id", goodTenant},
			[]string{"--workflow-id"}},
		{"status with a bad tenant and no domain", []string{"status", "--tenant-id", "contoso.com"},
			[]string{"--tenant-id:", "is not a GUID"}},
	}
	return append(append(cases, watchBadInputs()...), offboardBadInputs()...)
}

// offboardBadInputs are offboard flags refused before Temporal is contacted.
func offboardBadInputs() []badInput {
	off := func(extra ...string) []string {
		return append([]string{"offboard", "--tenant-id", goodTenant, "--domain", goodDomain}, extra...)
	}
	return []badInput{
		{"offboard with nothing", []string{"offboard"}, []string{"--tenant-id:", "is required", "--domain:", "(2 problems)"}},
		{"offboard with a tenant name", []string{"offboard", "--tenant-id", "contoso.onmicrosoft.com", "--domain", goodDomain}, []string{"--tenant-id:", "is not a GUID"}},
		{"offboard with a bad domain", []string{"offboard", "--tenant", goodTenant, "--domain", "contoso"}, []string{"--domain:", "not a fully qualified"}},
		{"offboard approve and reject", off("--approve", "--reject", "--approver", "a@contoso.com", "--reason", "r"), []string{"--approve:", "decide one way"}},
		{"offboard approve without approver", off("--approve", "--reason", "r"), []string{"--approver:", "is required"}},
		{"offboard reject without reason", off("--reject", "--approver", "a@contoso.com"), []string{"--reason:", "is required"}},
		{"offboard approve as a name", off("--approve", "--approver", "alice", "--reason", "r"), []string{"--approver:", "not an e-mail address"}},
		{"offboard approve with an oversized reason", off("--approve", "--approver", "a@contoso.com", "--reason", strings.Repeat("r", 1001)), []string{"--reason:", "1001 characters"}},
		{"offboard approver without a decision", off("--approver", "a@contoso.com"), []string{"--approver:", "goes with --approve or --reject"}},
		{"offboard decision with start options", off("--approve", "--approver", "a@contoso.com", "--reason", "r", "--allowed-approver", "b@contoso.com"), []string{"--allowed-approver:", "not with --approve"}},
		{"offboard with an allowed approver that is not an address", off("--allowed-approver", "bob"), []string{"--allowed-approver:", "not an e-mail address"}},
		{"offboard with a display name of spaces", off("--display-name", "   "), []string{"--display-name:"}},
		{"offboard with a zero timeout", off("--timeout", "0s"), []string{"--timeout:", "greater than 0"}},
	}
}

const goodJob = "AD2AADProvisioning.0123456789abcdef.fedcba9876543210"

// watchBadInputs are the approve, reject, watch, list and onboard watch
// options that must be refused before Temporal is contacted.
func watchBadInputs() []badInput {
	decide := func(verb string, extra ...string) []string {
		return append([]string{verb, "--tenant-id", goodTenant, "--job-id", goodJob}, extra...)
	}
	watch := func(extra ...string) []string {
		return append([]string{"watch", "--tenant-id", goodTenant, "--service-principal-id", goodSP, "--job-id", goodJob}, extra...)
	}
	onboard := func(extra ...string) []string {
		return append([]string{"onboard", "--tenant-id", goodTenant, "--domain", goodDomain}, extra...)
	}
	return []badInput{
		{"approve without approver", decide("approve", "--reason", "HR batch"),
			[]string{"--approver:", "is required"}},
		{"approve without reason", decide("approve", "--approver", "alice@contoso.com"),
			[]string{"--reason:", "is required"}},
		{"approve without approver nor reason", decide("approve"),
			[]string{"--approver:", "--reason:", "(2 problems)"}},
		{"reject with a blank approver", decide("reject", "--approver", "   ", "--reason", "no"),
			[]string{"--approver:", "is required"}},
		{"reject with a blank reason, async", decide("reject", "--approver", "bob@contoso.com", "--reason", " ", "--async"),
			[]string{"--reason:", "is required"}},
		{"approve with nothing to target", []string{"approve", "--approver", "alice@contoso.com", "--reason", "HR batch"},
			[]string{"--tenant-id:", "is required"}},
		{"approve with a job but no tenant", []string{"approve", "--job-id", goodJob, "--approver", "alice@contoso.com", "--reason", "HR batch"},
			[]string{"--tenant-id:", "is required"}},
		{"approve with an empty job id", []string{"approve", "--tenant-id", goodTenant, "--job-id", "", "--approver", "a@contoso.com", "--reason", "r"},
			[]string{"--job-id:", "is required"}},
		{"approve with a job id holding a slash", []string{"approve", "--tenant-id", goodTenant, "--job-id", "a/b", "--approver", "a@contoso.com", "--reason", "r"},
			[]string{"--job-id:", "is not a sync job id"}},
		{"approve with a bad tenant", []string{"approve", "--tenant-id", "contoso.com", "--domain", goodDomain, "--approver", "a@contoso.com", "--reason", "r"},
			[]string{"--tenant-id:", "is not a GUID"}},
		{"reject with a bad domain", []string{"reject", "--tenant-id", goodTenant, "--domain", "contoso", "--approver", "a@contoso.com", "--reason", "r"},
			[]string{"--domain:", "not a fully qualified"}},
		{"approve with an oversized reason", decide("approve", "--approver", "a@contoso.com", "--reason", strings.Repeat("r", 5000)),
			[]string{"--reason:", "5000 characters"}},
		{"approve with a zero timeout", decide("approve", "--approver", "a@contoso.com", "--reason", "r", "--timeout", "0s"),
			[]string{"--timeout:", "greater than 0"}},
		{"approve with a positional argument", append(decide("approve", "--approver", "a@contoso.com", "--reason", "r"), "now"),
			[]string{"unknown command"}},
		{"watch with nothing", []string{"watch"},
			[]string{"--tenant-id:", "--service-principal-id:", "--job-id:", "(3 problems)"}},
		{"watch with a service principal name", []string{"watch", "--tenant-id", goodTenant, "--service-principal-id", "contoso-sync", "--job-id", goodJob},
			[]string{"--service-principal-id:", "is not a GUID"}},
		{"watch with a poll interval (the worker's now)", watch("--poll-interval", "1m"),
			[]string{"--poll-interval:", "worker --watch-interval"}},
		{"watch with a webhook URL (a secret: the worker's)", watch("--webhook-url", "https://hooks.contoso.com/x"),
			[]string{"--webhook-url:", "worker --webhook name=url"}},
		{"watch with a URL as webhook name", watch("--webhook", "https://hooks.contoso.com/x"),
			[]string{"--webhook:", "not a webhook name"}},
		{"watch with an empty webhook name", watch("--webhook", ""),
			[]string{"--webhook:", "not a webhook name"}},
		{"watch with an empty approver", watch("--approver", "alice@contoso.com", "--approver", ""),
			[]string{"--approver[1]:", "is required"}},
		{"watch with approvers in one flag", watch("--approver", "alice@contoso.com,bob@contoso.com"),
			[]string{"--approver:", "several names"}},
		{"watch with a bad domain", watch("--domain", "-x.contoso.com"),
			[]string{"--domain:"}},
		{"onboard with a poll interval", onboard("--poll-interval", "1s"),
			[]string{"--poll-interval:", "worker --watch-interval"}},
		{"onboard with a zero reminder interval", onboard("--reminder-interval", "0s"),
			[]string{"--reminder-interval:", "greater than 0"}},
		{"onboard with a webhook with capitals", onboard("--webhook", "Teams Ops"),
			[]string{"--webhook:", "not a webhook name"}},
		{"onboard with a blank approver", onboard("--approver", " "),
			[]string{"--approver:", "is required"}},
		{"onboard --no-watch with watch options", onboard("--no-watch", "--approver", "alice@contoso.com", "--reminder-interval", "1h"),
			[]string{"--no-watch:", "--approver, --reminder-interval"}},
		{"onboard with a bad spec and a bad watch option", []string{"onboard", "--tenant-id", "x", "--domain", goodDomain, "--reminder-interval", "1s"},
			[]string{"tenantId:", "--reminder-interval:"}},
		{"list with a bad tenant", []string{"list", "--awaiting-approval", "--tenant-id", "nope"},
			[]string{"--tenant-id:", "is not a GUID"}},
		// An approver is an e-mail address: the workflow's rule
		// (workflows.CheckApprover), checked before anything is sent.
		{"onboard with an approver that is not an address", onboard("--approver", "alice"),
			[]string{"--approver:", `"alice" is not an e-mail address`}},
		{"watch with an approver that is not an address", watch("--approver", "alice@contoso.com", "--approver", "bob"),
			[]string{"--approver[1]:", `"bob" is not an e-mail address`}},
		{"approve as someone who is not an address", decide("approve", "--approver", "alice", "--reason", "r"),
			[]string{"--approver:", `"alice" is not an e-mail address`}},
		{"reject as someone who is not an address, async", decide("reject", "--approver", "alice", "--reason", "r", "--async"),
			[]string{"--approver:", "not an e-mail address"}},
		{"watch with a negative check timeout", watch("--check-timeout", "-1s"),
			[]string{"--check-timeout:", "must not be negative"}},
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
			assert.Equal(t, cmdutil.ExitUsage, code, "stderr: %s", stderr)
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
	accepted := make(chan string, 100) // remote addresses, in the order they connected
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c.RemoteAddr().String()
			c.Close()
		}
	}()
	t.Setenv("TEMPORAL_ADDRESS", ln.Addr().String())
	for _, tc := range badInputs(t) {
		code, _, stderr := runCLI(t, tc.args...)
		assert.Equal(t, cmdutil.ExitUsage, code, "%s: %s", tc.name, stderr)
	}
	// A last connection of our own: the listener accepts in arrival order,
	// so once it is accepted, any connection a bad input made was too.
	marker, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer marker.Close()
	var before []string
	for addr := range accepted {
		if addr == marker.LocalAddr().String() {
			break
		}
		before = append(before, addr)
	}
	assert.Empty(t, before, "a bad input opened a connection to Temporal")
}

func TestUnreachableTemporalExitsFive(t *testing.T) {
	isolateEnv(t)
	t.Setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")
	start := time.Now()
	code, stdout, stderr := runCLI(t, "onboard", "--tenant-id", goodTenant, "--domain", goodDomain, "--connect-timeout", "1s")
	assert.Equal(t, cmdutil.ExitUnreachable, code, stderr)
	assert.Contains(t, stderr, "cannot reach Temporal at 127.0.0.1:1: ")
	assert.Contains(t, stderr, "Start it with `make dev-server` or set TEMPORAL_ADDRESS")
	assert.Empty(t, stdout)
	assert.Less(t, time.Since(start), 4*time.Second)

	// --address wins over the environment; status reports the same way.
	t.Setenv("TEMPORAL_ADDRESS", "127.0.0.1:2")
	code, _, stderr = runCLI(t, "status", "--tenant-id", goodTenant, "--domain", goodDomain, "--address", "127.0.0.1:1", "--connect-timeout", "1s")
	assert.Equal(t, cmdutil.ExitUnreachable, code, stderr)
	assert.Contains(t, stderr, "cannot reach Temporal at 127.0.0.1:1: ")

	// The sample spec file is valid, so it gets as far as dialling.
	code, _, stderr = runCLI(t, "onboard", "--file", "../examples/tenant.yaml", "--address", "127.0.0.1:1", "--connect-timeout", "1s")
	assert.Equal(t, cmdutil.ExitUnreachable, code, stderr)
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
	assert.Equal(t, cmdutil.ExitUnreachable, code, stderr)
	assert.Contains(t, stderr, "cannot reach Temporal at "+ln.Addr().String())
	assert.Less(t, time.Since(start), 3*time.Second)
}

func TestHelpDocumentsExitCodes(t *testing.T) {
	isolateEnv(t)
	code, stdout, _ := runCLI(t, "--help")
	assert.Equal(t, cmdutil.ExitOK, code)
	for _, want := range []string{"Exit codes:", "0  ok", "1  the onboarding failed", "2  bad input", "3  an onboarding of the same tenant and domain is already running", "4  no such onboarding", "5  Temporal unreachable"} {
		assert.Contains(t, stdout, want)
	}
	code, stdout, _ = runCLI(t, "onboard", "--help")
	assert.Equal(t, cmdutil.ExitOK, code)
	for _, f := range append(spec.FlagNames, "file", "wait", "address", "namespace", "connect-timeout", "ui-url") {
		assert.Contains(t, stdout, "--"+f)
	}
	code, _, stderr := runCLI(t)
	assert.Equal(t, cmdutil.ExitUsage, code)
	assert.Contains(t, stderr, "Exit codes:")

	code, stdout, _ = runCLI(t, "--help")
	require.Equal(t, cmdutil.ExitOK, code)
	for _, want := range []string{"approve", "reject", "watch", "list --awaiting-approval",
		"temporal workflow signal --workflow-id 'cloudsync-watch/<tenant>/<job>'", "--name approve-deletes --input '{\"approver\":\"alice@contoso.com\",\"reason\":\"HR offboarding batch\"}'",
		"temporal workflow update execute --workflow-id", "--name approve-deletes-update"} {
		assert.Contains(t, stdout, want)
	}
	for cmd, flags := range map[string][]string{
		"approve":  {"tenant-id", "domain", "job-id", "approver", "reason", "async", "timeout"},
		"reject":   {"tenant-id", "domain", "job-id", "approver", "reason", "async"},
		"watch":    {"tenant-id", "service-principal-id", "job-id", "domain", "reminder-interval", "approver", "webhook"},
		"list":     {"awaiting-approval", "drifted", "tenant-id"},
		"plan":     {"file", "tenant-id", "domain", "output", "concurrency", "timeout"},
		"status":   {"tenant-id", "domain", "workflow-id"},
		"onboard":  {"approver", "reminder-interval", "webhook", "no-watch"},
		"offboard": {"tenant-id", "domain", "display-name", "allowed-approver", "approve", "reject", "approver", "reason", "wait", "timeout"},
	} {
		code, stdout, _ := runCLI(t, cmd, "--help")
		require.Equal(t, cmdutil.ExitOK, code, cmd)
		assert.Contains(t, stdout, "Examples:", cmd)
		for _, f := range flags {
			assert.Contains(t, stdout, "--"+f+" ", "%s --help lacks --%s", cmd, f)
		}
	}
	_, stdout, _ = runCLI(t, "approve", "--help")
	assert.Contains(t, stdout, "--name approve-deletes --input '{\"approver\":\"alice@contoso.com\",\"reason\":\"HR offboarding batch\"}'")
	assert.Contains(t, stdout, "--name approve-deletes-update --input")
	_, stdout, _ = runCLI(t, "reject", "--help")
	assert.Contains(t, stdout, "--name reject-deletes --input")
	assert.Contains(t, stdout, "--name reject-deletes-update --input")
}

func TestBadClientConfigIsUsageError(t *testing.T) {
	isolateEnv(t)
	t.Setenv("TEMPORAL_CONFIG_FILE", writeFile(t, "temporal.toml", "[profile.default\naddress = \n"))
	code, _, stderr := runCLI(t, "onboard", "--tenant-id", goodTenant, "--domain", goodDomain, "--connect-timeout", "1s")
	assert.Equal(t, cmdutil.ExitUsage, code, stderr)
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

// --webhook with a URL is refused without printing it (a webhook URL is a
// secret), before anything is sent to Temporal.
func TestWebhookURLIsNotEchoed(t *testing.T) {
	isolateEnv(t)
	t.Setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")
	for _, cmd := range [][]string{
		{"onboard", "--tenant-id", goodTenant, "--domain", "contoso.com"},
		{"watch", "--tenant-id", goodTenant, "--service-principal-id", "sp", "--job-id", "AD2AADProvisioning.abc.def"},
	} {
		code, stdout, stderr := runCLI(t, append(cmd, "--webhook", "https://hooks.example.com/services/secret-token-xyz")...)
		assert.Equal(t, 2, code, "%v: %s", cmd, stderr)
		assert.Contains(t, stderr, "--webhook: a URL is not a webhook name", cmd)
		assert.NotContains(t, stdout+stderr, "secret-token", cmd)
		assert.NotContains(t, stdout+stderr, "hooks.example.com", cmd)
	}
}

// An address pasted with credentials in it is refused without printing them.
func TestUnreachableAddressHidesCredentials(t *testing.T) {
	isolateEnv(t)
	t.Setenv("TEMPORAL_ADDRESS", "alice:hunter2@127.0.0.1:1")
	code, _, stderr := runCLI(t, "list", "--connect-timeout", "1s")
	assert.Equal(t, 5, code, stderr)
	assert.Contains(t, stderr, "cannot reach Temporal at <credentials>@127.0.0.1:1")
	assert.NotContains(t, stderr, "hunter2")
}
