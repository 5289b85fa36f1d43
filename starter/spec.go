package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/cloudsync/cloudsync/workflows"
)

// maxSpecFileSize bounds a --file holding one tenant spec (a few hundred
// bytes); maxFleetFileSize one holding a fleet (10,000 tenants fit).
const (
	maxSpecFileSize  = 64 << 10
	maxFleetFileSize = 16 << 20
)

// specFlags are the onboard flags that describe a tenant.
type specFlags struct {
	File              string
	TenantID          string
	Domain            string
	DisplayName       string
	PasswordHashSync  bool
	ExchangeWriteback bool
	Notify            bool
	Recipients        []string
	DeleteThreshold   int
	NoDeleteThreshold bool
	NoStart           bool
}

// specFlagNames are the flags that --file replaces.
var specFlagNames = []string{
	"tenant-id", "domain", "display-name", "password-hash-sync", "exchange-writeback",
	"notify", "recipient", "delete-threshold", "no-delete-threshold", "no-start",
}

func (f *specFlags) register(fs *pflag.FlagSet) {
	fs.StringVarP(&f.File, "file", "f", "", "read the tenant spec from this YAML file instead of the flags below")
	fs.StringVar(&f.TenantID, "tenant-id", "", "directory (tenant) id, a GUID")
	fs.StringVar(&f.Domain, "domain", "", "on-premises Active Directory DNS domain, e.g. contoso.com")
	fs.StringVar(&f.DisplayName, "display-name", "", "display name of the sync configuration (default: the domain)")
	fs.BoolVar(&f.PasswordHashSync, "password-hash-sync", false, "enable password hash sync")
	fs.BoolVar(&f.ExchangeWriteback, "exchange-writeback", false, "enable Exchange hybrid writeback (needs mailNickname in the AD schema)")
	fs.BoolVar(&f.Notify, "notify", false, "enable sync notification emails (needs --recipient)")
	// StringArray, not StringSlice: a comma inside a value must reach validation
	// as is, not be split silently.
	fs.StringArrayVar(&f.Recipients, "recipient", nil, "notification email address (repeat for several)")
	fs.IntVar(&f.DeleteThreshold, "delete-threshold", workflows.DefaultDeleteThreshold, "accidental-delete threshold, 1-100000")
	fs.BoolVar(&f.NoDeleteThreshold, "no-delete-threshold", false, "disable accidental-delete protection")
	fs.BoolVar(&f.NoStart, "no-start", false, "create and configure the sync jobs but leave them stopped")
}

// buildSpecs makes the tenant spec from the flags (changed names the flags
// given on the command line) or from --file, read with readFile, which may
// hold a fleet: a YAML list of tenant specs, a YAML document "tenants: [...]",
// or a CSV file (*.csv). It returns either the one spec or the fleet (parsed,
// not validated: call Validate on the result).
func buildSpecs(f specFlags, changed func(name string) bool, readFile func(path string) ([]byte, error)) (workflows.TenantSpec, *fleetFile, error) {
	if changed("file") {
		var mixed []string
		for _, n := range specFlagNames {
			if changed(n) {
				mixed = append(mixed, "--"+n)
			}
		}
		if len(mixed) > 0 {
			return workflows.TenantSpec{}, nil, fmt.Errorf("--file cannot be combined with %s: put every setting in the file", strings.Join(mixed, ", "))
		}
		if strings.TrimSpace(f.File) == "" {
			return workflows.TenantSpec{}, nil, errors.New("--file: give the path of a YAML tenant spec")
		}
		data, err := readFile(f.File)
		if err != nil {
			return workflows.TenantSpec{}, nil, fmt.Errorf("--file: %w", err)
		}
		if isCSV(f.File) {
			fleet, err := parseFleetCSV(data)
			return workflows.TenantSpec{}, fleet, err
		}
		fleet, err := parseFleetYAML(data)
		if err != nil || fleet != nil {
			return workflows.TenantSpec{}, fleet, err
		}
		if len(data) > maxSpecFileSize {
			return workflows.TenantSpec{}, nil, fmt.Errorf("--file: %s is larger than %d KiB: a tenant spec is a few lines", f.File, maxSpecFileSize>>10)
		}
		s, err := parseSpecYAML(data)
		return s, nil, err
	}
	s := workflows.TenantSpec{
		TenantID:                f.TenantID,
		Domain:                  f.Domain,
		DisplayName:             f.DisplayName,
		PasswordHashSync:        f.PasswordHashSync,
		ExchangeHybridWriteback: f.ExchangeWriteback,
		Notifications:           workflows.Notifications{Enabled: f.Notify, Recipients: f.Recipients},
	}
	if changed("delete-threshold") {
		v := f.DeleteThreshold
		s.DeleteThreshold.Value = &v
	}
	if f.NoDeleteThreshold {
		off := false
		s.DeleteThreshold.Enabled = &off
	}
	if f.NoStart {
		start := false
		s.StartJobs = &start
	}
	return s, nil, nil
}

// readSpecFile reads a spec or fleet file, refusing anything that is not a
// regular file of a sensible size.
func readSpecFile(path string) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%s is a directory, not a YAML file", path)
	}
	data, err := io.ReadAll(io.LimitReader(fh, maxFleetFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFleetFileSize {
		return nil, fmt.Errorf("%s is larger than %d MiB: split the fleet", path, maxFleetFileSize>>20)
	}
	return data, nil
}

// parseSpecYAML decodes one TenantSpec, refusing unknown fields, and names the
// offending field in every error.
func parseSpecYAML(data []byte) (workflows.TenantSpec, error) {
	var s workflows.TenantSpec
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		if errors.Is(err, io.EOF) {
			return s, errors.New("--file: the file is empty: it must hold one tenant spec (see examples/tenant.yaml)")
		}
		var te *yaml.TypeError
		decoded := errors.As(err, &te) // the rest of the spec was decoded
		err = explainYAMLError(data, err)
		var sfe *specFileError
		if errors.As(err, &sfe) && decoded {
			// yaml.v3 decoded what it could: the spec's other problems come
			// with the type errors and unknown fields, all at once.
			typed := map[string]bool{}
			for _, p := range sfe.problems {
				typed[fieldRoot(strings.SplitN(p, ":", 2)[0])] = true
			}
			var ve *workflows.ValidationError
			if errors.As(s.Validate(), &ve) {
				for _, fe := range ve.Errors {
					if !typed[fieldRoot(fe.Field)] {
						sfe.problems = append(sfe.problems, fe.Field+": "+fe.Problem)
					}
				}
			}
		}
		return s, err
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		return s, errors.New("--file: the file holds more than one YAML document: one tenant spec per file, or a fleet as one list (- tenantId: ...) or one document tenants: [...]")
	}
	return s, nil
}

// specFileError lists the problems of a spec file, one per line.
type specFileError struct {
	problems []string
}

func (e *specFileError) Error() string {
	if len(e.problems) == 1 {
		return "invalid spec file: " + e.problems[0]
	}
	return "invalid spec file:\n  " + strings.Join(e.problems, "\n  ")
}

var (
	yamlLineRe     = regexp.MustCompile(`^line (\d+): (.*)$`)
	yamlUnknownRe  = regexp.MustCompile(`^field (\S+) not found in type \S+$`)
	yamlMismatchRe = regexp.MustCompile("^cannot unmarshal !!(\\w+)(?: `(.*)`)? into (\\S+)$")
)

// explainYAMLError rewrites yaml.v3's errors ("line 7: cannot unmarshal !!str
// `abc` into int") into ones that name the field ("deleteThreshold.value:
// must be a whole number, got "abc" (line 7)").
func explainYAMLError(data []byte, err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		// Syntax errors already carry a line number.
		return &specFileError{problems: []string{strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	var root yaml.Node
	_ = yaml.Unmarshal(data, &root)
	idx := indexYAML(&root)
	out := &specFileError{}
	for _, msg := range te.Errors {
		p := explainYAMLProblem(idx, msg)
		if len(p) > 400 { // an oversized key or value
			p = p[:397] + "..."
		}
		out.problems = append(out.problems, p)
	}
	return out
}

func explainYAMLProblem(idx []yamlEntry, msg string) string {
	m := yamlLineRe.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	line, _ := strconv.Atoi(m[1])
	problem := m[2]
	if u := yamlUnknownRe.FindStringSubmatch(problem); u != nil {
		path := u[1]
		parent := ""
		for _, e := range idx {
			if e.keyLine == line && e.name == u[1] {
				path, parent = e.path, e.parent
				break
			}
		}
		return fmt.Sprintf("%s: unknown field (line %d); known fields%s: %s", clip(path), line, where(parent), strings.Join(knownFields(specPath(parent)), ", "))
	}
	if t := yamlMismatchRe.FindStringSubmatch(problem); t != nil {
		tag, value, goType := t[1], t[2], t[3]
		want := yaml.ScalarNode
		switch tag {
		case "map":
			want = yaml.MappingNode
		case "seq":
			want = yaml.SequenceNode
		}
		// yaml.v3 clips long values to 7 characters and "...".
		prefix := strings.TrimSuffix(value, "...")
		path, got := "(top level)", strconv.Quote(value)
		// The deepest entry on that line is the one that failed.
		for _, e := range idx {
			if e.valueLine == line && e.kind == want && (want != yaml.ScalarNode || strings.HasPrefix(e.value, prefix)) {
				path, got = e.path, strconv.Quote(clip(e.value))
			}
		}
		switch want {
		case yaml.MappingNode:
			got = "a mapping"
		case yaml.SequenceNode:
			got = "a list"
		}
		return fmt.Sprintf("%s: must be %s, got %s (line %d)", path, describeGoType(goType), got, line)
	}
	return msg
}

func where(parent string) string {
	if parent == "" {
		return ""
	}
	return " in " + parent
}

func describeGoType(t string) string {
	switch t {
	case "int", "*int":
		return "a whole number"
	case "bool", "*bool":
		return "true or false"
	case "string":
		return "a string"
	case "[]string":
		return "a list of strings"
	case "workflows.TenantSpec":
		return "a tenant spec (a mapping of tenantId, domain, ...)"
	case "workflows.Notifications":
		return "a mapping (" + strings.Join(knownFields("notifications"), ", ") + ")"
	case "[]workflows.TenantSpec":
		return "a list of tenant specs"
	case "workflows.DeleteThreshold":
		return "a mapping (" + strings.Join(knownFields("deleteThreshold"), ", ") + ")"
	}
	return "a " + t
}

// yamlEntry is one mapping entry of the spec file, by path.
type yamlEntry struct {
	path, parent, name string
	keyLine, valueLine int
	kind               yaml.Kind
	value              string // scalars only
}

func indexYAML(root *yaml.Node) []yamlEntry {
	var out []yamlEntry
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := k.Value
				if path != "" {
					p = path + "." + k.Value
				}
				e := yamlEntry{path: p, parent: path, name: k.Value, keyLine: k.Line, valueLine: v.Line, kind: v.Kind}
				if v.Kind == yaml.ScalarNode {
					e.value = v.Value
				}
				out = append(out, e)
				walk(v, p)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				p := fmt.Sprintf("%s[%d]", path, i)
				e := yamlEntry{path: p, parent: path, name: p, keyLine: c.Line, valueLine: c.Line, kind: c.Kind}
				if c.Kind == yaml.ScalarNode {
					e.value = c.Value
				}
				out = append(out, e)
				walk(c, p)
			}
		}
	}
	walk(root, "")
	return out
}

// knownFields lists the YAML field names of the spec at a dotted path.
func knownFields(path string) []string {
	t := reflect.TypeOf(workflows.TenantSpec{})
	if path != "" {
		for _, seg := range strings.Split(path, ".") {
			f, ok := yamlField(t, seg)
			if !ok {
				return nil
			}
			t = f.Type
			for t.Kind() == reflect.Pointer {
				t = t.Elem()
			}
			if t.Kind() != reflect.Struct {
				return nil
			}
		}
	}
	var names []string
	for i := 0; i < t.NumField(); i++ {
		if n := yamlName(t.Field(i)); n != "" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

func yamlField(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		if yamlName(t.Field(i)) == name {
			return t.Field(i), true
		}
	}
	return reflect.StructField{}, false
}

func yamlName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	tag := f.Tag.Get("yaml")
	if tag == "-" {
		return ""
	}
	if n, _, _ := strings.Cut(tag, ","); n != "" {
		return n
	}
	return strings.ToLower(f.Name)
}

// validationLines prints a spec's field errors one per line.
func validationLines(err error) string {
	var ve *workflows.ValidationError
	if !errors.As(err, &ve) {
		return err.Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "invalid tenant spec (%d %s):", len(ve.Errors), plural(len(ve.Errors), "problem", "problems"))
	for _, fe := range ve.Errors {
		fmt.Fprintf(&b, "\n  %s: %s", fe.Field, fe.Problem)
	}
	return b.String()
}

// clip keeps oversized values out of messages.
func clip(s string) string {
	if len(s) > 64 {
		return s[:61] + "..."
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
