package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/cloudsync/cloudsync/internal/workerenv"
	"github.com/cloudsync/cloudsync/workflows"
)

// facts are what the deployment files must agree with, read from the code.
type facts struct {
	root string // repository root

	stopTimeout time.Duration // the worker's --stop-timeout default

	searchAttributes []string          // workflows.SearchAttributeNames
	searchTypes      map[string]string // name -> type, workflows.SearchAttributes

	graphsimFlags    map[string]bool   // flags graphsim's command accepts
	graphsimDefaults map[string]string // demoClientID, demoClientSecret
}

var (
	factsOnce sync.Once
	factsVal  facts
	factsErr  error
)

func loadFacts(t testing.TB) facts {
	t.Helper()
	factsOnce.Do(func() { factsVal, factsErr = readFacts() })
	if factsErr != nil {
		t.Fatal(factsErr)
	}
	return factsVal
}

func readFacts() (facts, error) {
	root, err := filepath.Abs("..")
	if err != nil {
		return facts{}, err
	}
	f := facts{root: root, stopTimeout: workerenv.StopTimeout, graphsimFlags: map[string]bool{}, graphsimDefaults: map[string]string{}}
	f.searchAttributes = append([]string(nil), workflows.SearchAttributeNames...)
	f.searchTypes = map[string]string{}
	for _, a := range workflows.SearchAttributes {
		f.searchTypes[a.Name] = a.Type
	}

	// The worker's variables (its own and Temporal's envconfig's) are the
	// table in internal/workerenv, which the worker's tests hold to what it
	// reads.

	// graphsim's command: flag names and the demo credentials.
	gsFiles, err := parseDir(filepath.Join(root, "graphsim", "cmd", "graphsim"))
	if err != nil {
		return f, err
	}
	for _, file := range gsFiles {
		ast.Inspect(file, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				name := calleeName(n.Fun)
				if strings.HasPrefix(name, "fs.") && len(n.Args) >= 2 {
					argIdx := 0
					if strings.HasSuffix(name, "Var") {
						argIdx = 1
					}
					if s, ok := stringLit(n.Args[argIdx]); ok {
						f.graphsimFlags[s] = true
					}
				}
			case *ast.ValueSpec:
				for i, id := range n.Names {
					if i < len(n.Values) {
						if s, ok := stringLit(n.Values[i]); ok {
							f.graphsimDefaults[id.Name] = s
						}
					}
				}
			}
			return true
		})
	}
	for _, k := range []string{"addr", "dir", "client-id", "client-secret"} {
		if !f.graphsimFlags[k] {
			return f, fmt.Errorf("graphsim flag -%s not found", k)
		}
	}
	if f.graphsimDefaults["demoClientID"] == "" || f.graphsimDefaults["demoClientSecret"] == "" {
		return f, errors.New("graphsim demo credentials not found")
	}
	return f, nil
}

// envAllowed reports whether the worker reads the variable.
func (f facts) envAllowed(name string) bool { return workerenv.Reads(name) }

func parseDir(dir string) ([]*ast.File, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, 0)
		if err != nil {
			return nil, err
		}
		files = append(files, file)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no Go files in %s", dir)
	}
	return files, nil
}

// isMainPackage reports whether dir holds a Go main package (non-test files).
func isMainPackage(dir string) bool {
	files, err := parseDir(dir)
	if err != nil {
		return false
	}
	for _, f := range files {
		if f.Name.Name != "main" {
			return false
		}
	}
	return true
}

func calleeName(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		if x := calleeName(e.X); x != "" {
			return x + "." + e.Sel.Name
		}
		return e.Sel.Name
	}
	return ""
}

func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

// imagePinned reports why an image reference is not pinned to a version ("" if it is).
func imagePinned(ref string) string {
	if ref == "" {
		return "no image"
	}
	if strings.Contains(ref, "$") {
		return "image " + ref + " is a variable"
	}
	if _, digest, ok := strings.Cut(ref, "@"); ok {
		if strings.HasPrefix(digest, "sha256:") && len(digest) == len("sha256:")+64 {
			return ""
		}
		return "image " + ref + " has a malformed digest"
	}
	slash := strings.LastIndex(ref, "/")
	colon := strings.LastIndex(ref, ":")
	if colon <= slash {
		return "image " + ref + " has no tag (means :latest)"
	}
	if tag := ref[colon+1:]; tag == "" || tag == "latest" {
		return "image " + ref + " is not pinned (:" + tag + ")"
	}
	return ""
}

// imageName is a reference without tag or digest.
func imageName(ref string) string {
	ref, _, _ = strings.Cut(ref, "@")
	if colon := strings.LastIndex(ref, ":"); colon > strings.LastIndex(ref, "/") {
		ref = ref[:colon]
	}
	return ref
}

// yamlDocs decodes every document of a YAML stream.
func yamlDocs(data []byte) ([]any, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []any
	for {
		var d any
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		if d != nil {
			docs = append(docs, d)
		}
	}
}

// Generic YAML accessors: m(x, "a", "b") walks maps; missing gives nil.
func get(x any, keys ...string) any {
	for _, k := range keys {
		mm, ok := x.(map[string]any)
		if !ok {
			return nil
		}
		x = mm[k]
	}
	return x
}

func getMap(x any, keys ...string) map[string]any {
	mm, _ := get(x, keys...).(map[string]any)
	return mm
}

func getList(x any, keys ...string) []any {
	l, _ := get(x, keys...).([]any)
	return l
}

func getString(x any, keys ...string) string {
	switch v := get(x, keys...).(type) {
	case string:
		return v
	case int:
		return strconv.Itoa(v)
	case bool:
		return strconv.FormatBool(v)
	}
	return ""
}

// deepCopy copies a decoded YAML tree (for the tests that break a copy).
func deepCopy(x any) any {
	switch v := x.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = deepCopy(e)
		}
		return out
	}
	return x
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func isDir(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}

// noProblems fails the test with every problem found.
func noProblems(t *testing.T, problems []string) {
	t.Helper()
	for _, p := range problems {
		t.Error(p)
	}
}

// expectProblem checks that a broken input is caught, with a message containing want.
func expectProblem(t *testing.T, problems []string, want string) {
	t.Helper()
	for _, p := range problems {
		if strings.Contains(p, want) {
			return
		}
	}
	t.Errorf("breakage not caught: want a problem containing %q, got %q", want, problems)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// sameSet compares two name lists as sets and names the differences.
func sameSet(what string, got, want []string) []string {
	var problems []string
	seen := map[string]int{}
	for _, g := range got {
		seen[g]++
	}
	for _, w := range want {
		if seen[w] == 0 {
			problems = append(problems, fmt.Sprintf("%s: missing %s", what, w))
		}
	}
	wantSet := map[string]bool{}
	for _, w := range want {
		wantSet[w] = true
	}
	for _, g := range sortedKeys(seen) {
		if !wantSet[g] {
			problems = append(problems, fmt.Sprintf("%s: %s is not expected (want %v)", what, g, want))
		}
		if seen[g] > 1 {
			problems = append(problems, fmt.Sprintf("%s: %s registered %d times", what, g, seen[g]))
		}
	}
	return problems
}

func TestFactsFromCode(t *testing.T) {
	f := loadFacts(t)
	for _, v := range []string{"CLOUDSYNC_GRAPH_BASE_URL", "AZURE_CLIENT_ID", "AZURE_FEDERATED_TOKEN_FILE", "TEMPORAL_API_KEY", "TEMPORAL_TLS_CLIENT_CERT_PATH", "TEMPORAL_PROFILE"} {
		if !f.envAllowed(v) {
			t.Errorf("%s not found among the variables the worker reads", v)
		}
	}
	if !f.envAllowed("TEMPORAL_GRPC_META_X_TENANT") || f.envAllowed("CLOUDSYNC_NOPE") || f.envAllowed("SSL_CERT_FILE") {
		t.Error("envAllowed prefix/negative cases wrong")
	}
	t.Logf("worker variables: %v (and %s*); --stop-timeout default %s", workerenv.Names(), workerenv.TemporalGRPCMetaPrefix, f.stopTimeout)
}
