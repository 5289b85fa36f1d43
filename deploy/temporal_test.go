package deploy

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.temporal.io/sdk/contrib/envconfig"
)

const (
	saScript    = "deploy/temporal/search-attributes.sh"
	tomlExample = "deploy/temporal/temporal.toml.example"
)

var scriptAttributes = regexp.MustCompile(`(?s)\nATTRIBUTES=\(\s*(.*?)\)`)

// checkScriptAttributes: the script's list is workflows.SearchAttributes,
// each name=type.
func checkScriptAttributes(script string, f facts) []string {
	m := scriptAttributes.FindStringSubmatch(script)
	if m == nil {
		return []string{saScript + ": no ATTRIBUTES=( ... ) list"}
	}
	var entries []string
	for _, line := range strings.Split(m[1], "\n") {
		line, _, _ = strings.Cut(line, "#")
		entries = append(entries, strings.Fields(line)...)
	}
	var want []string
	for _, n := range f.searchAttributes {
		want = append(want, n+"="+f.searchTypes[n])
	}
	return sameSet(saScript, entries, want)
}

// fakeCLI writes a shell script that logs its arguments, one call per line,
// and prints listOutput for list/get calls.
func fakeCLI(t *testing.T, dir, name, listOutput string) string {
	t.Helper()
	log := filepath.Join(dir, name+".log")
	script := fmt.Sprintf("#!/bin/sh\necho \"$*\" >> %q\ncase \"$*\" in *\" list\"*|*\"namespace get\"*) printf '%%s\\n' %q ;; esac\n", log, listOutput)
	if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return log
}

// runScript runs the script with fake temporal/tcld and returns their calls.
func runScript(t *testing.T, f facts, script string, listOutput string, args ...string) ([]string, string) {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "search-attributes.sh")
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	tlog := fakeCLI(t, dir, "temporal", listOutput)
	clog := fakeCLI(t, dir, "tcld", listOutput)
	cmd := exec.Command(bash, append([]string{path}, args...)...)
	cmd.Env = append(os.Environ(), "TEMPORAL_CLI="+filepath.Join(dir, "temporal"), "TCLD="+filepath.Join(dir, "tcld"), "TEMPORAL_NAMESPACE=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", saScript, args, err, out)
	}
	var calls []string
	for _, log := range []string{tlog, clog} {
		raw, _ := os.ReadFile(log)
		for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
			if l != "" {
				calls = append(calls, l)
			}
		}
	}
	return calls, string(out)
}

// checkScriptCalls: one create per attribute not yet registered, one --name
// each, with its type, on the requested namespace.
func checkScriptCalls(calls []string, f facts, namespace string, registered ...string) []string {
	var problems []string
	var names []string
	for _, c := range calls {
		args := strings.Fields(c)
		switch {
		case strings.Contains(c, "search-attribute create"):
			var n []string
			for i, a := range args {
				if a == "--name" && i+1 < len(args) {
					n = append(n, args[i+1])
				}
			}
			if len(n) != 1 {
				problems = append(problems, fmt.Sprintf("%q: want exactly one --name", c))
			}
			if v, _ := flagValue(args, "type"); len(n) == 1 && v != f.searchTypes[n[0]] {
				problems = append(problems, fmt.Sprintf("%q: type %q, want %q", c, v, f.searchTypes[n[0]]))
			}
			if v, _ := flagValue(args, "namespace"); v != namespace {
				problems = append(problems, fmt.Sprintf("%q: namespace %q, want %q", c, v, namespace))
			}
			names = append(names, n...)
		case strings.Contains(c, "search-attributes add"):
			v, _ := flagValue(args, "search-attribute")
			name, typ, _ := strings.Cut(v, "=")
			if typ != f.searchTypes[name] {
				problems = append(problems, fmt.Sprintf("%q: type %q, want %q", c, typ, f.searchTypes[name]))
			}
			if ns, _ := flagValue(args, "namespace"); ns != namespace {
				problems = append(problems, fmt.Sprintf("%q: namespace %q, want %q", c, ns, namespace))
			}
			names = append(names, name)
		}
	}
	var want []string
	skip := map[string]bool{}
	for _, r := range registered {
		skip[r] = true
	}
	for _, n := range f.searchAttributes {
		if !skip[n] {
			want = append(want, n)
		}
	}
	return append(problems, sameSet("script calls", names, want)...)
}

// checkTOML: the example parses strictly, has the three profiles, and the
// mTLS paths are the ones the Kubernetes mTLS overlay mounts.
func checkTOML(data []byte, k kube) []string {
	conf, err := envconfig.LoadClientConfig(envconfig.LoadClientConfigOptions{ConfigFileData: data, ConfigFileStrict: true})
	if err != nil {
		return []string{fmt.Sprintf("%s: %v", tomlExample, err)}
	}
	var problems []string
	need := func(name string) *envconfig.ClientConfigProfile {
		p := conf.Profiles[name]
		if p == nil {
			problems = append(problems, fmt.Sprintf("%s: no profile %s", tomlExample, name))
			return &envconfig.ClientConfigProfile{}
		}
		if p.Address == "" || p.Namespace == "" {
			problems = append(problems, fmt.Sprintf("%s: profile %s lacks address or namespace", tomlExample, name))
		}
		return p
	}
	dev := need("default")
	if dev.Address != "localhost:7233" || dev.APIKey != "" || dev.TLS != nil {
		problems = append(problems, fmt.Sprintf("%s: profile default should be the local dev server (localhost:7233, no TLS)", tomlExample))
	}
	key := need("cloud-api-key")
	if !cloudAddress.MatchString(key.Address) || key.APIKey == "" {
		problems = append(problems, fmt.Sprintf("%s: profile cloud-api-key needs a *.tmprl.cloud:7233 address and api_key", tomlExample))
	}
	mtls := need("cloud-mtls")
	if !cloudAddress.MatchString(mtls.Address) || mtls.TLS == nil || mtls.TLS.ClientCertPath == "" || mtls.TLS.ClientKeyPath == "" {
		problems = append(problems, fmt.Sprintf("%s: profile cloud-mtls needs a *.tmprl.cloud:7233 address and tls client_cert_path/client_key_path", tomlExample))
	} else if env := k.generators("overlays/temporal-cloud-mtls")["cloudsync-worker"]; env["TEMPORAL_TLS_CLIENT_CERT_PATH"] != mtls.TLS.ClientCertPath || env["TEMPORAL_TLS_CLIENT_KEY_PATH"] != mtls.TLS.ClientKeyPath {
		problems = append(problems, fmt.Sprintf("%s: cloud-mtls paths differ from overlays/temporal-cloud-mtls (%s, %s)", tomlExample, env["TEMPORAL_TLS_CLIENT_CERT_PATH"], env["TEMPORAL_TLS_CLIENT_KEY_PATH"]))
	}
	return problems
}

// ---- tests on the real files ----

func readRepoFile(t *testing.T, f facts, rel string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(f.root, rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func TestSearchAttributeScriptList(t *testing.T) {
	f := loadFacts(t)
	noProblems(t, checkScriptAttributes(readRepoFile(t, f, saScript), f))
	st, err := os.Stat(filepath.Join(f.root, saScript))
	if err != nil || st.Mode()&0o111 == 0 {
		t.Errorf("%s is not executable", saScript)
	}
}

func TestSearchAttributeScriptRuns(t *testing.T) {
	f := loadFacts(t)
	script := readRepoFile(t, f, saScript)
	t.Run("temporal CLI, fresh namespace", func(t *testing.T) {
		calls, _ := runScript(t, f, script, "Name Type", "--namespace", "ns1")
		noProblems(t, checkScriptCalls(calls, f, "ns1"))
	})
	t.Run("temporal CLI, some registered", func(t *testing.T) {
		calls, out := runScript(t, f, script, "  CloudSyncTenant  Keyword\n  CloudSyncStep  Keyword")
		noProblems(t, checkScriptCalls(calls, f, "default", "CloudSyncTenant", "CloudSyncStep"))
		if !strings.Contains(out, "CloudSyncTenant: already registered") {
			t.Errorf("output: %s", out)
		}
	})
	t.Run("tcld", func(t *testing.T) {
		calls, _ := runScript(t, f, script, `{"customSearchAttributes":{"CloudSyncDomain":"Keyword"}}`, "--tcld", "--namespace", "prod.a1b2c")
		noProblems(t, checkScriptCalls(calls, f, "prod.a1b2c", "CloudSyncDomain"))
	})
}

func TestTemporalTOMLExample(t *testing.T) {
	f := loadFacts(t)
	noProblems(t, checkTOML([]byte(readRepoFile(t, f, tomlExample)), loadKube(t, f)))
}

// ---- each check catches a breakage ----

func TestTemporalChecksCatchBreakage(t *testing.T) {
	f := loadFacts(t)
	script := readRepoFile(t, f, saScript)
	toml := readRepoFile(t, f, tomlExample)
	k := loadKube(t, f)
	mustReplace := func(s, old, new string) string {
		if !strings.Contains(s, old) {
			t.Fatalf("no %q: update this test", old)
		}
		return strings.Replace(s, old, new, 1)
	}
	t.Run("script list", func(t *testing.T) {
		expectProblem(t, checkScriptAttributes(mustReplace(script, "  CloudSyncJobState=Keyword\n", ""), f), "missing CloudSyncJobState=Keyword")
		expectProblem(t, checkScriptAttributes(mustReplace(script, "  CloudSyncJobState=Keyword\n", "  CloudSyncJobState=Keyword\n  CloudSyncExtra=Keyword\n"), f), "CloudSyncExtra=Keyword is not expected")
		expectProblem(t, checkScriptAttributes(mustReplace(script, "  CloudSyncAwaitingApproval=Bool\n", "  CloudSyncAwaitingApproval=Keyword\n"), f), "missing CloudSyncAwaitingApproval=Bool")
	})
	t.Run("script calls", func(t *testing.T) {
		calls, _ := runScript(t, f, mustReplace(script, `--name "$name" --type "$type"`, `--name "$name" --name Extra --type "$type"`), "")
		expectProblem(t, checkScriptCalls(calls, f, "default"), "exactly one --name")
		calls, _ = runScript(t, f, mustReplace(script, `--type "$type"`, `--type Text`), "")
		expectProblem(t, checkScriptCalls(calls, f, "default"), `type "Text"`)
		calls, _ = runScript(t, f, mustReplace(script, `if ! $dry_run && grep -qw "$name" <<<"$have"; then`, `if false; then`), "CloudSyncTenant Keyword")
		expectProblem(t, checkScriptCalls(calls, f, "default", "CloudSyncTenant"), "CloudSyncTenant is not expected")
	})
	t.Run("toml", func(t *testing.T) {
		expectProblem(t, checkTOML([]byte(mustReplace(toml, "[profile.cloud-mtls.tls]", "[profile.cloud-mtls.tlz]")), k), "tlz")
		expectProblem(t, checkTOML([]byte(mustReplace(toml, `api_key = "<api key, or leave out and set TEMPORAL_API_KEY>"`, "")), k), "cloud-api-key needs")
		expectProblem(t, checkTOML([]byte(mustReplace(toml, "[profile.default]", "[profile.dev]")), k), "no profile default")
		expectProblem(t, checkTOML([]byte(mustReplace(toml, `client_key_path = "/etc/temporal/tls/tls.key"`, `client_key_path = "/certs/client.key"`)), k), "paths differ")
	})
}
