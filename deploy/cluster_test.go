package deploy

import (
	"bytes"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"text/template"

	"gopkg.in/yaml.v3"
)

// The cluster mode (make test-cluster) and the compose stack must run the same
// Temporal server: same version, same schema script, same config file, same
// namespace and search-attribute script.
const (
	clusterScript     = "scripts/cluster.sh"
	clusterDir        = "deploy/temporal/cluster"
	clusterConfig     = clusterDir + "/postgresql.yaml"
	schemaScript      = clusterDir + "/setup-schema.sh"
	namespaceScript   = clusterDir + "/setup-namespace.sh"
	makefile          = "Makefile"
	serverImage       = "temporalio/server"
	adminToolsImage   = "temporalio/admin-tools"
	deprecatedImage   = "temporalio/auto-setup"
	schemaServiceName = "temporal-schema"
)

// clusterFiles are the texts the checks read (replaced by the breakage tests).
type clusterFiles struct {
	makefile, script, schema, namespace, config string
	compose                                     map[string]any
}

func loadClusterFiles(t *testing.T, f facts) clusterFiles {
	t.Helper()
	return clusterFiles{
		makefile:  readRepoFile(t, f, makefile),
		script:    readRepoFile(t, f, clusterScript),
		schema:    readRepoFile(t, f, schemaScript),
		namespace: readRepoFile(t, f, namespaceScript),
		config:    readRepoFile(t, f, clusterConfig),
		compose:   loadCompose(t, f),
	}
}

var makeVar = func(name string) *regexp.Regexp {
	return regexp.MustCompile(`(?m)^` + name + `\s*[:?]?=\s*(\S+)\s*$`)
}

// serverVersion is the Makefile's TEMPORAL_SERVER_VERSION without the "v".
func (c clusterFiles) serverVersion() string {
	m := makeVar("TEMPORAL_SERVER_VERSION").FindStringSubmatch(c.makefile)
	if m == nil {
		return ""
	}
	return strings.TrimPrefix(m[1], "v")
}

// serverRun is how a Temporal server is started: the config file it loads
// (repository path) and its arguments.
type serverRun struct {
	configFile string
	args       []string
}

var scriptServerRun = regexp.MustCompile(`\(cd (\S+) && exec "\$TEMPORAL_SERVER" ([^)]*?)\bstart\)`)

// scriptServer: scripts/cluster.sh runs the server in a directory of the repository.
func (c clusterFiles) scriptServer() (serverRun, string) {
	m := scriptServerRun.FindStringSubmatch(c.script)
	if m == nil {
		return serverRun{}, clusterScript + `: no (cd DIR && exec "$TEMPORAL_SERVER" ... start)`
	}
	args := strings.Fields(m[2])
	return serverRun{configFile: configFileOf(m[1], args), args: args}, ""
}

// configFileOf: temporal-server loads <root>/<config>/<env>.yaml, relative to its working directory.
func configFileOf(workdir string, args []string) string {
	root, ok := flagValue(args, "root")
	if !ok {
		root = "."
	}
	dir, ok := flagValue(args, "config")
	if !ok {
		dir = "config"
	}
	env, ok := flagValue(args, "env")
	if !ok {
		env = "development"
	}
	p := path.Join(root, dir, env+".yaml")
	if !path.IsAbs(root) {
		p = path.Join(workdir, p)
	}
	return path.Clean(p)
}

// hostPath maps a container path to the repository path of its bind mount ("" if none).
func hostPath(svc any, p string) string {
	best, bestTarget := "", ""
	for _, m := range volumesOf(svc) {
		if !strings.HasPrefix(m.source, ".") && !strings.HasPrefix(m.source, "/") {
			continue
		}
		if (p == m.target || strings.HasPrefix(p, strings.TrimSuffix(m.target, "/")+"/")) && len(m.target) > len(bestTarget) {
			rel := strings.TrimPrefix(strings.TrimPrefix(p, m.target), "/")
			best, bestTarget = path.Clean(path.Join(m.source, rel)), m.target
		}
	}
	return best
}

var composeServerRun = regexp.MustCompile(`\btemporal-server\s+((?:\S+\s+)*?)start\b`)

// composeServer: the temporal service runs temporal-server with a config from a bind mount.
func (c clusterFiles) composeServer() (serverRun, string) {
	svc := services(c.compose)["temporal"]
	text := commandText(svc, "entrypoint") + "\n" + commandText(svc, "command")
	m := composeServerRun.FindStringSubmatch(strings.ReplaceAll(text, "\n", " "))
	if m == nil {
		return serverRun{}, "compose temporal: entrypoint/command does not run temporal-server ... start"
	}
	args := strings.Fields(m[1])
	wd := getString(svc, "working_dir")
	if wd == "" {
		wd = "/etc/temporal" // the image's WORKDIR
	}
	inContainer := configFileOf(wd, args)
	host := hostPath(svc, inContainer)
	if host == "" {
		return serverRun{}, fmt.Sprintf("compose temporal: config %s is not in a bind mount of the repository", inContainer)
	}
	return serverRun{configFile: host, args: args}, ""
}

// scriptRuns: the repository paths of the scripts a service's entrypoint/command runs.
func scriptRuns(svc any) (paths []string, args [][]string) {
	words := append(commandArgs(svc, "entrypoint"), commandArgs(svc, "command")...)
	for i, w := range words {
		if strings.HasSuffix(w, ".sh") {
			if h := hostPath(svc, w); h != "" {
				paths = append(paths, h)
				args = append(args, words[i+1:])
			}
		}
	}
	return paths, args
}

// checkClusterVersions: the server and admin-tools images are at the
// Makefile's TEMPORAL_SERVER_VERSION, and nothing uses the deprecated auto-setup.
func checkClusterVersions(c clusterFiles, kubeTexts map[string]string) []string {
	var problems []string
	v := c.serverVersion()
	if v == "" {
		return []string{makefile + ": no TEMPORAL_SERVER_VERSION"}
	}
	want := map[string]string{"temporal": serverImage, schemaServiceName: adminToolsImage, "setup": adminToolsImage}
	for _, name := range sortedKeys(want) {
		img := getString(services(c.compose)[name], "image")
		if img != want[name]+":"+v {
			problems = append(problems, fmt.Sprintf("compose %s: image %q, want %s:%s (the Makefile's TEMPORAL_SERVER_VERSION, what make test-cluster runs)", name, img, want[name], v))
		}
	}
	for _, name := range sortedKeys(services(c.compose)) {
		if imageName(getString(services(c.compose)[name], "image")) == deprecatedImage {
			problems = append(problems, fmt.Sprintf("compose %s: %s is deprecated, use %s plus the schema job", name, deprecatedImage, serverImage))
		}
	}
	for _, name := range sortedKeys(kubeTexts) {
		if strings.Contains(kubeTexts[name], deprecatedImage) {
			problems = append(problems, fmt.Sprintf("%s: uses %s", name, deprecatedImage))
		}
	}
	return problems
}

// checkClusterServer: both start temporal-server on the same config file, which exists.
func checkClusterServer(c clusterFiles, root string) []string {
	var problems []string
	s, p1 := c.scriptServer()
	d, p2 := c.composeServer()
	for _, p := range []string{p1, p2} {
		if p != "" {
			problems = append(problems, p)
		}
	}
	if len(problems) > 0 {
		return problems
	}
	if s.configFile != clusterConfig {
		problems = append(problems, fmt.Sprintf("%s: the server loads %s, want %s", clusterScript, s.configFile, clusterConfig))
	}
	if d.configFile != s.configFile {
		problems = append(problems, fmt.Sprintf("compose temporal loads %s, make test-cluster loads %s: the same config file, please", d.configFile, s.configFile))
	}
	if !exists(filepath.Join(root, d.configFile)) {
		problems = append(problems, fmt.Sprintf("compose temporal: config file %s does not exist", d.configFile))
	}
	// The dynamic config file is relative to the working directory: both run
	// in the config file's directory.
	sWD, _ := flagValue(s.args, "config")
	dWD, _ := flagValue(d.args, "config")
	if sWD != "." || dWD != "." {
		problems = append(problems, fmt.Sprintf("the server must run with --config . in %s (the dynamic config path is relative to it): script %q, compose %q", clusterDir, sWD, dWD))
	}
	if get(dependsOn(services(c.compose)["temporal"])[schemaServiceName], "condition") != "service_completed_successfully" {
		problems = append(problems, "compose temporal: does not wait for "+schemaServiceName+" (condition service_completed_successfully)")
	}
	return problems
}

// checkClusterSchema: compose's schema job and make test-cluster run the same
// schema script; compose never with --reset (it drops the databases).
func checkClusterSchema(c clusterFiles) []string {
	var problems []string
	svc, ok := services(c.compose)[schemaServiceName]
	if !ok {
		return []string{"compose: no " + schemaServiceName + " service"}
	}
	paths, args := scriptRuns(svc)
	if len(paths) != 1 || paths[0] != schemaScript {
		problems = append(problems, fmt.Sprintf("compose %s runs %v, want %s (what make test-cluster runs)", schemaServiceName, paths, schemaScript))
	}
	for _, a := range args {
		if strings.Contains(strings.Join(a, " "), "--reset") {
			problems = append(problems, fmt.Sprintf("compose %s: --reset drops the databases at every start", schemaServiceName))
		}
	}
	if !regexp.MustCompile(`(?m)^[^#\n]*` + regexp.QuoteMeta(schemaScript) + ` --reset\b`).MatchString(c.script) {
		problems = append(problems, fmt.Sprintf("%s does not run %s --reset (fresh databases per test run)", clusterScript, schemaScript))
	}
	// Both talk to the same databases as the server.
	for _, k := range []string{"POSTGRES_SEEDS", "DB_PORT", "POSTGRES_USER", "POSTGRES_PWD", "TEMPORAL_DB", "TEMPORAL_VISIBILITY_DB"} {
		a, b := envOf(svc)[k], envOf(services(c.compose)["temporal"])[k]
		if a != b {
			problems = append(problems, fmt.Sprintf("compose: %s is %q for %s but %q for temporal", k, a, schemaServiceName, b))
		}
	}
	pg := envOf(services(c.compose)["postgresql"])
	if u := envOf(svc)["POSTGRES_USER"]; u != pg["POSTGRES_USER"] {
		problems = append(problems, fmt.Sprintf("compose %s: POSTGRES_USER %q, postgresql makes %q", schemaServiceName, u, pg["POSTGRES_USER"]))
	}
	if host := envOf(svc)["POSTGRES_SEEDS"]; services(c.compose)[host] == nil {
		problems = append(problems, fmt.Sprintf("compose %s: POSTGRES_SEEDS %q is not a compose service", schemaServiceName, host))
	}
	return problems
}

// checkClusterNamespace: compose's setup and make test-cluster run the same
// namespace script, which runs search-attributes.sh (the list lives there).
func checkClusterNamespace(c clusterFiles, root string) []string {
	var problems []string
	svc := services(c.compose)["setup"]
	paths, _ := scriptRuns(svc)
	if len(paths) != 1 || paths[0] != namespaceScript {
		problems = append(problems, fmt.Sprintf("compose setup runs %v, want %s (what make test-cluster runs)", paths, namespaceScript))
	}
	if img := imageName(getString(svc, "image")); img != adminToolsImage {
		problems = append(problems, fmt.Sprintf("compose setup: image %s, want %s (it has the temporal CLI)", img, adminToolsImage))
	}
	if ns := envOf(svc)["TEMPORAL_NAMESPACE"]; ns != "" && ns != "default" {
		problems = append(problems, fmt.Sprintf("compose setup: TEMPORAL_NAMESPACE %q, want default (the worker's)", ns))
	}
	// The script finds ../search-attributes.sh next to itself: it must be in the mount too.
	if !strings.Contains(c.namespace, `"$here/../search-attributes.sh"`) {
		problems = append(problems, namespaceScript+": does not run ../search-attributes.sh")
	} else if len(paths) == 1 {
		container := ""
		for _, w := range append(commandArgs(svc, "entrypoint"), commandArgs(svc, "command")...) {
			if strings.HasSuffix(w, ".sh") {
				container = w
			}
		}
		sa := path.Join(path.Dir(container), "..", "search-attributes.sh")
		if hostPath(svc, sa) != saScript || !exists(filepath.Join(root, saScript)) {
			problems = append(problems, fmt.Sprintf("compose setup: %s is not %s in a bind mount", sa, saScript))
		}
	}
	if !regexp.MustCompile(`(?m)^[^#\n]*` + regexp.QuoteMeta(namespaceScript)).MatchString(c.script) {
		problems = append(problems, fmt.Sprintf("%s does not run %s", clusterScript, namespaceScript))
	}
	return problems
}

// renderClusterConfig renders the config template with the functions it uses
// (sprig's, as the server has them) and the given environment.
func renderClusterConfig(text string, env map[string]string) (map[string]any, error) {
	toInt := func(v any) int64 {
		switch x := v.(type) {
		case int:
			return int64(x)
		case int64:
			return x
		case string:
			n, _ := strconv.ParseInt(x, 10, 64)
			return n
		}
		return 0
	}
	funcs := template.FuncMap{
		"env": func(k string) string { return env[k] },
		"default": func(d any, given ...any) any {
			if len(given) == 0 || given[0] == nil || given[0] == "" {
				return d
			}
			return given[0]
		},
		"atoi":  func(s string) int { n, _ := strconv.Atoi(s); return n },
		"add":   func(a, b any) int64 { return toInt(a) + toInt(b) },
		"sub":   func(a, b any) int64 { return toInt(a) - toInt(b) },
		"quote": func(s any) string { return strconv.Quote(fmt.Sprint(s)) },
	}
	if !strings.Contains(strings.SplitN(text, "\n", 2)[0], "enable-template") {
		return nil, fmt.Errorf("%s: the first line is not \"# enable-template\": the server would not render it", clusterConfig)
	}
	tpl, err := template.New("postgresql.yaml").Funcs(funcs).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := tpl.Execute(&out, nil); err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := yaml.Unmarshal(out.Bytes(), &doc); err != nil {
		return nil, fmt.Errorf("rendered %s: %v\n%s", clusterConfig, err, out.String())
	}
	return doc, nil
}

var scriptDefault = regexp.MustCompile(`\$\{(TEMPORAL_DB|TEMPORAL_VISIBILITY_DB|POSTGRES_SEEDS|DB_PORT|POSTGRES_USER|POSTGRES_PWD):-([^}]*)\}`)

// checkClusterConfig: rendered with make test-cluster's and with compose's
// environment, the config is valid YAML, on the databases the schema script
// makes (with the postgres12 plugin), listens where the clients dial, each
// port once, and its dynamic config file exists.
func checkClusterConfig(c clusterFiles, root string, testPort int) []string {
	var problems []string
	// The schema script's defaults, used when a variable is not set.
	defaults := map[string]string{}
	for _, m := range scriptDefault.FindAllStringSubmatch(c.schema, -1) {
		defaults[m[1]] = m[2]
	}
	if !strings.Contains(c.schema, "--plugin postgres12") {
		problems = append(problems, schemaScript+": not --plugin postgres12")
	}
	envs := map[string]map[string]string{
		"make test-cluster": {"TEMPORAL_FRONTEND_PORT": strconv.Itoa(testPort), "BIND_ON_IP": "127.0.0.1", "TEMPORAL_DB": "cloudsync_e2e", "TEMPORAL_VISIBILITY_DB": "cloudsync_e2e_visibility"},
		"compose":           envOf(services(c.compose)["temporal"]),
		"an empty":          {}, // the config's defaults against the schema script's
	}
	for _, which := range sortedKeys(envs) {
		env := envs[which]
		doc, err := renderClusterConfig(c.config, env)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s with %s's environment: %v", clusterConfig, which, err))
			continue
		}
		for store, dbVar := range map[string]string{"defaultStore": "TEMPORAL_DB", "visibilityStore": "TEMPORAL_VISIBILITY_DB"} {
			name := getString(doc, "persistence", store)
			sql := getMap(doc, "persistence", "datastores", name, "sql")
			if sql == nil {
				problems = append(problems, fmt.Sprintf("%s (%s): persistence %s %q is not an sql datastore", clusterConfig, which, store, name))
				continue
			}
			if p := getString(sql, "pluginName"); p != "postgres12" {
				problems = append(problems, fmt.Sprintf("%s (%s): %s plugin %q, the schema is postgresql/v12 (postgres12)", clusterConfig, which, name, p))
			}
			want := env[dbVar]
			if want == "" {
				want = defaults[dbVar]
			}
			if got := getString(sql, "databaseName"); got != want {
				problems = append(problems, fmt.Sprintf("%s (%s): %s database %q, the schema script makes %q", clusterConfig, which, name, got, want))
			}
			host, port := env["POSTGRES_SEEDS"], env["DB_PORT"]
			if host == "" {
				host = defaults["POSTGRES_SEEDS"]
			}
			if port == "" {
				port = defaults["DB_PORT"]
			}
			if got := getString(sql, "connectAddr"); got != host+":"+port {
				problems = append(problems, fmt.Sprintf("%s (%s): %s connectAddr %q, the schema script uses %s:%s", clusterConfig, which, name, got, host, port))
			}
		}
		front := getString(doc, "services", "frontend", "rpc", "grpcPort")
		if want := env["TEMPORAL_FRONTEND_PORT"]; want != "" && front != want {
			problems = append(problems, fmt.Sprintf("%s (%s): frontend on port %s, want TEMPORAL_FRONTEND_PORT %s", clusterConfig, which, front, want))
		}
		seen := map[string]string{}
		for _, svc := range sortedKeys(getMap(doc, "services")) {
			for _, k := range []string{"grpcPort", "membershipPort", "httpPort"} {
				p := getString(doc, "services", svc, "rpc", k)
				if p == "" {
					continue
				}
				if other, dup := seen[p]; dup {
					problems = append(problems, fmt.Sprintf("%s (%s): port %s for %s.%s and %s", clusterConfig, which, p, svc, k, other))
				}
				seen[p] = svc + "." + k
			}
		}
		if dc := getString(doc, "dynamicConfigClient", "filepath"); dc != "" && !exists(filepath.Join(root, clusterDir, dc)) {
			problems = append(problems, fmt.Sprintf("%s: dynamic config %s does not exist in %s", clusterConfig, dc, clusterDir))
		}
	}
	var ports []string
	for _, p := range getList(services(c.compose)["temporal"], "ports") {
		ports = append(ports, fmt.Sprint(p))
	}
	if front := envOf(services(c.compose)["temporal"])["TEMPORAL_FRONTEND_PORT"]; !strings.Contains(strings.Join(ports, ","), ":"+front) {
		problems = append(problems, fmt.Sprintf("compose temporal: ports %v do not publish the frontend port %s", ports, front))
	}
	return problems
}

func kubeTexts(t *testing.T, f facts) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(filepath.Join(f.root, "deploy", "kubernetes"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := os.ReadFile(p)
		if err == nil {
			rel, _ := filepath.Rel(f.root, p)
			out[filepath.ToSlash(rel)] = string(raw)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func clusterTestPort(t *testing.T, c clusterFiles) int {
	t.Helper()
	m := makeVar("CLUSTER_PORT").FindStringSubmatch(c.makefile)
	if m == nil {
		t.Fatalf("%s: no CLUSTER_PORT", makefile)
	}
	n, err := strconv.Atoi(m[1])
	if err != nil {
		t.Fatalf("%s: CLUSTER_PORT %q", makefile, m[1])
	}
	return n
}

// ---- tests on the real files ----

func TestClusterMatchesCompose(t *testing.T) {
	f := loadFacts(t)
	c := loadClusterFiles(t, f)
	noProblems(t, checkClusterVersions(c, kubeTexts(t, f)))
	noProblems(t, checkClusterServer(c, f.root))
	noProblems(t, checkClusterSchema(c))
	noProblems(t, checkClusterNamespace(c, f.root))
	noProblems(t, checkClusterConfig(c, f.root, clusterTestPort(t, c)))
}

func TestClusterMakeTarget(t *testing.T) {
	f := loadFacts(t)
	mk := readRepoFile(t, f, makefile)
	for _, want := range []string{
		"go.temporal.io/server/cmd/server@$(TEMPORAL_SERVER_VERSION)",
		"go.temporal.io/server/cmd/tools/sql@$(TEMPORAL_SERVER_VERSION)",
		"scripts/cluster.sh test",
	} {
		if !strings.Contains(mk, want) {
			t.Errorf("%s: no %q", makefile, want)
		}
	}
	for _, p := range []string{clusterScript, schemaScript, namespaceScript} {
		st, err := os.Stat(filepath.Join(f.root, p))
		if err != nil || st.Mode()&0o111 == 0 {
			t.Errorf("%s is not executable", p)
		}
	}
}

// ---- each check catches a breakage ----

func TestClusterChecksCatchBreakage(t *testing.T) {
	f := loadFacts(t)
	base := loadClusterFiles(t, f)
	port := clusterTestPort(t, base)
	kube := kubeTexts(t, f)
	svc := func(c clusterFiles, name string) map[string]any { return getMap(c.compose, "services", name) }
	repl := func(s, old, new string) string {
		if !strings.Contains(s, old) {
			t.Fatalf("no %q: update this test", old)
		}
		return strings.Replace(s, old, new, 1)
	}
	all := func(c clusterFiles) []string {
		var p []string
		p = append(p, checkClusterVersions(c, kube)...)
		p = append(p, checkClusterServer(c, f.root)...)
		p = append(p, checkClusterSchema(c)...)
		p = append(p, checkClusterNamespace(c, f.root)...)
		return append(p, checkClusterConfig(c, f.root, port)...)
	}
	cases := []struct {
		name   string
		break_ func(c *clusterFiles)
		want   string
	}{
		{"server version", func(c *clusterFiles) { svc(*c, "temporal")["image"] = "temporalio/server:1.28.0" }, "want temporalio/server:1.29.1"},
		{"Makefile version", func(c *clusterFiles) {
			c.makefile = repl(c.makefile, "TEMPORAL_SERVER_VERSION := v1.29.1", "TEMPORAL_SERVER_VERSION := v1.30.0")
		}, "want temporalio/server:1.30.0"},
		{"auto-setup", func(c *clusterFiles) { svc(*c, "temporal")["image"] = "temporalio/auto-setup:1.29.1" }, "deprecated"},
		{"auto-setup in kubernetes", func(c *clusterFiles) { kube["x.yaml"] = "image: temporalio/auto-setup:1.29.1" }, "x.yaml: uses"},
		{"compose config dir", func(c *clusterFiles) {
			svc(*c, "temporal")["volumes"] = []any{"./deploy/temporal:/etc/temporal/cloudsync:ro"}
		}, "compose temporal loads deploy/temporal/postgresql.yaml"},
		{"compose env", func(c *clusterFiles) {
			svc(*c, "temporal")["entrypoint"] = []any{"sh", "-c", "exec temporal-server --config . --env development start"}
		}, "compose temporal loads deploy/temporal/cluster/development.yaml"},
		{"script config", func(c *clusterFiles) {
			c.script = repl(c.script, "--config . --env postgresql start", "--config . --env sqlite start")
		}, "the server loads deploy/temporal/cluster/sqlite.yaml"},
		{"not in the config dir", func(c *clusterFiles) {
			svc(*c, "temporal")["working_dir"] = "/etc/temporal"
			svc(*c, "temporal")["entrypoint"] = []any{"sh", "-c", "exec temporal-server --config cloudsync --env postgresql start"}
		}, "--config ."},
		{"server before schema", func(c *clusterFiles) { delete(getMap(svc(*c, "temporal"), "depends_on"), schemaServiceName) }, "does not wait"},
		{"compose schema script", func(c *clusterFiles) {
			svc(*c, schemaServiceName)["entrypoint"] = []any{"sh", "-c", "temporal-sql-tool --ep postgresql create-database"}
		}, "want " + schemaScript},
		{"compose resets", func(c *clusterFiles) {
			svc(*c, schemaServiceName)["entrypoint"] = []any{"sh", "/deploy/temporal/cluster/setup-schema.sh", "--reset"}
		}, "drops the databases"},
		{"script does not reset", func(c *clusterFiles) {
			c.script = repl(c.script, schemaScript+" --reset", schemaScript)
		}, "fresh databases"},
		{"schema and server on other databases", func(c *clusterFiles) {
			getMap(svc(*c, "temporal"), "environment")["TEMPORAL_DB"] = "temporal2"
		}, "TEMPORAL_DB is"},
		{"schema user", func(c *clusterFiles) {
			getMap(svc(*c, schemaServiceName), "environment")["POSTGRES_USER"] = "postgres"
			getMap(svc(*c, "temporal"), "environment")["POSTGRES_USER"] = "postgres"
		}, "postgresql makes"},
		{"setup inline", func(c *clusterFiles) {
			svc(*c, "setup")["entrypoint"] = []any{"/bin/sh", "-c", "temporal operator search-attribute create --name CloudSyncTenant --type Keyword"}
		}, "want " + namespaceScript},
		{"setup namespace", func(c *clusterFiles) { getMap(svc(*c, "setup"), "environment")["TEMPORAL_NAMESPACE"] = "cloudsync" }, "want default"},
		{"search-attributes.sh not mounted", func(c *clusterFiles) {
			svc(*c, "setup")["volumes"] = []any{"./deploy/temporal/cluster:/deploy/temporal/cluster:ro"}
		}, "not deploy/temporal/search-attributes.sh in a bind mount"},
		{"namespace script skips the attributes", func(c *clusterFiles) {
			c.namespace = strings.ReplaceAll(repl(c.namespace, `"$here/../search-attributes.sh"`, `"$here/other.sh"`), `"$here/../search-attributes.sh"`, `"$here/other.sh"`)
		}, "does not run ../search-attributes.sh"},
		{"config database", func(c *clusterFiles) {
			c.config = repl(c.config, `env "TEMPORAL_VISIBILITY_DB" | default "temporal_visibility"`, `env "TEMPORAL_VISIBILITY_DB" | default "visibility"`)
		}, `database "visibility", the schema script makes "temporal_visibility"`},
		{"config plugin", func(c *clusterFiles) {
			c.config = strings.Replace(c.config, "pluginName: postgres12", "pluginName: postgres", 1)
		}, "postgres12"},
		{"config frontend port", func(c *clusterFiles) {
			c.config = repl(c.config, `env "TEMPORAL_FRONTEND_PORT" | default "7233"`, `env "FRONTEND_PORT" | default "7233"`)
		}, "want TEMPORAL_FRONTEND_PORT"},
		{"config port clash", func(c *clusterFiles) {
			c.config = repl(c.config, "grpcPort: {{ add $fp 2 }}", "grpcPort: {{ add $fp 1 }}")
		}, "port"},
		{"config not a template", func(c *clusterFiles) { c.config = "#\n" + c.config }, "enable-template"},
		{"config broken yaml", func(c *clusterFiles) { c.config = repl(c.config, "persistence:\n", "persistence\n") }, "rendered"},
		{"compose port", func(c *clusterFiles) { svc(*c, "temporal")["ports"] = []any{"7233:7234"} }, "do not publish"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			c.compose = deepCopy(base.compose).(map[string]any)
			t.Cleanup(func() { delete(kube, "x.yaml") })
			if p := all(c); len(p) != 0 {
				t.Fatalf("fails before breaking: %v", p)
			}
			tc.break_(&c)
			expectProblem(t, all(c), tc.want)
		})
	}
}
