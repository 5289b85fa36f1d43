package deploy

import (
	"bufio"
	"fmt"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/cloudsync/cloudsync/graphsim"
)

// The compose file and the env file that turns on the simulator.
const (
	composeFile = "docker-compose.yml"
	simEnvFile  = "deploy/compose/sim.env"
)

// Services that must run without any profile.
var coreServices = []string{"postgresql", "temporal-schema", "temporal", "temporal-ui", "setup", "worker"}

func loadCompose(t *testing.T, f facts) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(f.root, composeFile))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("%s: %v", composeFile, err)
	}
	if len(getMap(doc, "services")) == 0 {
		t.Fatalf("%s: no services", composeFile)
	}
	return doc
}

// loadEnvFile reads KEY=VALUE lines (compose --env-file syntax, no quoting used here).
func loadEnvFile(t *testing.T, f facts, rel string) map[string]string {
	t.Helper()
	file, err := os.Open(filepath.Join(f.root, rel))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(file)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s:%d: not KEY=VALUE: %q", rel, n, line)
		}
		env[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return env
}

func services(doc map[string]any) map[string]any { return getMap(doc, "services") }

// envOf returns a service's environment, from the map or the list form.
func envOf(svc any) map[string]string {
	env := map[string]string{}
	switch e := get(svc, "environment").(type) {
	case map[string]any:
		for k, v := range e {
			env[k] = getString(map[string]any{"v": v}, "v")
		}
	case []any:
		for _, item := range e {
			s, _ := item.(string)
			k, v, _ := strings.Cut(s, "=")
			env[k] = v
		}
	}
	return env
}

// dependsOn returns a service's dependencies with their settings (short form: empty map).
func dependsOn(svc any) map[string]map[string]any {
	deps := map[string]map[string]any{}
	switch d := get(svc, "depends_on").(type) {
	case []any:
		for _, name := range d {
			s, _ := name.(string)
			deps[s] = map[string]any{}
		}
	case map[string]any:
		for name, v := range d {
			m, _ := v.(map[string]any)
			if m == nil {
				m = map[string]any{}
			}
			deps[name] = m
		}
	}
	return deps
}

func profilesOf(svc any) []string {
	var out []string
	for _, p := range getList(svc, "profiles") {
		s, _ := p.(string)
		out = append(out, s)
	}
	return out
}

// commandText joins a command or entrypoint (string or list) into one text.
func commandText(svc any, key string) string {
	switch c := get(svc, key).(type) {
	case string:
		return c
	case []any:
		parts := make([]string, len(c))
		for i, p := range c {
			parts[i] = fmt.Sprint(p)
		}
		return strings.Join(parts, "\n")
	}
	return ""
}

func commandArgs(svc any, key string) []string {
	var out []string
	switch c := get(svc, key).(type) {
	case string:
		out = strings.Fields(c)
	case []any:
		for _, p := range c {
			out = append(out, fmt.Sprint(p))
		}
	}
	return out
}

// flagValue finds -name value or -name=value (one or two dashes) in args.
func flagValue(args []string, name string) (string, bool) {
	for i, a := range args {
		a2 := strings.TrimLeft(a, "-")
		if a == a2 {
			continue
		}
		if a2 == name && i+1 < len(args) {
			return args[i+1], true
		}
		if v, ok := strings.CutPrefix(a2, name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// volumeMounts parses short-form volumes: source -> target.
type mount struct{ source, target string }

func volumesOf(svc any) []mount {
	var out []mount
	for _, v := range getList(svc, "volumes") {
		switch v := v.(type) {
		case string:
			parts := strings.Split(v, ":")
			if len(parts) == 1 {
				out = append(out, mount{"", parts[0]})
			} else {
				out = append(out, mount{parts[0], parts[1]})
			}
		case map[string]any:
			out = append(out, mount{getString(v, "source"), getString(v, "target")})
		}
	}
	return out
}

// ---- checks ----

// checkComposeImages: every service runs a pinned image or one built here.
func checkComposeImages(doc map[string]any) []string {
	var problems []string
	for _, name := range sortedKeys(services(doc)) {
		svc := services(doc)[name]
		img := getString(svc, "image")
		build := get(svc, "build")
		switch {
		case img == "" && build == nil:
			problems = append(problems, fmt.Sprintf("service %s: neither image nor build", name))
		case img != "":
			if why := imagePinned(img); why != "" {
				problems = append(problems, fmt.Sprintf("service %s: %s", name, why))
			}
		}
	}
	return problems
}

// checkComposeFiles: build contexts, Dockerfiles, bind mounts and env files exist.
func checkComposeFiles(doc map[string]any, root string) []string {
	var problems []string
	for _, name := range sortedKeys(services(doc)) {
		svc := services(doc)[name]
		if b := get(svc, "build"); b != nil {
			ctx, dockerfile := ".", "Dockerfile"
			if s, ok := b.(string); ok {
				ctx = s
			} else {
				if c := getString(b, "context"); c != "" {
					ctx = c
				}
				if d := getString(b, "dockerfile"); d != "" {
					dockerfile = d
				}
			}
			if !isDir(filepath.Join(root, ctx)) {
				problems = append(problems, fmt.Sprintf("service %s: build context %s does not exist", name, ctx))
			} else if !exists(filepath.Join(root, ctx, dockerfile)) {
				problems = append(problems, fmt.Sprintf("service %s: Dockerfile %s does not exist in %s", name, dockerfile, ctx))
			}
		}
		for _, m := range volumesOf(svc) {
			if strings.HasPrefix(m.source, ".") || strings.HasPrefix(m.source, "/") {
				if !exists(filepath.Join(root, m.source)) {
					problems = append(problems, fmt.Sprintf("service %s: bind mount source %s does not exist", name, m.source))
				}
			} else if m.source != "" && getMap(doc, "volumes") != nil {
				if _, ok := getMap(doc, "volumes")[m.source]; !ok {
					problems = append(problems, fmt.Sprintf("service %s: volume %s is not declared under volumes", name, m.source))
				}
			} else if m.source != "" {
				problems = append(problems, fmt.Sprintf("service %s: volume %s is not declared under volumes", name, m.source))
			}
		}
		var envFiles []string
		switch e := get(svc, "env_file").(type) {
		case string:
			envFiles = []string{e}
		case []any:
			for _, x := range e {
				if s, ok := x.(string); ok {
					envFiles = append(envFiles, s)
				} else {
					envFiles = append(envFiles, getString(x, "path"))
				}
			}
		}
		for _, e := range envFiles {
			if !exists(filepath.Join(root, e)) {
				problems = append(problems, fmt.Sprintf("service %s: env_file %s does not exist", name, e))
			}
		}
	}
	return problems
}

// checkComposeDependsOn: dependencies exist, conditions are valid, and a
// service outside a profile depends on a profiled one only with required: false.
func checkComposeDependsOn(doc map[string]any) []string {
	var problems []string
	validCond := map[string]bool{"": true, "service_started": true, "service_healthy": true, "service_completed_successfully": true}
	svcs := services(doc)
	for _, name := range sortedKeys(svcs) {
		deps := dependsOn(svcs[name])
		for _, dep := range sortedKeys(deps) {
			opts := deps[dep]
			target, ok := svcs[dep]
			if !ok {
				problems = append(problems, fmt.Sprintf("service %s depends on undefined service %s", name, dep))
				continue
			}
			if dep == name {
				problems = append(problems, fmt.Sprintf("service %s depends on itself", name))
			}
			cond := getString(opts, "condition")
			if !validCond[cond] {
				problems = append(problems, fmt.Sprintf("service %s: depends_on %s: unknown condition %q", name, dep, cond))
			}
			if cond == "service_healthy" && get(target, "healthcheck") == nil {
				problems = append(problems, fmt.Sprintf("service %s waits for %s to be healthy, which has no healthcheck", name, dep))
			}
			if len(profilesOf(target)) > 0 && len(profilesOf(svcs[name])) == 0 && get(opts, "required") != false {
				problems = append(problems, fmt.Sprintf("service %s depends on %s (profiles %v) without required: false: compose refuses to start without that profile", name, dep, profilesOf(target)))
			}
		}
	}
	return problems
}

// checkComposeProfiles: graphsim only with "sim"; the core services always.
func checkComposeProfiles(doc map[string]any) []string {
	var problems []string
	svcs := services(doc)
	gs, ok := svcs["graphsim"]
	if !ok {
		return []string{"no graphsim service"}
	}
	if p := profilesOf(gs); len(p) != 1 || p[0] != "sim" {
		problems = append(problems, fmt.Sprintf("graphsim: profiles %v, want [sim]", p))
	}
	for _, name := range coreServices {
		svc, ok := svcs[name]
		if !ok {
			problems = append(problems, fmt.Sprintf("no %s service", name))
			continue
		}
		if p := profilesOf(svc); len(p) > 0 {
			problems = append(problems, fmt.Sprintf("%s: profiles %v: it must always run", name, p))
		}
	}
	return problems
}

var interpolation = regexp.MustCompile(`^\$\{([A-Z0-9_]+)(:?[-?][^}]*)?\}$`)

// checkComposeWorkerEnv: the worker gets only variables it reads, and no
// TEMPORAL_TLS* that could be empty (set at all, it turns TLS on).
func checkComposeWorkerEnv(doc map[string]any, f facts) []string {
	var problems []string
	w, ok := services(doc)["worker"]
	if !ok {
		return []string{"no worker service"}
	}
	env := envOf(w)
	if len(env) == 0 {
		problems = append(problems, "worker: no environment")
	}
	for _, k := range sortedKeys(env) {
		if !f.envAllowed(k) {
			problems = append(problems, fmt.Sprintf("worker: environment %s is not read by the worker", k))
		}
		if m := interpolation.FindStringSubmatch(env[k]); m != nil && m[1] != k {
			problems = append(problems, fmt.Sprintf("worker: %s takes its value from ${%s}: confusing", k, m[1]))
		}
		if strings.HasPrefix(k, "TEMPORAL_TLS") {
			if v := env[k]; v == "" || interpolation.MatchString(v) && !strings.Contains(v, ":?") {
				problems = append(problems, fmt.Sprintf("worker: %s may be empty, which turns TLS on", k))
			}
		}
	}
	return problems
}

// checkComposeTemporal: the worker, UI and setup reach the temporal service;
// the worker waits for setup; the UI is on 8233.
func checkComposeTemporal(doc map[string]any) []string {
	var problems []string
	svcs := services(doc)
	for _, name := range []string{"worker", "temporal-ui", "setup"} {
		addr := envOf(svcs[name])["TEMPORAL_ADDRESS"]
		host, port, err := net.SplitHostPort(addr)
		if err != nil || port != "7233" {
			problems = append(problems, fmt.Sprintf("%s: TEMPORAL_ADDRESS %q, want temporal:7233", name, addr))
			continue
		}
		if _, ok := svcs[host]; !ok || !strings.HasPrefix(imageName(getString(svcs[host], "image")), "temporalio/") {
			problems = append(problems, fmt.Sprintf("%s: TEMPORAL_ADDRESS host %s is not the Temporal service", name, host))
		}
	}
	if c := getString(dependsOn(svcs["worker"])["setup"], "condition"); c != "service_completed_successfully" {
		problems = append(problems, fmt.Sprintf("worker: depends_on setup condition %q, want service_completed_successfully", c))
	}
	var ports []string
	for _, p := range getList(svcs["temporal-ui"], "ports") {
		ports = append(ports, fmt.Sprint(p))
	}
	if !strings.Contains(strings.Join(ports, ","), "8233:8080") {
		problems = append(problems, fmt.Sprintf("temporal-ui: ports %v, want 8233:8080", ports))
	}
	return problems
}

// checkComposeSim: graphsim's flags exist, and sim.env points the worker at
// it: same host (in the certificate), port, CA file in a shared volume, and
// graphsim's demo credentials.
func checkComposeSim(doc map[string]any, simEnv map[string]string, f facts, caFileName string) []string {
	var problems []string
	svcs := services(doc)
	gs, w := svcs["graphsim"], svcs["worker"]
	args := commandArgs(gs, "entrypoint")
	args = append(args, commandArgs(gs, "command")...)
	if len(args) == 0 || path.Base(args[0]) != "graphsim" {
		problems = append(problems, fmt.Sprintf("graphsim: entrypoint %v does not run graphsim", args))
	}
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
			if !f.graphsimFlags[name] {
				problems = append(problems, fmt.Sprintf("graphsim: flag %s is not a graphsim flag", a))
			}
		}
	}
	addr, _ := flagValue(args, "addr")
	dir, _ := flagValue(args, "dir")
	hostsFlag, _ := flagValue(args, "hosts")
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		problems = append(problems, fmt.Sprintf("graphsim: -addr %q: %v", addr, err))
	}
	if h, _, _ := net.SplitHostPort(addr); h != "0.0.0.0" && h != "" && h != "::" {
		problems = append(problems, fmt.Sprintf("graphsim: -addr %q listens only on %s: other containers cannot reach it", addr, h))
	}
	var hosts []string
	for _, h := range strings.Split(hostsFlag, ",") {
		if h = strings.TrimSpace(h); h != "" {
			hosts = append(hosts, h)
		}
	}
	if len(hosts) == 0 {
		problems = append(problems, "graphsim: no -hosts: its certificate and URLs name only 127.0.0.1/localhost")
	}

	for _, k := range sortedKeys(simEnv) {
		if strings.HasPrefix(k, "COMPOSE_") {
			continue
		}
		if !f.envAllowed(k) {
			problems = append(problems, fmt.Sprintf("%s: %s is not read by the worker", simEnvFile, k))
		}
		if m := interpolation.FindStringSubmatch(envOf(w)[k]); m == nil || m[1] != k {
			problems = append(problems, fmt.Sprintf("%s: %s is not passed on by the worker's environment (want %s: ${%s:-})", simEnvFile, k, k, k))
		}
	}
	if !strings.Contains(","+simEnv["COMPOSE_PROFILES"]+",", ",sim,") {
		problems = append(problems, fmt.Sprintf("%s: COMPOSE_PROFILES=%q does not enable sim", simEnvFile, simEnv["COMPOSE_PROFILES"]))
	}
	for _, k := range []string{"CLOUDSYNC_GRAPH_BASE_URL", "AZURE_AUTHORITY_HOST"} {
		u, err := url.Parse(simEnv[k])
		if err != nil || u.Scheme != "https" {
			problems = append(problems, fmt.Sprintf("%s: %s=%q is not an https URL", simEnvFile, k, simEnv[k]))
			continue
		}
		if _, ok := svcs[u.Hostname()]; !ok {
			problems = append(problems, fmt.Sprintf("%s: %s host %s is not a compose service", simEnvFile, k, u.Hostname()))
		}
		if len(hosts) > 0 && u.Hostname() != hosts[0] {
			problems = append(problems, fmt.Sprintf("%s: %s host %s is not graphsim's first -hosts name %s (certificate and issuer)", simEnvFile, k, u.Hostname(), hosts[0]))
		}
		if u.Port() != port {
			problems = append(problems, fmt.Sprintf("%s: %s port %s, graphsim listens on %s", simEnvFile, k, u.Port(), port))
		}
	}
	if u, err := url.Parse(simEnv["CLOUDSYNC_GRAPH_BASE_URL"]); err == nil && u.Path != "/beta" {
		problems = append(problems, fmt.Sprintf("%s: CLOUDSYNC_GRAPH_BASE_URL path %q, want /beta", simEnvFile, u.Path))
	}
	if u, err := url.Parse(simEnv["AZURE_AUTHORITY_HOST"]); err == nil && u.Path != "/" {
		problems = append(problems, fmt.Sprintf("%s: AZURE_AUTHORITY_HOST path %q, want /", simEnvFile, u.Path))
	}

	ca := simEnv["CLOUDSYNC_CA_FILE"]
	if ca != path.Join(dir, caFileName) {
		problems = append(problems, fmt.Sprintf("%s: CLOUDSYNC_CA_FILE=%q, graphsim writes %s", simEnvFile, ca, path.Join(dir, caFileName)))
	}
	var gsVolume string
	for _, m := range volumesOf(gs) {
		if m.target == dir {
			gsVolume = m.source
		}
	}
	if gsVolume == "" {
		problems = append(problems, fmt.Sprintf("graphsim: no volume mounted at -dir %s", dir))
	} else {
		shared := false
		for _, m := range volumesOf(w) {
			if m.source == gsVolume && (path.Dir(ca) == m.target || strings.HasPrefix(ca, m.target+"/")) {
				shared = true
			}
		}
		if !shared {
			problems = append(problems, fmt.Sprintf("worker: does not mount volume %s where CLOUDSYNC_CA_FILE %s is", gsVolume, ca))
		}
	}

	wantID, wantSecret := f.graphsimDefaults["demoClientID"], f.graphsimDefaults["demoClientSecret"]
	if v, ok := flagValue(args, "client-id"); ok {
		wantID = v
	}
	if v, ok := flagValue(args, "client-secret"); ok {
		wantSecret = v
	}
	if simEnv["AZURE_CLIENT_ID"] != wantID {
		problems = append(problems, fmt.Sprintf("%s: AZURE_CLIENT_ID=%q, graphsim accepts %q", simEnvFile, simEnv["AZURE_CLIENT_ID"], wantID))
	}
	if simEnv["AZURE_CLIENT_SECRET"] != wantSecret {
		problems = append(problems, fmt.Sprintf("%s: AZURE_CLIENT_SECRET is not graphsim's secret", simEnvFile))
	}
	if m := simEnv["CLOUDSYNC_AUTH_MODE"]; m != "" && m != "client-secret" {
		problems = append(problems, fmt.Sprintf("%s: CLOUDSYNC_AUTH_MODE=%q: graphsim takes client secrets", simEnvFile, m))
	}
	return problems
}

// checkSimDirInImage: graphsim's -dir exists in the image, owned by the
// nonroot user, so the fresh named volume mounted there is writable (Docker
// copies the image directory's ownership into an empty named volume).
func checkSimDirInImage(doc map[string]any, df dockerfile) []string {
	gs := services(doc)["graphsim"]
	args := append(commandArgs(gs, "entrypoint"), commandArgs(gs, "command")...)
	dir, _ := flagValue(args, "dir")
	final := df.stages[len(df.stages)-1]
	for _, in := range final.instr {
		if in.cmd != "COPY" {
			continue
		}
		p := withoutFlags(in.args)
		if len(p) < 2 || strings.TrimSuffix(p[len(p)-1], "/") != dir {
			continue
		}
		if chown, _ := flagArg(in.args, "chown"); strings.HasPrefix(chown, "65532") || strings.HasPrefix(chown, "nonroot") {
			return nil
		}
		return []string{fmt.Sprintf("Dockerfile:%d: %s is copied without --chown=65532: graphsim (nonroot) cannot write its volume", in.line, dir)}
	}
	return []string{fmt.Sprintf("Dockerfile: the final stage does not create graphsim's -dir %s owned by nonroot: a fresh volume there is root-owned", dir)}
}

// graphsimCAFileName is the name graphsim gives its CA file in -dir.
func graphsimCAFileName(t *testing.T) string {
	t.Helper()
	srv, err := graphsim.New(graphsim.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	return filepath.Base(srv.CAFile())
}

// ---- tests on the real files ----

func TestComposeImagesPinned(t *testing.T) {
	noProblems(t, checkComposeImages(loadCompose(t, loadFacts(t))))
}

func TestComposeReferencedFilesExist(t *testing.T) {
	f := loadFacts(t)
	noProblems(t, checkComposeFiles(loadCompose(t, f), f.root))
	if !exists(filepath.Join(f.root, simEnvFile)) {
		t.Errorf("%s does not exist", simEnvFile)
	}
}

func TestComposeDependsOn(t *testing.T) {
	noProblems(t, checkComposeDependsOn(loadCompose(t, loadFacts(t))))
}

func TestComposeProfiles(t *testing.T) {
	noProblems(t, checkComposeProfiles(loadCompose(t, loadFacts(t))))
}

func TestComposeWorkerEnvIsReadByWorker(t *testing.T) {
	f := loadFacts(t)
	noProblems(t, checkComposeWorkerEnv(loadCompose(t, f), f))
}

// TestComposeSearchAttributes: the setup service registers them with
// search-attributes.sh (through setup-namespace.sh, like make test-cluster),
// whose list is workflows.SearchAttributeNames.
func TestComposeSearchAttributes(t *testing.T) {
	f := loadFacts(t)
	noProblems(t, checkClusterNamespace(loadClusterFiles(t, f), f.root))
	noProblems(t, checkScriptAttributes(readRepoFile(t, f, saScript), f))
}

func TestComposeTemporalWiring(t *testing.T) {
	noProblems(t, checkComposeTemporal(loadCompose(t, loadFacts(t))))
}

func TestComposeSimulatorWiring(t *testing.T) {
	f := loadFacts(t)
	noProblems(t, checkComposeSim(loadCompose(t, f), loadEnvFile(t, f, simEnvFile), f, graphsimCAFileName(t)))
}

func TestComposeSimulatorDirInImage(t *testing.T) {
	f := loadFacts(t)
	df, text := loadDockerfile(t, f)
	doc := loadCompose(t, f)
	noProblems(t, checkSimDirInImage(doc, df))
	for _, c := range []struct{ old, new, want string }{
		{"COPY --from=build --chown=65532:65532 /out/sim /sim\n", "", "does not create"},
		{"--chown=65532:65532 /out/sim /sim", "/out/sim /sim", "without --chown"},
	} {
		if !strings.Contains(text, c.old) {
			t.Fatalf("Dockerfile no longer contains %q: update this test", c.old)
		}
		broken, err := parseDockerfile(strings.Replace(text, c.old, c.new, 1))
		if err != nil {
			t.Fatal(err)
		}
		expectProblem(t, checkSimDirInImage(doc, broken), c.want)
	}
}

// ---- each check catches a breakage ----

func TestComposeChecksCatchBreakage(t *testing.T) {
	f := loadFacts(t)
	base := loadCompose(t, f)
	simEnv := loadEnvFile(t, f, simEnvFile)
	caName := graphsimCAFileName(t)
	svc := func(doc map[string]any, name string) map[string]any { return getMap(doc, "services", name) }
	cases := []struct {
		name   string
		break_ func(doc map[string]any, env map[string]string)
		check  func(doc map[string]any, env map[string]string) []string
		want   string
	}{
		{"latest tag", func(d map[string]any, _ map[string]string) { svc(d, "postgresql")["image"] = "postgres:latest" },
			func(d map[string]any, _ map[string]string) []string { return checkComposeImages(d) }, "not pinned"},
		{"no tag", func(d map[string]any, _ map[string]string) { svc(d, "temporal-ui")["image"] = "temporalio/ui" },
			func(d map[string]any, _ map[string]string) []string { return checkComposeImages(d) }, "no tag"},
		{"no image nor build", func(d map[string]any, _ map[string]string) {
			delete(svc(d, "worker"), "image")
			delete(svc(d, "worker"), "build")
		},
			func(d map[string]any, _ map[string]string) []string { return checkComposeImages(d) }, "neither image nor build"},
		{"missing build context", func(d map[string]any, _ map[string]string) { svc(d, "worker")["build"] = "./no-such-dir" },
			func(d map[string]any, _ map[string]string) []string { return checkComposeFiles(d, f.root) }, "build context"},
		{"missing Dockerfile", func(d map[string]any, _ map[string]string) {
			svc(d, "worker")["build"] = map[string]any{"context": ".", "dockerfile": "Dockerfile.nope"}
		}, func(d map[string]any, _ map[string]string) []string { return checkComposeFiles(d, f.root) }, "Dockerfile"},
		{"missing bind mount", func(d map[string]any, _ map[string]string) {
			svc(d, "setup")["volumes"] = []any{"./deploy/nope:/scripts"}
		}, func(d map[string]any, _ map[string]string) []string { return checkComposeFiles(d, f.root) }, "bind mount"},
		{"undeclared volume", func(d map[string]any, _ map[string]string) { delete(getMap(d, "volumes"), "graphsim-data") },
			func(d map[string]any, _ map[string]string) []string { return checkComposeFiles(d, f.root) }, "not declared"},
		{"missing env_file", func(d map[string]any, _ map[string]string) { svc(d, "worker")["env_file"] = "nope.env" },
			func(d map[string]any, _ map[string]string) []string { return checkComposeFiles(d, f.root) }, "env_file"},
		{"depends on unknown", func(d map[string]any, _ map[string]string) { svc(d, "temporal-ui")["depends_on"] = []any{"temporall"} },
			func(d map[string]any, _ map[string]string) []string { return checkComposeDependsOn(d) }, "undefined service"},
		{"bad condition", func(d map[string]any, _ map[string]string) {
			getMap(svc(d, "worker"), "depends_on", "setup")["condition"] = "service_completed"
		}, func(d map[string]any, _ map[string]string) []string { return checkComposeDependsOn(d) }, "unknown condition"},
		{"healthy without healthcheck", func(d map[string]any, _ map[string]string) { delete(svc(d, "postgresql"), "healthcheck") },
			func(d map[string]any, _ map[string]string) []string { return checkComposeDependsOn(d) }, "no healthcheck"},
		{"profiled dependency required", func(d map[string]any, _ map[string]string) {
			delete(getMap(svc(d, "worker"), "depends_on", "graphsim"), "required")
		}, func(d map[string]any, _ map[string]string) []string { return checkComposeDependsOn(d) }, "required: false"},
		{"graphsim always on", func(d map[string]any, _ map[string]string) { delete(svc(d, "graphsim"), "profiles") },
			func(d map[string]any, _ map[string]string) []string { return checkComposeProfiles(d) }, "want [sim]"},
		{"worker profiled", func(d map[string]any, _ map[string]string) { svc(d, "worker")["profiles"] = []any{"sim"} },
			func(d map[string]any, _ map[string]string) []string { return checkComposeProfiles(d) }, "must always run"},
		{"unknown worker variable", func(d map[string]any, _ map[string]string) {
			getMap(svc(d, "worker"), "environment")["GRAPH_BASE_URL"] = "https://graphsim:8443/beta"
		}, func(d map[string]any, _ map[string]string) []string { return checkComposeWorkerEnv(d, f) }, "not read by the worker"},
		{"empty TLS variable", func(d map[string]any, _ map[string]string) {
			getMap(svc(d, "worker"), "environment")["TEMPORAL_TLS_CLIENT_CERT_PATH"] = "${TEMPORAL_TLS_CLIENT_CERT_PATH:-}"
		}, func(d map[string]any, _ map[string]string) []string { return checkComposeWorkerEnv(d, f) }, "turns TLS on"},
		{"worker to wrong Temporal", func(d map[string]any, _ map[string]string) {
			getMap(svc(d, "worker"), "environment")["TEMPORAL_ADDRESS"] = "localhost:7233"
		}, func(d map[string]any, _ map[string]string) []string { return checkComposeTemporal(d) }, "not the Temporal service"},
		{"worker not waiting for setup", func(d map[string]any, _ map[string]string) {
			getMap(svc(d, "worker"), "depends_on", "setup")["condition"] = "service_started"
		}, func(d map[string]any, _ map[string]string) []string { return checkComposeTemporal(d) }, "service_completed_successfully"},
		{"ui port", func(d map[string]any, _ map[string]string) { svc(d, "temporal-ui")["ports"] = []any{"8080:8080"} },
			func(d map[string]any, _ map[string]string) []string { return checkComposeTemporal(d) }, "8233:8080"},
		{"graphsim without hosts", func(d map[string]any, _ map[string]string) {
			svc(d, "graphsim")["entrypoint"] = []any{"/usr/local/bin/graphsim", "-addr", "0.0.0.0:8443", "-dir", "/sim"}
		}, func(d map[string]any, e map[string]string) []string { return checkComposeSim(d, e, f, caName) }, "no -hosts"},
		{"graphsim unknown flag", func(d map[string]any, _ map[string]string) {
			svc(d, "graphsim")["entrypoint"] = append(getList(svc(d, "graphsim"), "entrypoint"), "-tls-hosts", "x")
		}, func(d map[string]any, e map[string]string) []string { return checkComposeSim(d, e, f, caName) }, "not a graphsim flag"},
		{"graphsim on loopback", func(d map[string]any, _ map[string]string) {
			svc(d, "graphsim")["entrypoint"] = []any{"/usr/local/bin/graphsim", "-addr", "127.0.0.1:8443", "-dir", "/sim", "-hosts", "graphsim"}
		}, func(d map[string]any, e map[string]string) []string { return checkComposeSim(d, e, f, caName) }, "listens only on"},
		{"sim URL host", func(_ map[string]any, e map[string]string) { e["AZURE_AUTHORITY_HOST"] = "https://127.0.0.1:8443/" },
			func(d map[string]any, e map[string]string) []string { return checkComposeSim(d, e, f, caName) }, "not a compose service"},
		{"sim URL port", func(_ map[string]any, e map[string]string) {
			e["CLOUDSYNC_GRAPH_BASE_URL"] = "https://graphsim:443/beta"
		},
			func(d map[string]any, e map[string]string) []string { return checkComposeSim(d, e, f, caName) }, "graphsim listens on"},
		{"sim CA path", func(_ map[string]any, e map[string]string) { e["CLOUDSYNC_CA_FILE"] = "/sim/graphsim-ca.pem" },
			func(d map[string]any, e map[string]string) []string { return checkComposeSim(d, e, f, caName) }, "graphsim writes"},
		{"CA volume not shared", func(d map[string]any, _ map[string]string) { svc(d, "worker")["volumes"] = []any{"other:/sim:ro"} },
			func(d map[string]any, e map[string]string) []string { return checkComposeSim(d, e, f, caName) }, "does not mount volume"},
		{"sim secret", func(_ map[string]any, e map[string]string) { e["AZURE_CLIENT_SECRET"] = "hunter2" },
			func(d map[string]any, e map[string]string) []string { return checkComposeSim(d, e, f, caName) }, "not graphsim's secret"},
		{"sim client id", func(_ map[string]any, e map[string]string) {
			e["AZURE_CLIENT_ID"] = "00000000-0000-0000-0000-000000000000"
		},
			func(d map[string]any, e map[string]string) []string { return checkComposeSim(d, e, f, caName) }, "graphsim accepts"},
		{"sim variable not passed on", func(d map[string]any, _ map[string]string) {
			delete(getMap(svc(d, "worker"), "environment"), "CLOUDSYNC_CA_FILE")
		},
			func(d map[string]any, e map[string]string) []string { return checkComposeSim(d, e, f, caName) }, "not passed on"},
		{"sim variable unknown", func(_ map[string]any, e map[string]string) { e["SSL_CERT_FILE"] = "/sim/ca.pem" },
			func(d map[string]any, e map[string]string) []string { return checkComposeSim(d, e, f, caName) }, "not read by the worker"},
		{"sim profile off", func(_ map[string]any, e map[string]string) { delete(e, "COMPOSE_PROFILES") },
			func(d map[string]any, e map[string]string) []string { return checkComposeSim(d, e, f, caName) }, "does not enable sim"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := deepCopy(base).(map[string]any)
			env := map[string]string{}
			for k, v := range simEnv {
				env[k] = v
			}
			if p := c.check(doc, env); len(p) != 0 {
				t.Fatalf("fails before breaking: %v", p)
			}
			c.break_(doc, env)
			expectProblem(t, c.check(doc, env), c.want)
		})
	}
}
