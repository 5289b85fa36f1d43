package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/cloudsync/cloudsync/starter/pkg/text"
	"github.com/cloudsync/cloudsync/workflows"
)

// A fleet file holds many tenant specs:
//
//   - YAML, a list:            - {tenantId: ..., domain: ...}
//   - YAML, a document:        tenants: [{tenantId: ..., domain: ...}, ...]
//   - CSV (*.csv), a header row naming the columns (CSVColumns), one tenant per row.
//
// A YAML file holding one mapping without "tenants" is the single-tenant spec
// it always was.

// Fleet is a parsed fleet, in file order.
type Fleet struct {
	File    string
	Entries []Entry
	// idx locates a YAML fleet's fields for validation problems (nil for CSV).
	idx []yamlEntry
}

// Entry is one tenant of a fleet file.
type Entry struct {
	Spec workflows.TenantSpec
	Name string // "tenants[2]", "[0]" or "row 3"
	Line int
}

// Where names the entry in messages, e.g. "row 3 (line 4)" or "tenants[2] (line 9)".
func (e Entry) Where() string { return fmt.Sprintf("%s (line %d)", e.Name, e.Line) }

// IsCSV says whether a --file is read as a CSV fleet.
func IsCSV(path string) bool { return strings.EqualFold(filepath.Ext(path), ".csv") }

// fleetDoc is the "tenants:" form of a YAML fleet.
type fleetDoc struct {
	Tenants []workflows.TenantSpec `yaml:"tenants"`
}

// ParseFleetYAML returns the fleet a YAML file holds, or nil (and no error)
// when it holds a single tenant spec, which ParseYAML then reads.
func ParseFleetYAML(name string, data []byte) (*Fleet, error) {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil || len(root.Content) == 0 {
		return nil, nil // empty or broken: ParseYAML says why
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		return nil, nil // several documents: ParseYAML says why
	}
	doc := root.Content[0]
	var items *yaml.Node
	prefix := ""
	switch doc.Kind {
	case yaml.SequenceNode:
		items = doc
	case yaml.MappingNode:
		for i := 0; i+1 < len(doc.Content); i += 2 {
			if doc.Content[i].Value == "tenants" {
				items, prefix = doc.Content[i+1], "tenants"
			}
		}
		if items == nil {
			return nil, nil // one tenant spec
		}
		var extra []Problem
		for i := 0; i+1 < len(doc.Content); i += 2 {
			if k := doc.Content[i]; k.Value != "tenants" {
				extra = append(extra, Problem{Line: k.Line, Field: text.Clip(k.Value), Message: "unknown field; a fleet document holds only tenants: [...]"})
			}
		}
		if len(extra) > 0 {
			return nil, problemsOf("invalid fleet file", name, extra)
		}
		if items.Kind != yaml.SequenceNode {
			return nil, problemsOf("invalid fleet file", name, []Problem{{Line: items.Line, Field: "tenants", Message: "must be a list of tenant specs"}})
		}
	default:
		return nil, nil
	}
	if len(items.Content) == 0 {
		return nil, errors.New("--file: the fleet holds no tenant spec")
	}

	// Decode the whole file at once so every problem comes with its line.
	var specs []workflows.TenantSpec
	var err error
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	if prefix == "" {
		err = strict.Decode(&specs)
	} else {
		var d fleetDoc
		err = strict.Decode(&d)
		specs = d.Tenants
	}
	f := &Fleet{File: name, idx: indexYAML(&root)}
	for i, spec := range specs {
		f.Entries = append(f.Entries, Entry{Spec: spec, Name: fmt.Sprintf("%s[%d]", prefix, i), Line: items.Content[i].Line})
	}
	if err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, problemsOf("invalid fleet file", name, []Problem{syntaxProblem(err)})
		}
		// yaml.v3 decodes what it can: every entry's other problems are
		// reported with the type errors, all at once.
		list := explainTypeErrors(f.idx, te)
		if len(specs) == len(items.Content) {
			typed := map[string]bool{} // "<entry>/<field>" with a type error
			for _, p := range list {
				typed[p.Entry+"/"+fieldRoot(p.Field)] = true
			}
			list = append(list, f.problems(func(e Entry, field string) bool {
				return typed[e.Name+"/"+fieldRoot(field)]
			})...)
		}
		return nil, problemsOf("invalid fleet file", name, list)
	}
	return f, nil
}

// Validate checks every spec and refuses two entries for the same tenant
// and domain (they would be one onboarding), and two domains of one tenant
// under one display name (the display name defaults to the domain): a
// configuration is found by its domain and renamed to the spec's name, so
// the two would rename each other's configuration at every run. Two tenants
// may use the same name. It lists every problem.
func (f *Fleet) Validate() error {
	return problemsOf(fmt.Sprintf("invalid fleet of %d tenants", len(f.Entries)), f.File, f.problems(nil))
}

// problems is Validate's list; skip leaves out a field of an entry already
// reported as unreadable.
func (f *Fleet) problems(skip func(e Entry, field string) bool) []Problem {
	var out []Problem
	first := map[string]string{}
	type named struct{ domain, where string }
	names := map[string]named{} // tenant and lower-case display name
	for _, e := range f.Entries {
		if ps := validationProblems(f.idx, e.Name, e.Line, e.Spec); len(ps) > 0 {
			for _, p := range ps {
				if skip == nil || !skip(e, p.Field) {
					out = append(out, p)
				}
			}
			continue
		}
		n := e.Spec.Normalized()
		id := workflows.OnboardWorkflowID(n.TenantID, n.Domain)
		if prev, dup := first[id]; dup {
			out = append(out, Problem{Line: e.Line, Entry: e.Name, Message: fmt.Sprintf("tenant %s domain %s is already in %s: one entry per tenant and domain", n.TenantID, n.Domain, prev)})
			continue
		}
		first[id] = e.Where()
		key := n.TenantID + "\x00" + strings.ToLower(n.DisplayName)
		if prev, dup := names[key]; dup {
			out = append(out, Problem{Line: e.Line, Entry: e.Name, Message: fmt.Sprintf("tenant %s domain %s: display name %q is already used by domain %s in %s: one display name per domain; set another displayName", n.TenantID, n.Domain, n.DisplayName, prev.domain, prev.where)})
			continue
		}
		names[key] = named{n.Domain, e.Where()}
	}
	return out
}
