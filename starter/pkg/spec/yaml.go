package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/cloudsync/cloudsync/starter/pkg/text"
	"github.com/cloudsync/cloudsync/workflows"
)

// ParseYAML decodes one TenantSpec from the file name holds, refusing
// unknown fields; every problem names its field and line. When yaml.v3
// could decode the rest of the spec, its validation problems come too.
func ParseYAML(name string, data []byte) (workflows.TenantSpec, error) {
	var s workflows.TenantSpec
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		if errors.Is(err, io.EOF) {
			return s, errors.New("--file: the file is empty: it must hold one tenant spec (see examples/tenant.yaml)")
		}
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return s, problemsOf("invalid spec file", name, []Problem{syntaxProblem(err)})
		}
		// yaml.v3 decoded what it could: the spec's other problems come
		// with the type errors and unknown fields, all at once.
		idx := indexData(data)
		list := explainTypeErrors(idx, te)
		typed := map[string]bool{}
		for _, p := range list {
			typed[fieldRoot(p.Field)] = true
		}
		for _, p := range validationProblems(idx, "", 0, s) {
			if !typed[fieldRoot(p.Field)] {
				list = append(list, p)
			}
		}
		return s, problemsOf("invalid spec file", name, list)
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		return s, errors.New("--file: the file holds more than one YAML document: one tenant spec per file, or a fleet as one list (- tenantId: ...) or one document tenants: [...]")
	}
	return s, nil
}

// checkYAML validates a decoded spec, locating each problem in the file.
func checkYAML(name string, data []byte, s workflows.TenantSpec) error {
	if s.Validate() == nil {
		return nil
	}
	return problemsOf("invalid spec file", name, validationProblems(indexData(data), "", 0, s))
}

// validationProblems are a spec's Validate errors, each on the line of its
// field (under prefix, the entry's path in a fleet), else on line.
func validationProblems(idx []yamlEntry, prefix string, line int, s workflows.TenantSpec) []Problem {
	err := s.Validate()
	if err == nil {
		return nil
	}
	var ve *workflows.ValidationError
	if !errors.As(err, &ve) {
		return []Problem{{Line: line, Entry: prefix, Message: err.Error()}}
	}
	out := make([]Problem, 0, len(ve.Errors))
	for _, fe := range ve.Errors {
		l := lineOf(idx, join(prefix, fe.Field))
		if l == 0 {
			l = line
		}
		out = append(out, Problem{Line: l, Entry: prefix, Field: fe.Field, Message: fe.Problem})
	}
	return out
}

func join(prefix, field string) string {
	if prefix == "" {
		return field
	}
	return prefix + "." + field
}

// lineOf is the line of a path's value, or of its closest parent present.
func lineOf(idx []yamlEntry, path string) int {
	for path != "" {
		for _, e := range idx {
			if e.path == path {
				return e.valueLine
			}
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

var (
	yamlLineRe     = regexp.MustCompile(`^line (\d+): (.*)$`)
	yamlUnknownRe  = regexp.MustCompile(`^field (\S+) not found in type \S+$`)
	yamlMismatchRe = regexp.MustCompile("^cannot unmarshal !!(\\w+)(?: `(.*)`)? into (\\S+)$")
	// fleetItemRe is the fleet part of a YAML path ("tenants[3].", "[3].").
	fleetItemRe = regexp.MustCompile(`^((?:tenants)?\[\d+\])\.?`)
)

// syntaxProblem is a YAML syntax error, which already carries its line.
func syntaxProblem(err error) Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return Problem{Line: line, Message: m[2]}
	}
	return Problem{Message: msg}
}

func indexData(data []byte) []yamlEntry {
	var root yaml.Node
	_ = yaml.Unmarshal(data, &root)
	return indexYAML(&root)
}

// explainTypeErrors rewrites yaml.v3's errors ("line 7: cannot unmarshal
// !!str `abc` into int") into problems that name the field
// (deleteThreshold.value, line 7: must be a whole number, got "abc").
func explainTypeErrors(idx []yamlEntry, te *yaml.TypeError) []Problem {
	out := make([]Problem, 0, len(te.Errors))
	for _, msg := range te.Errors {
		p := explainYAMLProblem(idx, msg)
		if len(p.Message) > 400 { // an oversized key or value
			p.Message = p.Message[:397] + "..."
		}
		// In a fleet, the entry is named apart from the field.
		if m := fleetItemRe.FindStringSubmatch(p.Field); m != nil {
			p.Entry, p.Field = m[1], strings.TrimPrefix(p.Field, m[0])
		}
		out = append(out, p)
	}
	return out
}

func explainYAMLProblem(idx []yamlEntry, msg string) Problem {
	m := yamlLineRe.FindStringSubmatch(msg)
	if m == nil {
		return Problem{Message: msg}
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
		return Problem{Line: line, Field: text.Clip(path), Message: fmt.Sprintf("unknown field; known fields%s: %s", where(parent), strings.Join(knownFields(specPath(parent)), ", "))}
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
				path, got = e.path, strconv.Quote(text.Clip(e.value))
			}
		}
		switch want {
		case yaml.MappingNode:
			got = "a mapping"
		case yaml.SequenceNode:
			got = "a list"
		}
		return Problem{Line: line, Field: path, Message: fmt.Sprintf("must be %s, got %s", describeGoType(goType), got)}
	}
	return Problem{Line: line, Message: problem}
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

// yamlEntry is one mapping entry or list item of the file, by path.
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

// specPath is the path inside one tenant spec of a YAML path in a fleet file.
func specPath(p string) string { return fleetItemRe.ReplaceAllString(p, "") }

// fieldRoot is the top-level field of a validation field ("notifications.recipients[0]").
func fieldRoot(field string) string {
	if i := strings.IndexAny(field, ".["); i >= 0 {
		return field[:i]
	}
	return field
}
