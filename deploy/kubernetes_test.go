package deploy

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

const kubeDir = "deploy/kubernetes"

// kube is every YAML file under deploy/kubernetes, by slash path relative to it.
type kube map[string][]any

func loadKube(t *testing.T, f facts) kube {
	t.Helper()
	k := kube{}
	dir := filepath.Join(f.root, kubeDir)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			return err
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		docs, err := yamlDocs(raw)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		rel, _ := filepath.Rel(dir, p)
		k[filepath.ToSlash(rel)] = docs
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(k) == 0 {
		t.Fatal("no YAML under " + kubeDir)
	}
	return k
}

func (k kube) copy() kube {
	out := kube{}
	for p, docs := range k {
		out[p] = deepCopy(docs).([]any)
	}
	return out
}

// kustomizations are the directories with a kustomization.yaml.
func (k kube) kustomizations() []string {
	var dirs []string
	for _, p := range sortedKeys(k) {
		if path.Base(p) == "kustomization.yaml" || path.Base(p) == "kustomization.yml" {
			dirs = append(dirs, path.Dir(p))
		}
	}
	return dirs
}

func (k kube) kustomization(dir string) map[string]any {
	for _, n := range []string{"kustomization.yaml", "kustomization.yml"} {
		if docs := k[path.Join(dir, n)]; len(docs) > 0 {
			m, _ := docs[0].(map[string]any)
			return m
		}
	}
	return nil
}

// entryPath is a resources/patches entry's path (string or {path: ...}).
func entryPath(e any) string {
	if s, ok := e.(string); ok {
		return s
	}
	return getString(e, "path")
}

// resources returns every object a kustomization includes (recursively), not patched.
func (k kube) resources(dir string) []any {
	var out []any
	for _, r := range getList(k.kustomization(dir), "resources") {
		p := path.Clean(path.Join(dir, entryPath(r)))
		if k.kustomization(p) != nil {
			out = append(out, k.resources(p)...)
		} else {
			out = append(out, k[p]...)
		}
	}
	return out
}

// generators returns the ConfigMap generator literals a kustomization ends up
// with (base first, then merged overlays), by generator name.
func (k kube) generators(dir string) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, r := range getList(k.kustomization(dir), "resources") {
		p := path.Clean(path.Join(dir, entryPath(r)))
		if k.kustomization(p) != nil {
			for name, lits := range k.generators(p) {
				out[name] = lits
			}
		}
	}
	for _, g := range getList(k.kustomization(dir), "configMapGenerator") {
		name := getString(g, "name")
		lits := map[string]string{}
		if getString(g, "behavior") == "merge" {
			for kk, v := range out[name] {
				lits[kk] = v
			}
		}
		for _, l := range getList(g, "literals") {
			s, _ := l.(string)
			kk, v, _ := strings.Cut(s, "=")
			lits[kk] = v
		}
		out[name] = lits
	}
	return out
}

// patchDocs returns the patch objects of a kustomization and its bases.
func (k kube) patchDocs(dir string) []any {
	var out []any
	for _, r := range getList(k.kustomization(dir), "resources") {
		p := path.Clean(path.Join(dir, entryPath(r)))
		if k.kustomization(p) != nil {
			out = append(out, k.patchDocs(p)...)
		}
	}
	for _, e := range getList(k.kustomization(dir), "patches") {
		out = append(out, k[path.Clean(path.Join(dir, entryPath(e)))]...)
	}
	return out
}

func kindName(doc any) (string, string) {
	return getString(doc, "kind"), getString(doc, "metadata", "name")
}

func findDoc(docs []any, kind, name string) any {
	for _, d := range docs {
		if k, n := kindName(d); k == kind && (name == "" || n == name) {
			return d
		}
	}
	return nil
}

func containers(deploy any) []any { return getList(deploy, "spec", "template", "spec", "containers") }

// ---- checks ----

// checkKustomizations: everything referenced exists, patches and generator
// merges have a target, image and replica overrides match, no orphan files.
func checkKustomizations(k kube) []string {
	var problems []string
	referenced := map[string]bool{}
	dirs := k.kustomizations()
	if len(dirs) == 0 {
		return []string{"no kustomization.yaml under " + kubeDir}
	}
	for _, dir := range dirs {
		kz := k.kustomization(dir)
		where := path.Join(dir, "kustomization.yaml")
		if getString(kz, "kind") != "Kustomization" || !strings.HasPrefix(getString(kz, "apiVersion"), "kustomize.config.k8s.io/") {
			problems = append(problems, where+": not a kustomize.config.k8s.io Kustomization")
		}
		for _, legacy := range []string{"patchesStrategicMerge", "patchesJson6902", "commonLabels", "bases", "vars"} {
			if get(kz, legacy) != nil {
				problems = append(problems, fmt.Sprintf("%s: %s is deprecated", where, legacy))
			}
		}
		for _, r := range getList(kz, "resources") {
			p := path.Clean(path.Join(dir, entryPath(r)))
			referenced[p] = true
			if _, ok := k[p]; !ok && k.kustomization(p) == nil {
				problems = append(problems, fmt.Sprintf("%s: resource %s does not exist", where, entryPath(r)))
			}
		}
		objs := k.resources(dir)
		for _, e := range getList(kz, "patches") {
			p := path.Clean(path.Join(dir, entryPath(e)))
			referenced[p] = true
			docs, ok := k[p]
			if !ok {
				problems = append(problems, fmt.Sprintf("%s: patch %s does not exist", where, entryPath(e)))
				continue
			}
			targets := docs
			if tg := getMap(e, "target"); tg != nil {
				targets = []any{map[string]any{"kind": tg["kind"], "metadata": map[string]any{"name": tg["name"]}}}
			}
			for _, d := range targets {
				kind, name := kindName(d)
				if findDoc(objs, kind, name) == nil {
					problems = append(problems, fmt.Sprintf("%s: patch %s targets %s/%s, which its resources do not have", where, entryPath(e), kind, name))
				}
			}
		}
		baseGens := map[string]bool{}
		for _, r := range getList(kz, "resources") {
			if p := path.Clean(path.Join(dir, entryPath(r))); k.kustomization(p) != nil {
				for name := range k.generators(p) {
					baseGens[name] = true
				}
			}
		}
		for _, g := range getList(kz, "configMapGenerator") {
			name := getString(g, "name")
			if b := getString(g, "behavior"); (b == "merge" || b == "replace") && !baseGens[name] {
				problems = append(problems, fmt.Sprintf("%s: configMapGenerator %s has behavior %s but no base generates it", where, name, b))
			}
			for _, l := range getList(g, "literals") {
				if s, _ := l.(string); !regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`).MatchString(s) {
					problems = append(problems, fmt.Sprintf("%s: configMapGenerator %s: literal %q is not KEY=VALUE", where, name, l))
				}
			}
			if len(getList(g, "files")) > 0 || len(getList(g, "envs")) > 0 {
				problems = append(problems, fmt.Sprintf("%s: configMapGenerator %s: use literals (files/envs are not checked here)", where, name))
			}
		}
		var imageNames []string
		for _, d := range objs {
			for _, c := range containers(d) {
				imageNames = append(imageNames, imageName(getString(c, "image")))
			}
		}
		for _, img := range getList(kz, "images") {
			name := getString(img, "name")
			found := false
			for _, n := range imageNames {
				found = found || n == name
			}
			if !found {
				problems = append(problems, fmt.Sprintf("%s: images entry %s matches no container image (%v)", where, name, imageNames))
			}
			if tag := getString(img, "newTag"); tag == "latest" {
				problems = append(problems, fmt.Sprintf("%s: images entry %s: newTag latest", where, name))
			}
		}
		for _, r := range getList(kz, "replicas") {
			if findDoc(objs, "Deployment", getString(r, "name")) == nil {
				problems = append(problems, fmt.Sprintf("%s: replicas for %s, which is not a Deployment here", where, getString(r, "name")))
			}
		}
	}
	for _, p := range sortedKeys(k) {
		if base := path.Base(p); base != "kustomization.yaml" && base != "kustomization.yml" && !referenced[p] {
			problems = append(problems, fmt.Sprintf("%s/%s is not referenced by any kustomization", kubeDir, p))
		}
	}
	return problems
}

var durationArg = regexp.MustCompile(`^--?stop-timeout(?:=(.*))?$`)

// stopTimeout is the --stop-timeout a container passes (or the worker's default).
func stopTimeout(c any, def time.Duration) (time.Duration, error) {
	args := getList(c, "args")
	for i, a := range args {
		s, _ := a.(string)
		m := durationArg.FindStringSubmatch(s)
		if m == nil {
			continue
		}
		v := m[1]
		if !strings.Contains(s, "=") && i+1 < len(args) {
			v, _ = args[i+1].(string)
		}
		return time.ParseDuration(v)
	}
	return def, nil
}

// checkDeployment: the base worker Deployment's production settings.
func checkDeployment(k kube, f facts) []string {
	var problems []string
	objs := k.resources("base")
	d := findDoc(objs, "Deployment", "cloudsync-worker")
	if d == nil {
		return []string{"base: no Deployment cloudsync-worker"}
	}
	if getString(d, "metadata", "namespace") != "" {
		problems = append(problems, "base Deployment sets a namespace: the base must be namespace-agnostic")
	}
	if r := getString(d, "spec", "replicas"); r != "2" {
		problems = append(problems, fmt.Sprintf("base Deployment: replicas %q, want 2", r))
	}
	pod := getMap(d, "spec", "template")
	podLabels := getMap(pod, "metadata", "labels")
	if v, ok := podLabels["azure.workload.identity/use"].(string); !ok || v != "true" {
		problems = append(problems, `Deployment: pod label azure.workload.identity/use must be the string "true"`)
	}
	sel := getMap(d, "spec", "selector", "matchLabels")
	for kk, v := range sel {
		if podLabels[kk] != v {
			problems = append(problems, fmt.Sprintf("Deployment: selector %s=%v does not match the pod labels", kk, v))
		}
	}
	sa := getString(pod, "spec", "serviceAccountName")
	if sa == "" {
		problems = append(problems, "Deployment: no serviceAccountName")
	} else if sd := findDoc(objs, "ServiceAccount", sa); sd == nil {
		problems = append(problems, fmt.Sprintf("Deployment: ServiceAccount %s is not in the base", sa))
	} else if getString(sd, "metadata", "annotations", "azure.workload.identity/client-id") == "" {
		problems = append(problems, fmt.Sprintf("ServiceAccount %s: no azure.workload.identity/client-id annotation", sa))
	}
	if getString(pod, "spec", "securityContext", "runAsNonRoot") != "true" {
		problems = append(problems, "Deployment: pod securityContext.runAsNonRoot is not true")
	}
	if u := getString(pod, "spec", "securityContext", "runAsUser"); u == "0" {
		problems = append(problems, "Deployment: runAsUser 0")
	}
	grace, err := strconv.Atoi(getString(pod, "spec", "terminationGracePeriodSeconds"))
	if err != nil {
		problems = append(problems, "Deployment: no terminationGracePeriodSeconds (default 30s is the worker's default --stop-timeout: no time left to exit)")
	} else if grace <= 30 {
		problems = append(problems, fmt.Sprintf("Deployment: terminationGracePeriodSeconds %d, want more than 30", grace))
	}
	cs := containers(d)
	if len(cs) == 0 {
		problems = append(problems, "Deployment: no containers")
	}
	gens := k.generators("base")
	for _, c := range cs {
		name := getString(c, "name")
		st, err := stopTimeout(c, f.stopTimeout)
		if err != nil {
			problems = append(problems, fmt.Sprintf("container %s: --stop-timeout: %v", name, err))
		} else if grace > 0 && time.Duration(grace)*time.Second <= st {
			problems = append(problems, fmt.Sprintf("container %s: terminationGracePeriodSeconds %d is not longer than --stop-timeout %s: running activities are killed", name, grace, st))
		}
		if why := imagePinned(getString(c, "image")); why != "" {
			problems = append(problems, fmt.Sprintf("container %s: %s", name, why))
		}
		for _, r := range []string{"requests", "limits"} {
			for _, res := range []string{"cpu", "memory"} {
				if getString(c, "resources", r, res) == "" {
					problems = append(problems, fmt.Sprintf("container %s: no resources.%s.%s", name, r, res))
				}
			}
		}
		sc := getMap(c, "securityContext")
		if getString(sc, "readOnlyRootFilesystem") != "true" {
			problems = append(problems, fmt.Sprintf("container %s: readOnlyRootFilesystem is not true", name))
		}
		if getString(sc, "allowPrivilegeEscalation") != "false" {
			problems = append(problems, fmt.Sprintf("container %s: allowPrivilegeEscalation is not false", name))
		}
		if getString(sc, "runAsNonRoot") == "false" {
			problems = append(problems, fmt.Sprintf("container %s: runAsNonRoot false", name))
		}
		drop := false
		for _, cap := range getList(sc, "capabilities", "drop") {
			drop = drop || cap == "ALL"
		}
		if !drop {
			problems = append(problems, fmt.Sprintf("container %s: capabilities.drop does not contain ALL", name))
		}
		ports := map[string]string{}
		for _, p := range getList(c, "ports") {
			ports[getString(p, "name")] = getString(p, "containerPort")
		}
		for probe, wantPath := range map[string]string{"livenessProbe": "/healthz", "readinessProbe": "/readyz"} {
			hg := getMap(c, probe, "httpGet")
			if hg == nil {
				problems = append(problems, fmt.Sprintf("container %s: no %s.httpGet", name, probe))
				continue
			}
			if p := getString(hg, "path"); p != wantPath {
				problems = append(problems, fmt.Sprintf("container %s: %s path %q, want %s", name, probe, p, wantPath))
			}
			port := getString(hg, "port")
			if named, ok := ports[port]; ok {
				port = named
			}
			if port != "9090" {
				problems = append(problems, fmt.Sprintf("container %s: %s port %s, want 9090 (the health port)", name, probe, getString(hg, "port")))
			}
		}
		cmRef, secretOptional := false, false
		for _, ef := range getList(c, "envFrom") {
			if n := getString(ef, "configMapRef", "name"); n != "" {
				if _, ok := gens[n]; !ok && findDoc(objs, "ConfigMap", n) == nil {
					problems = append(problems, fmt.Sprintf("container %s: envFrom ConfigMap %s is not generated or defined in the base", name, n))
				}
				cmRef = cmRef || n == "cloudsync-worker"
			}
			if getString(ef, "secretRef", "name") != "" {
				if getString(ef, "secretRef", "optional") != "true" {
					problems = append(problems, fmt.Sprintf("container %s: envFrom Secret %s is not optional: pods do not start without it", name, getString(ef, "secretRef", "name")))
				}
				secretOptional = true
			}
		}
		if !cmRef {
			problems = append(problems, fmt.Sprintf("container %s: no envFrom ConfigMap cloudsync-worker", name))
		}
		if !secretOptional {
			problems = append(problems, fmt.Sprintf("container %s: no optional envFrom Secret", name))
		}
	}
	// Metrics: a Service on a port named metrics (9090) selecting the pods,
	// or scrape annotations.
	scrape := getString(pod, "metadata", "annotations", "prometheus.io/scrape") == "true" &&
		getString(pod, "metadata", "annotations", "prometheus.io/port") == "9090"
	svcOK := false
	for _, s := range objs {
		if kk, _ := kindName(s); kk != "Service" {
			continue
		}
		matches := len(getMap(s, "spec", "selector")) > 0
		for kk, v := range getMap(s, "spec", "selector") {
			matches = matches && podLabels[kk] == v
		}
		for _, p := range getList(s, "spec", "ports") {
			if matches && getString(p, "name") == "metrics" && getString(p, "port") == "9090" {
				svcOK = true
			}
		}
	}
	if !scrape && !svcOK {
		problems = append(problems, "Deployment: no Prometheus scrape annotations and no Service with port metrics 9090 selecting the pods")
	}
	return problems
}

var secretName = regexp.MustCompile(`SECRET|API_KEY|PASSWORD|KEY_DATA|CERT_DATA|TOKEN$|CODEC_AUTH`)

// checkKubeEnv: every variable set anywhere (container env in manifests and
// patches, ConfigMaps, generator literals) is read by the worker; secrets are
// never plain values; TEMPORAL_TLS* are never empty.
func checkKubeEnv(k kube, f facts) []string {
	var problems []string
	check := func(where, name, value string, literal bool) {
		if !f.envAllowed(name) {
			problems = append(problems, fmt.Sprintf("%s: %s is not read by the worker", where, name))
		}
		if literal && secretName.MatchString(name) {
			problems = append(problems, fmt.Sprintf("%s: %s is a secret: take it from a Secret, not a plain value", where, name))
		}
		if literal && strings.HasPrefix(name, "TEMPORAL_TLS") && value == "" {
			problems = append(problems, fmt.Sprintf("%s: %s is empty, which turns TLS on", where, name))
		}
	}
	for _, p := range sortedKeys(k) {
		for _, d := range k[p] {
			kind, name := kindName(d)
			where := fmt.Sprintf("%s/%s %s/%s", kubeDir, p, kind, name)
			switch kind {
			case "Deployment":
				for _, c := range containers(d) {
					for _, e := range getList(c, "env") {
						_, fromRef := getMap(e, "valueFrom")["secretKeyRef"]
						check(where, getString(e, "name"), getString(e, "value"), !fromRef)
					}
				}
			case "ConfigMap":
				for kk, v := range getMap(d, "data") {
					check(where, kk, fmt.Sprint(v), true)
				}
			case "Kustomization":
				for _, g := range getList(d, "configMapGenerator") {
					for _, l := range getList(g, "literals") {
						s, _ := l.(string)
						kk, v, _ := strings.Cut(s, "=")
						check(fmt.Sprintf("%s/%s configMapGenerator %s", kubeDir, p, getString(g, "name")), kk, v, true)
					}
				}
			}
		}
	}
	return problems
}

var cloudAddress = regexp.MustCompile(`^[^.:/]+\.[^.:/]+\.tmprl\.cloud:7233$`)

// checkOverlays: each overlay's Temporal connection.
func checkOverlays(k kube) []string {
	var problems []string
	overlay := func(dir string) (map[string]string, []any, bool) {
		if k.kustomization(dir) == nil {
			problems = append(problems, "no overlay "+dir)
			return nil, nil, false
		}
		if getString(k.kustomization(dir), "namespace") == "" {
			problems = append(problems, dir+": no namespace (the base is namespace-agnostic)")
		}
		return k.generators(dir)["cloudsync-worker"], k.patchDocs(dir), true
	}
	if env, _, ok := overlay("overlays/dev"); ok {
		if a := env["TEMPORAL_ADDRESS"]; a != "temporal-frontend.temporal:7233" {
			problems = append(problems, fmt.Sprintf("overlays/dev: TEMPORAL_ADDRESS %q, want temporal-frontend.temporal:7233", a))
		}
		one := false
		for _, r := range getList(k.kustomization("overlays/dev"), "replicas") {
			one = one || getString(r, "name") == "cloudsync-worker" && getString(r, "count") == "1"
		}
		if !one {
			problems = append(problems, "overlays/dev: cloudsync-worker is not scaled to 1 replica")
		}
	}
	cloud := func(dir string) (map[string]string, []any) {
		env, patches, ok := overlay(dir)
		if !ok {
			return nil, nil
		}
		if !cloudAddress.MatchString(env["TEMPORAL_ADDRESS"]) {
			problems = append(problems, fmt.Sprintf("%s: TEMPORAL_ADDRESS %q, want <namespace>.<account>.tmprl.cloud:7233", dir, env["TEMPORAL_ADDRESS"]))
		}
		if ns := env["TEMPORAL_NAMESPACE"]; ns == "" || ns == "default" {
			problems = append(problems, fmt.Sprintf("%s: TEMPORAL_NAMESPACE %q, want <namespace>.<account>", dir, ns))
		}
		return env, patches
	}
	if _, patches := cloud("overlays/temporal-cloud"); patches != nil {
		found := false
		for _, d := range patches {
			for _, c := range containers(d) {
				for _, e := range getList(c, "env") {
					if getString(e, "name") == "TEMPORAL_API_KEY" && getString(e, "valueFrom", "secretKeyRef", "name") != "" && getString(e, "valueFrom", "secretKeyRef", "key") != "" {
						found = true
					}
				}
			}
		}
		if !found {
			problems = append(problems, "overlays/temporal-cloud: TEMPORAL_API_KEY does not come from a secretKeyRef")
		}
	}
	if env, patches := cloud("overlays/temporal-cloud-mtls"); env != nil {
		mounts := map[string]string{} // mountPath -> volume
		secrets := map[string]bool{}  // secret volumes
		for _, d := range append(patches, k.resources("overlays/temporal-cloud-mtls")...) {
			for _, c := range containers(d) {
				for _, m := range getList(c, "volumeMounts") {
					mounts[getString(m, "mountPath")] = getString(m, "name")
				}
			}
			for _, v := range getList(d, "spec", "template", "spec", "volumes") {
				if getString(v, "secret", "secretName") != "" {
					secrets[getString(v, "name")] = true
				}
			}
		}
		for _, kk := range []string{"TEMPORAL_TLS_CLIENT_CERT_PATH", "TEMPORAL_TLS_CLIENT_KEY_PATH"} {
			p := env[kk]
			if p == "" {
				problems = append(problems, fmt.Sprintf("overlays/temporal-cloud-mtls: no %s", kk))
				continue
			}
			vol, ok := mounts[path.Dir(p)]
			if !ok || !secrets[vol] {
				problems = append(problems, fmt.Sprintf("overlays/temporal-cloud-mtls: %s=%s is not in a mounted Secret volume", kk, p))
			}
		}
	}
	return problems
}

// ---- tests on the real files ----

func TestKustomizationsReferencesExist(t *testing.T) {
	noProblems(t, checkKustomizations(loadKube(t, loadFacts(t))))
}

func TestKubernetesDeployment(t *testing.T) {
	f := loadFacts(t)
	noProblems(t, checkDeployment(loadKube(t, f), f))
}

func TestKubernetesEnvIsReadByWorker(t *testing.T) {
	f := loadFacts(t)
	noProblems(t, checkKubeEnv(loadKube(t, f), f))
}

func TestKubernetesOverlays(t *testing.T) {
	noProblems(t, checkOverlays(loadKube(t, loadFacts(t))))
}

// ---- each check catches a breakage ----

func TestKubernetesChecksCatchBreakage(t *testing.T) {
	f := loadFacts(t)
	base := loadKube(t, f)
	doc := func(k kube, file, kind string) map[string]any {
		d, _ := findDoc(k[file], kind, "").(map[string]any)
		if d == nil {
			t.Fatalf("%s has no %s", file, kind)
		}
		return d
	}
	deploy := func(k kube) map[string]any { return doc(k, "base/deployment.yaml", "Deployment") }
	container := func(k kube) map[string]any { return containers(deploy(k))[0].(map[string]any) }
	kz := func(k kube, dir string) map[string]any { return k.kustomization(dir) }
	literal := func(k kube, dir, old, new string) {
		for _, g := range getList(kz(k, dir), "configMapGenerator") {
			lits := getList(g, "literals")
			for i, l := range lits {
				if s, _ := l.(string); strings.HasPrefix(s, old) {
					lits[i] = new
					return
				}
			}
		}
		t.Fatalf("%s: no literal %s", dir, old)
	}
	kust := func(k kube) []string { return checkKustomizations(k) }
	dep := func(k kube) []string { return checkDeployment(k, f) }
	env := func(k kube) []string { return checkKubeEnv(k, f) }
	cases := []struct {
		name   string
		break_ func(k kube)
		check  func(kube) []string
		want   string
	}{
		{"missing resource", func(k kube) { delete(k, "base/service.yaml") }, kust, "resource service.yaml does not exist"},
		{"missing base", func(k kube) { kz(k, "overlays/dev")["resources"] = []any{"../../bases"} }, kust, "does not exist"},
		{"missing patch", func(k kube) { delete(k, "overlays/temporal-cloud/api-key-patch.yaml") }, kust, "patch api-key-patch.yaml does not exist"},
		{"patch without target", func(k kube) {
			doc(k, "overlays/dev/serviceaccount-patch.yaml", "ServiceAccount")["metadata"] = map[string]any{"name": "worker"}
		}, kust, "targets ServiceAccount/worker"},
		{"orphan file", func(k kube) { k["base/extra.yaml"] = []any{map[string]any{"kind": "ConfigMap"}} }, kust, "not referenced"},
		{"merge without base generator", func(k kube) { getList(kz(k, "base"), "configMapGenerator")[0].(map[string]any)["name"] = "other" }, kust, "no base generates it"},
		{"image override matches nothing", func(k kube) { container(k)["image"] = "ghcr.io/x/cloudsync:1.0" }, kust, "matches no container image"},
		{"deprecated field", func(k kube) { kz(k, "base")["commonLabels"] = map[string]any{"a": "b"} }, kust, "deprecated"},
		{"replicas", func(k kube) { getMap(deploy(k), "spec")["replicas"] = 3 }, dep, "want 2"},
		{"no workload identity label", func(k kube) {
			delete(getMap(deploy(k), "spec", "template", "metadata", "labels"), "azure.workload.identity/use")
		}, dep, "azure.workload.identity/use"},
		{"workload identity label not a string", func(k kube) {
			getMap(deploy(k), "spec", "template", "metadata", "labels")["azure.workload.identity/use"] = true
		}, dep, "azure.workload.identity/use"},
		{"no client-id annotation", func(k kube) {
			delete(getMap(doc(k, "base/serviceaccount.yaml", "ServiceAccount"), "metadata"), "annotations")
		}, dep, "client-id"},
		{"root allowed", func(k kube) { getMap(deploy(k), "spec", "template", "spec", "securityContext")["runAsNonRoot"] = false }, dep, "runAsNonRoot"},
		{"short grace", func(k kube) { getMap(deploy(k), "spec", "template", "spec")["terminationGracePeriodSeconds"] = 30 }, dep, "want more than 30"},
		{"grace not longer than stop-timeout", func(k kube) { container(k)["args"] = []any{"--stop-timeout=90s"} }, dep, "not longer than --stop-timeout"},
		{"no limits", func(k kube) { delete(getMap(container(k), "resources"), "limits") }, dep, "resources.limits"},
		{"writable root", func(k kube) { getMap(container(k), "securityContext")["readOnlyRootFilesystem"] = false }, dep, "readOnlyRootFilesystem"},
		{"capabilities kept", func(k kube) { getMap(container(k), "securityContext", "capabilities")["drop"] = []any{"NET_RAW"} }, dep, "drop does not contain ALL"},
		{"escalation", func(k kube) { delete(getMap(container(k), "securityContext"), "allowPrivilegeEscalation") }, dep, "allowPrivilegeEscalation"},
		{"no liveness", func(k kube) { delete(container(k), "livenessProbe") }, dep, "no livenessProbe"},
		{"readiness path", func(k kube) { getMap(container(k), "readinessProbe", "httpGet")["path"] = "/healthz" }, dep, "want /readyz"},
		{"probe port", func(k kube) { getMap(container(k), "livenessProbe", "httpGet")["port"] = 8080 }, dep, "want 9090"},
		{"no ConfigMap envFrom", func(k kube) { container(k)["envFrom"] = getList(container(k), "envFrom")[1:] }, dep, "no envFrom ConfigMap"},
		{"required Secret", func(k kube) { delete(getMap(getList(container(k), "envFrom")[1], "secretRef"), "optional") }, dep, "not optional"},
		{"no metrics", func(k kube) {
			delete(getMap(deploy(k), "spec", "template", "metadata"), "annotations")
			getList(doc(k, "base/service.yaml", "Service"), "spec", "ports")[0].(map[string]any)["name"] = "http"
		}, dep, "Prometheus"},
		{"unpinned image", func(k kube) { container(k)["image"] = "registry.example.com/cloudsync/cloudsync" }, dep, "no tag"},
		{"unknown variable in generator", func(k kube) { literal(k, "overlays/dev", "CLOUDSYNC_LOG_LEVEL=", "LOG_LEVEL=debug") }, env, "LOG_LEVEL is not read"},
		{"unknown variable in env", func(k kube) {
			container(k)["env"] = []any{map[string]any{"name": "GRAPH_BASE_URL", "value": "x"}}
		}, env, "GRAPH_BASE_URL is not read"},
		{"secret in ConfigMap", func(k kube) { literal(k, "base", "CLOUDSYNC_LOG_FORMAT=", "AZURE_CLIENT_SECRET=hunter2") }, env, "is a secret"},
		{"API key as plain value", func(k kube) {
			c := containers(doc(k, "overlays/temporal-cloud/api-key-patch.yaml", "Deployment"))[0].(map[string]any)
			c["env"] = []any{map[string]any{"name": "TEMPORAL_API_KEY", "value": "abc"}}
		}, env, "is a secret"},
		{"empty TLS path", func(k kube) {
			literal(k, "overlays/temporal-cloud-mtls", "TEMPORAL_TLS_CLIENT_KEY_PATH=", "TEMPORAL_TLS_CLIENT_KEY_PATH=")
		}, env, "turns TLS on"},
		{"dev address", func(k kube) { literal(k, "overlays/dev", "TEMPORAL_ADDRESS=", "TEMPORAL_ADDRESS=temporal:7233") }, checkOverlays, "temporal-frontend.temporal:7233"},
		{"dev replicas", func(k kube) { delete(kz(k, "overlays/dev"), "replicas") }, checkOverlays, "1 replica"},
		{"cloud address", func(k kube) {
			literal(k, "overlays/temporal-cloud", "TEMPORAL_ADDRESS=", "TEMPORAL_ADDRESS=temporal.example.com:7233")
		}, checkOverlays, "tmprl.cloud:7233"},
		{"cloud namespace", func(k kube) {
			literal(k, "overlays/temporal-cloud-mtls", "TEMPORAL_NAMESPACE=", "TEMPORAL_NAMESPACE=default")
		}, checkOverlays, "TEMPORAL_NAMESPACE"},
		{"no API key", func(k kube) {
			containers(doc(k, "overlays/temporal-cloud/api-key-patch.yaml", "Deployment"))[0].(map[string]any)["env"] = []any{}
		}, checkOverlays, "TEMPORAL_API_KEY"},
		{"cert not mounted", func(k kube) {
			literal(k, "overlays/temporal-cloud-mtls", "TEMPORAL_TLS_CLIENT_CERT_PATH=", "TEMPORAL_TLS_CLIENT_CERT_PATH=/etc/tls/tls.crt")
		}, checkOverlays, "not in a mounted Secret volume"},
		{"overlay without namespace", func(k kube) { delete(kz(k, "overlays/temporal-cloud"), "namespace") }, checkOverlays, "no namespace"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k := base.copy()
			if p := c.check(k); len(p) != 0 {
				t.Fatalf("fails before breaking: %v", p)
			}
			c.break_(k)
			expectProblem(t, c.check(k), c.want)
		})
	}
}
