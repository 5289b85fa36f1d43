package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	line  int
	cmd   string // upper case
	args  string
	stage int // index of the stage it belongs to (-1 before the first FROM)
}

type stage struct {
	index int
	image string // FROM image (or an earlier stage's name)
	name  string // AS name
	flags []string
	instr []instruction
}

type dockerfile struct {
	instrs []instruction
	stages []*stage
}

func parseDockerfile(text string) (dockerfile, error) {
	var df dockerfile
	lines := strings.Split(text, "\n")
	cur := -1
	for i := 0; i < len(lines); i++ {
		start := i + 1
		line := strings.TrimSpace(lines[i])
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		for strings.HasSuffix(line, "\\") && i+1 < len(lines) {
			i++
			next := strings.TrimSpace(lines[i])
			if strings.HasPrefix(next, "#") {
				next = ""
			}
			line = strings.TrimSuffix(line, "\\") + " " + next
		}
		cmd, args, _ := strings.Cut(line, " ")
		in := instruction{line: start, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			fields := strings.Fields(in.args)
			st := &stage{index: len(df.stages)}
			for _, fl := range fields {
				if strings.HasPrefix(fl, "--") {
					st.flags = append(st.flags, fl)
					continue
				}
				if st.image == "" {
					st.image = fl
				}
			}
			for j := 0; j+1 < len(fields); j++ {
				if strings.EqualFold(fields[j], "AS") {
					st.name = fields[j+1]
				}
			}
			if st.image == "" {
				return df, fmt.Errorf("line %d: FROM without an image", start)
			}
			df.stages = append(df.stages, st)
			cur = st.index
		}
		in.stage = cur
		df.instrs = append(df.instrs, in)
		if cur >= 0 {
			df.stages[cur].instr = append(df.stages[cur].instr, in)
		}
	}
	if len(df.stages) == 0 {
		return df, fmt.Errorf("no FROM")
	}
	return df, nil
}

func loadDockerfile(t *testing.T, f facts) (dockerfile, string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(f.root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df, err := parseDockerfile(string(raw))
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	return df, string(raw)
}

// flagArg returns the value of --name=value in an instruction's leading flags.
func flagArg(args, name string) (string, bool) {
	for _, f := range strings.Fields(args) {
		if !strings.HasPrefix(f, "--") {
			break
		}
		if v, ok := strings.CutPrefix(f, "--"+name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// withoutFlags drops an instruction's leading --flags.
func withoutFlags(args string) []string {
	fields := strings.Fields(args)
	for len(fields) > 0 && strings.HasPrefix(fields[0], "--") {
		fields = fields[1:]
	}
	return fields
}

// execForm parses a JSON array instruction argument (ENTRYPOINT ["a", "b"]).
func execForm(args string) []string {
	var out []string
	if json.Unmarshal([]byte(args), &out) != nil {
		return strings.Fields(args)
	}
	return out
}

// goBuild is one `go build` command in a RUN.
type goBuild struct {
	run     instruction
	env     string // text before "go build" in its shell command (inline variables)
	args    []string
	output  string
	targets []string
}

var shellSplit = regexp.MustCompile(`&&|;|\|\|`)

func goBuilds(df dockerfile) []goBuild {
	var out []goBuild
	for _, in := range df.instrs {
		if in.cmd != "RUN" {
			continue
		}
		for _, part := range shellSplit.Split(strings.Join(withoutFlags(in.args), " "), -1) {
			before, after, ok := strings.Cut(part, "go build")
			if !ok {
				continue
			}
			b := goBuild{run: in, env: before, args: splitShellWords(after)}
			for i := 0; i < len(b.args); i++ {
				a := b.args[i]
				switch {
				case a == "-o" && i+1 < len(b.args):
					b.output = b.args[i+1]
					i++
				case a == "-ldflags" || a == "-tags" || a == "-gcflags":
					i++
				case strings.HasPrefix(a, "./"):
					b.targets = append(b.targets, a)
				}
			}
			out = append(out, b)
		}
	}
	return out
}

// splitShellWords splits on spaces, keeping "double quoted" words together.
func splitShellWords(s string) []string {
	var out []string
	var cur strings.Builder
	inQuote, have := false, false
	for _, r := range s {
		switch {
		case r == '"':
			inQuote, have = !inQuote, true
		case (r == ' ' || r == '\t') && !inQuote:
			if have {
				out = append(out, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteRune(r)
			have = true
		}
	}
	if have {
		out = append(out, cur.String())
	}
	return out
}

// stageByRef resolves a --from / FROM reference to an earlier stage.
func stageByRef(df dockerfile, ref string, before int) *stage {
	for _, st := range df.stages[:before] {
		if st.name != "" && strings.EqualFold(st.name, ref) {
			return st
		}
		if strconv.Itoa(st.index) == ref {
			return st
		}
	}
	return nil
}

// ---- checks ----

// checkDockerStages: multi-stage, every base image pinned, unique stage names.
func checkDockerStages(df dockerfile) []string {
	var problems []string
	if len(df.stages) < 2 {
		problems = append(problems, fmt.Sprintf("Dockerfile: %d stage(s), want a build stage and a runtime stage", len(df.stages)))
	}
	names := map[string]bool{}
	for _, st := range df.stages {
		if st.name != "" {
			if names[strings.ToLower(st.name)] {
				problems = append(problems, fmt.Sprintf("Dockerfile: stage name %s used twice", st.name))
			}
			names[strings.ToLower(st.name)] = true
		}
		if st.image == "scratch" || stageByRef(df, st.image, st.index) != nil {
			continue
		}
		if why := imagePinned(st.image); why != "" {
			problems = append(problems, fmt.Sprintf("Dockerfile stage %d: %s", st.index, why))
		}
	}
	final := df.stages[len(df.stages)-1]
	if !strings.HasPrefix(final.image, "gcr.io/distroless/static") {
		problems = append(problems, fmt.Sprintf("Dockerfile: final stage from %s, want gcr.io/distroless/static-*", final.image))
	}
	return problems
}

// checkDockerNonRoot: the final stage runs as a non-root USER.
func checkDockerNonRoot(df dockerfile) []string {
	final := df.stages[len(df.stages)-1]
	user := ""
	for _, in := range final.instr {
		if in.cmd == "USER" {
			user = in.args
		}
	}
	if user == "" {
		return []string{"Dockerfile: final stage has no USER (runs as the base image's user)"}
	}
	uid, _, _ := strings.Cut(user, ":")
	if uid == "root" || uid == "0" {
		return []string{fmt.Sprintf("Dockerfile: final stage USER %s is root", user)}
	}
	if n, err := strconv.Atoi(uid); err != nil && uid != "nonroot" {
		return []string{fmt.Sprintf("Dockerfile: USER %s: use a numeric uid (65532) so runAsNonRoot can verify it", user)}
	} else if err == nil && n != 65532 {
		return []string{fmt.Sprintf("Dockerfile: USER %s, the distroless nonroot user is 65532", user)}
	}
	return nil
}

// checkDockerStaticBuild: every go build is CGO-free, trimmed and stripped.
func checkDockerStaticBuild(df dockerfile) []string {
	var problems []string
	builds := goBuilds(df)
	if len(builds) == 0 {
		return []string{"Dockerfile: no go build"}
	}
	for _, b := range builds {
		cgoOff := strings.Contains(b.env, "CGO_ENABLED=0")
		if !cgoOff && !strings.Contains(b.env, "CGO_ENABLED=") {
			// An ENV earlier in the same stage.
			for _, in := range df.stages[b.run.stage].instr {
				if in.line >= b.run.line {
					break
				}
				if in.cmd == "ENV" && regexp.MustCompile(`(^|\s)CGO_ENABLED=0(\s|$)`).MatchString(in.args) {
					cgoOff = true
				}
			}
		}
		if !cgoOff {
			problems = append(problems, fmt.Sprintf("Dockerfile:%d: go build %v without CGO_ENABLED=0 (not a static binary)", b.run.line, b.targets))
		}
		joined := " " + strings.Join(b.args, " ") + " "
		if !strings.Contains(joined, " -trimpath ") {
			problems = append(problems, fmt.Sprintf("Dockerfile:%d: go build %v without -trimpath", b.run.line, b.targets))
		}
		ld := ""
		for i, a := range b.args {
			if a == "-ldflags" && i+1 < len(b.args) {
				ld = " " + b.args[i+1] + " "
			}
		}
		if !strings.Contains(ld, " -s ") || !strings.Contains(ld, " -w ") {
			problems = append(problems, fmt.Sprintf("Dockerfile:%d: go build %v without -ldflags \"-s -w\"", b.run.line, b.targets))
		}
	}
	return problems
}

// checkDockerPackages: the three binaries are built from main packages that
// exist, copied into the final stage from a named earlier stage, and the
// entrypoint is the worker.
func checkDockerPackages(df dockerfile, root string) []string {
	var problems []string
	outputs := map[string]string{} // output path -> target
	for _, b := range goBuilds(df) {
		if len(b.targets) != 1 || b.output == "" {
			problems = append(problems, fmt.Sprintf("Dockerfile:%d: want one package and -o per go build, got %v -o %q", b.run.line, b.targets, b.output))
			continue
		}
		target := b.targets[0]
		if !isMainPackage(filepath.Join(root, filepath.FromSlash(target))) {
			problems = append(problems, fmt.Sprintf("Dockerfile:%d: %s is not a main package in this repository", b.run.line, target))
		}
		outputs[b.output] = target
	}
	for _, want := range []string{"./worker", "./starter", "./graphsim/cmd/graphsim"} {
		found := false
		for _, t := range outputs {
			found = found || t == want
		}
		if !found {
			problems = append(problems, fmt.Sprintf("Dockerfile: %s is not built", want))
		}
	}

	final := df.stages[len(df.stages)-1]
	copied := map[string]string{} // destination in the final image -> built target
	for _, st := range df.stages {
		for _, in := range st.instr {
			if in.cmd != "COPY" {
				continue
			}
			from, ok := flagArg(in.args, "from")
			if !ok {
				continue
			}
			src := stageByRef(df, from, st.index)
			if src == nil {
				problems = append(problems, fmt.Sprintf("Dockerfile:%d: COPY --from=%s names no earlier stage", in.line, from))
				continue
			}
			if st != final {
				continue
			}
			paths := withoutFlags(in.args)
			if len(paths) < 2 {
				continue
			}
			dest := paths[len(paths)-1]
			for _, s := range paths[:len(paths)-1] {
				if target, ok := outputs[s]; ok {
					d := dest
					if strings.HasSuffix(dest, "/") {
						d = path.Join(dest, path.Base(s))
					}
					copied[d] = target
				}
			}
		}
	}
	for _, want := range []string{"./worker", "./starter", "./graphsim/cmd/graphsim"} {
		dest := ""
		for d, t := range copied {
			if t == want {
				dest = d
			}
		}
		if dest == "" {
			problems = append(problems, fmt.Sprintf("Dockerfile: %s is not copied into the final stage", want))
		} else if !strings.HasPrefix(dest, "/usr/local/bin/") {
			problems = append(problems, fmt.Sprintf("Dockerfile: %s copied to %s, want /usr/local/bin/", want, dest))
		}
	}
	var entry []string
	for _, in := range final.instr {
		if in.cmd == "ENTRYPOINT" {
			entry = execForm(in.args)
		}
	}
	if len(entry) == 0 || copied[entry[0]] != "./worker" {
		problems = append(problems, fmt.Sprintf("Dockerfile: ENTRYPOINT %v is not the worker binary", entry))
	}
	return problems
}

// checkDockerModuleCache: go.mod and go.sum are copied and `go mod download`
// runs before the source is copied, so the module layer is cached.
func checkDockerModuleCache(df dockerfile) []string {
	build := -1
	for _, b := range goBuilds(df) {
		build = b.run.stage
	}
	if build < 0 {
		return []string{"Dockerfile: no go build"}
	}
	state := 0 // 0: nothing, 1: go.mod+go.sum copied, 2: downloaded
	for _, in := range df.stages[build].instr {
		switch {
		case in.cmd == "COPY" || in.cmd == "ADD":
			p := withoutFlags(in.args)
			if len(p) < 2 {
				continue
			}
			srcs := " " + strings.Join(p[:len(p)-1], " ") + " "
			if strings.Contains(srcs, " go.mod ") && strings.Contains(srcs, " go.sum ") && !strings.Contains(srcs, " . ") {
				if state == 0 {
					state = 1
				}
				continue
			}
			if state < 2 {
				return []string{fmt.Sprintf("Dockerfile:%d: %s %s before `go mod download` (after copying only go.mod and go.sum): every source change re-downloads modules", in.line, in.cmd, in.args)}
			}
		case in.cmd == "RUN" && strings.Contains(in.args, "go mod download"):
			if state != 1 {
				return []string{fmt.Sprintf("Dockerfile:%d: go mod download without go.mod and go.sum copied first", in.line)}
			}
			state = 2
		case in.cmd == "RUN" && strings.Contains(in.args, "go build") && state < 2:
			return []string{fmt.Sprintf("Dockerfile:%d: go build without a go mod download layer", in.line)}
		}
	}
	if state < 2 {
		return []string{"Dockerfile: no go mod download layer"}
	}
	return nil
}

// dockerignoreMatch reports whether a path (slash-separated, relative) is
// excluded by .dockerignore patterns (last match wins, ! re-includes).
func dockerignoreMatch(patterns []string, rel string) bool {
	excluded := false
	for _, p := range patterns {
		neg := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(strings.TrimPrefix(p, "!"), "/")
		p = strings.TrimSuffix(p, "/")
		if p == "" {
			continue
		}
		if globMatch(p, rel) {
			excluded = !neg
		}
	}
	return excluded
}

// globMatch matches like Docker: a pattern matching a directory excludes
// everything under it; ** matches any number of directories.
func globMatch(pattern, rel string) bool {
	parts := strings.Split(rel, "/")
	for i := 1; i <= len(parts); i++ {
		if matchSegments(strings.Split(pattern, "/"), parts[:i]) {
			return true
		}
	}
	return false
}

func matchSegments(pat, name []string) bool {
	if len(pat) == 0 {
		return len(name) == 0
	}
	if pat[0] == "**" {
		for i := 0; i <= len(name); i++ {
			if matchSegments(pat[1:], name[i:]) {
				return true
			}
		}
		return false
	}
	if len(name) == 0 {
		return false
	}
	ok, _ := path.Match(pat[0], name[0])
	return ok && matchSegments(pat[1:], name[1:])
}

// imageSourceDirs lists the module's package directories the image's binaries
// are built from (go list -deps), plus embedded asset directories.
func imageSourceDirs(root string, problems *[]string) []string {
	cmd := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.Dir}}{{end}}",
		"./worker", "./starter", "./graphsim/cmd/graphsim", "./codec/cmd/codec-server")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		*problems = append(*problems, "go list: "+err.Error())
		return nil
	}
	dirs := []string{"graphsim/assets"}
	for _, d := range strings.Fields(string(out)) {
		if rel, err := filepath.Rel(root, d); err == nil && !strings.HasPrefix(rel, "..") {
			dirs = append(dirs, filepath.ToSlash(rel))
		}
	}
	return dirs
}

// checkDockerignore: nothing the build needs is excluded from the context.
func checkDockerignore(ignore string, root string) []string {
	var patterns []string
	for _, l := range strings.Split(ignore, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, l)
		}
	}
	var problems []string
	needed := []string{"go.mod", "go.sum"}
	// Every non-test Go file and embedded asset of the packages in the image.
	for _, dir := range imageSourceDirs(root, &problems) {
		entries, err := os.ReadDir(filepath.Join(root, dir))
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		for _, e := range entries {
			n := e.Name()
			if !e.IsDir() && !strings.HasSuffix(n, "_test.go") {
				needed = append(needed, dir+"/"+n)
			}
		}
	}
	for _, n := range needed {
		if dockerignoreMatch(patterns, n) {
			problems = append(problems, fmt.Sprintf(".dockerignore excludes %s, which the build needs", n))
		}
	}
	for _, n := range []string{".git/HEAD", "bin/worker", ".graphsim/ca.pem"} {
		if !dockerignoreMatch(patterns, n) {
			problems = append(problems, fmt.Sprintf(".dockerignore does not exclude %s", n))
		}
	}
	return problems
}

// ---- tests on the real files ----

func TestDockerfileStages(t *testing.T) {
	df, _ := loadDockerfile(t, loadFacts(t))
	noProblems(t, checkDockerStages(df))
}

func TestDockerfileNonRoot(t *testing.T) {
	df, _ := loadDockerfile(t, loadFacts(t))
	noProblems(t, checkDockerNonRoot(df))
}

func TestDockerfileStaticBuild(t *testing.T) {
	df, _ := loadDockerfile(t, loadFacts(t))
	noProblems(t, checkDockerStaticBuild(df))
}

func TestDockerfilePackagesAndCopies(t *testing.T) {
	f := loadFacts(t)
	df, _ := loadDockerfile(t, f)
	noProblems(t, checkDockerPackages(df, f.root))
}

func TestDockerfileModuleCache(t *testing.T) {
	df, _ := loadDockerfile(t, loadFacts(t))
	noProblems(t, checkDockerModuleCache(df))
}

func TestDockerignore(t *testing.T) {
	f := loadFacts(t)
	raw, err := os.ReadFile(filepath.Join(f.root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	noProblems(t, checkDockerignore(string(raw), f.root))
}

// ---- each check catches a breakage ----

func TestDockerfileChecksCatchBreakage(t *testing.T) {
	f := loadFacts(t)
	_, text := loadDockerfile(t, f)
	ignore, err := os.ReadFile(filepath.Join(f.root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	replace := func(old, new string) func(string) string {
		return func(s string) string {
			if !strings.Contains(s, old) {
				t.Fatalf("Dockerfile no longer contains %q: update this test", old)
			}
			return strings.ReplaceAll(s, old, new)
		}
	}
	cases := []struct {
		name   string
		break_ func(string) string
		check  func(dockerfile) []string
		want   string
	}{
		{"single stage", func(s string) string {
			i := strings.Index(s, "\nFROM gcr.io")
			return s[:i] + "\nENTRYPOINT [\"/out/bin/worker\"]\n"
		}, checkDockerStages, "stage(s)"},
		{"unpinned base", replace("golang:1.26 AS build", "golang AS build"), checkDockerStages, "no tag"},
		{"latest base", replace("static-debian12:nonroot", "static-debian12:latest"), checkDockerStages, "not pinned"},
		{"no USER", replace("USER 65532:65532", ""), checkDockerNonRoot, "no USER"},
		{"root USER", replace("USER 65532:65532", "USER root"), checkDockerNonRoot, "is root"},
		{"cgo on", func(s string) string {
			return replace("ENV CGO_ENABLED=0\n", "")(replace("CGO_ENABLED=0 go build", "go build")(s))
		}, checkDockerStaticBuild, "CGO_ENABLED=0"},
		{"no trimpath", replace("go build -trimpath -ldflags \"-s -w\" -o /out/bin/starter", "go build -ldflags \"-s -w\" -o /out/bin/starter"), checkDockerStaticBuild, "-trimpath"},
		{"not stripped", replace("-ldflags \"-s -w\" -o /out/bin/graphsim", "-o /out/bin/graphsim"), checkDockerStaticBuild, "-s -w"},
		{"missing package", replace("./graphsim/cmd/graphsim", "./cmd/graphsim"), func(df dockerfile) []string { return checkDockerPackages(df, f.root) }, "not a main package"},
		{"library package", replace("-o /out/bin/starter ./starter", "-o /out/bin/starter ./graph"), func(df dockerfile) []string { return checkDockerPackages(df, f.root) }, "not a main package"},
		{"copy from unknown stage", replace("COPY --from=build /out/bin/starter", "COPY --from=builder /out/bin/starter"), func(df dockerfile) []string { return checkDockerPackages(df, f.root) }, "names no earlier stage"},
		{"binary not copied", replace("COPY --from=build /out/bin/graphsim /usr/local/bin/graphsim\n", ""), func(df dockerfile) []string { return checkDockerPackages(df, f.root) }, "not copied"},
		{"entrypoint", replace(`ENTRYPOINT ["/usr/local/bin/worker"]`, `ENTRYPOINT ["/usr/local/bin/starter"]`), func(df dockerfile) []string { return checkDockerPackages(df, f.root) }, "ENTRYPOINT"},
		{"no module layer", replace("RUN go mod download && go mod verify\n", ""), checkDockerModuleCache, "go mod download"},
		{"source before download", replace("COPY go.mod go.sum ./", "COPY . ."), checkDockerModuleCache, "go mod download"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			df, err := parseDockerfile(text)
			if err != nil {
				t.Fatal(err)
			}
			if p := c.check(df); len(p) != 0 {
				t.Fatalf("fails before breaking: %v", p)
			}
			broken, err := parseDockerfile(c.break_(text))
			if err != nil {
				t.Fatal(err)
			}
			expectProblem(t, c.check(broken), c.want)
		})
	}
	t.Run("dockerignore excludes sources", func(t *testing.T) {
		expectProblem(t, checkDockerignore(string(ignore)+"\n**/*.go\n", f.root), "excludes worker/main.go")
		expectProblem(t, checkDockerignore(string(ignore)+"\ngraphsim/assets\n", f.root), "excludes graphsim/assets/")
		expectProblem(t, checkDockerignore(strings.ReplaceAll(string(ignore), "\nbin\n", "\n"), f.root), "does not exclude bin/worker")
	})
}
