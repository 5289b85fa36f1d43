package main

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/cloudsync/cloudsync/workflows"
)

// A fleet file holds many tenant specs:
//
//   - YAML, a list:            - {tenantId: ..., domain: ...}
//   - YAML, a document:        tenants: [{tenantId: ..., domain: ...}, ...]
//   - CSV (*.csv), a header row naming the columns (csvColumns), one tenant per row.
//
// A YAML file holding one mapping without "tenants" is the single-tenant spec
// it always was.

// fleetFile is a parsed fleet, in file order.
type fleetFile struct {
	entries []fleetEntry
}

// fleetEntry is one tenant of a fleet file; where names it in messages, e.g.
// "row 3 (line 4)" or "tenants[2] (line 9)".
type fleetEntry struct {
	spec  workflows.TenantSpec
	where string
}

// fleetError lists every problem of a fleet file, one per line, so all of them
// can be fixed in one go.
type fleetError struct {
	what     string
	problems []string
}

// maxFleetProblems bounds what a broken fleet prints.
const maxFleetProblems = 200

func (e *fleetError) Error() string {
	p := e.problems
	more := ""
	if len(p) > maxFleetProblems {
		more = fmt.Sprintf("\n  … and %d more", len(p)-maxFleetProblems)
		p = p[:maxFleetProblems]
	}
	return fmt.Sprintf("%s (%d %s):\n  %s%s", e.what, len(e.problems), plural(len(e.problems), "problem", "problems"), strings.Join(p, "\n  "), more)
}

func isCSV(path string) bool { return strings.EqualFold(filepath.Ext(path), ".csv") }

// parseFleetYAML returns the fleet a YAML file holds, or nil (and no error)
// when it holds a single tenant spec, which parseSpecYAML then reads as before.
func parseFleetYAML(data []byte) (*fleetFile, error) {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil || len(root.Content) == 0 {
		return nil, nil // empty or broken: parseSpecYAML says why
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		return nil, nil // several documents: parseSpecYAML says why
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
		var extra []string
		for i := 0; i+1 < len(doc.Content); i += 2 {
			if k := doc.Content[i]; k.Value != "tenants" {
				extra = append(extra, fmt.Sprintf("%s: unknown field (line %d); a fleet document holds only tenants: [...]", clip(k.Value), k.Line))
			}
		}
		if len(extra) > 0 {
			return nil, &fleetError{what: "invalid fleet file", problems: extra}
		}
		if items.Kind != yaml.SequenceNode {
			return nil, &fleetError{what: "invalid fleet file", problems: []string{fmt.Sprintf("tenants: must be a list of tenant specs (line %d)", items.Line)}}
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
	f := &fleetFile{}
	for i, spec := range specs {
		where := fmt.Sprintf("%s[%d] (line %d)", prefix, i, items.Content[i].Line)
		f.entries = append(f.entries, fleetEntry{spec: spec, where: where})
	}
	if err != nil {
		var sfe *specFileError
		if !errors.As(explainYAMLError(data, err), &sfe) {
			return nil, err
		}
		// yaml.v3 decodes what it can: every entry's other problems are
		// reported with the type errors, all at once.
		problems := sfe.problems
		if len(specs) == len(items.Content) {
			typed := map[string]bool{} // "<index>/<field>" with a type error
			for _, p := range problems {
				if m := fleetProblemRe.FindStringSubmatch(p); m != nil {
					typed[m[2]+"/"+m[3]] = true
				}
			}
			problems = append(problems, fleetProblems(f, func(i int, field string) bool {
				return typed[strconv.Itoa(i)+"/"+fieldRoot(field)]
			})...)
		}
		return nil, &fleetError{what: "invalid fleet file", problems: problems}
	}
	return f, nil
}

// fleetProblemRe finds the entry and field of a type error in a YAML fleet.
var fleetProblemRe = regexp.MustCompile(`^(tenants)?\[(\d+)\]\.([A-Za-z]+)`)

// fieldRoot is the top-level field of a validation field ("notifications.recipients[0]").
func fieldRoot(field string) string {
	if i := strings.IndexAny(field, ".["); i >= 0 {
		return field[:i]
	}
	return field
}

// fleetDoc is the "tenants:" form of a YAML fleet.
type fleetDoc struct {
	Tenants []workflows.TenantSpec `yaml:"tenants"`
}

// fleetItemRe is the fleet part of a YAML path ("tenants[3].", "[3].").
var fleetItemRe = regexp.MustCompile(`^(tenants)?\[\d+\]\.?`)

// specPath is the path inside one tenant spec of a YAML path in a fleet file.
func specPath(p string) string { return fleetItemRe.ReplaceAllString(p, "") }

// csvColumns are the columns a CSV fleet may have (tenantId and domain are
// required; the header names the ones present, in any order, any case).
var csvColumns = []string{"tenantId", "domain", "displayName", "passwordHashSync", "exchangeHybridWriteback", "notify", "recipients", "deleteThreshold", "startJobs"}

// parseFleetCSV reads a CSV fleet. Recipients are separated by ";";
// deleteThreshold is a number, "off", or empty for Graph's default (500);
// booleans are true/false, yes/no, 1/0 or empty (false; startJobs: true).
func parseFleetCSV(data []byte) (*fleetFile, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // spreadsheets write a BOM
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	r.Comment = '#'
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("--file: the CSV file is empty: it needs a header row (" + strings.Join(csvColumns, ",") + ") and one row per tenant")
	}
	if err != nil {
		return nil, &fleetError{what: "invalid CSV fleet file", problems: []string{csvProblem(err)}}
	}
	col := map[string]int{}
	var problems []string
	for i, h := range header {
		name, ok := csvColumn(h)
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("header: unknown column %q; known columns: %s", clip(strings.TrimSpace(h)), strings.Join(csvColumns, ", ")))
		case col[name] != 0:
			problems = append(problems, fmt.Sprintf("header: column %s appears twice", name))
		default:
			col[name] = i + 1 // 0 means absent
		}
	}
	for _, req := range []string{"tenantId", "domain"} {
		if col[req] == 0 {
			problems = append(problems, "header: column "+req+" is required")
		}
	}
	if len(problems) > 0 {
		return nil, &fleetError{what: "invalid CSV fleet file", problems: problems}
	}
	f := &fleetFile{}
	var badCells []map[string]bool // per entry: the spec fields whose cell could not be read
	for row := 1; ; row++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("row %d: %s", row, csvProblem(err)))
			var pe *csv.ParseError
			if errors.As(err, &pe) && !errors.Is(pe.Err, csv.ErrFieldCount) {
				break // the rest of the file cannot be trusted
			}
			continue
		}
		line, _ := r.FieldPos(0)
		where := fmt.Sprintf("row %d (line %d)", row, line)
		if len(rec) != len(header) {
			problems = append(problems, fmt.Sprintf("%s: has %d fields, the header has %d", where, len(rec), len(header)))
			continue
		}
		cell := func(name string) string {
			if i := col[name]; i > 0 {
				return strings.TrimSpace(rec[i-1])
			}
			return ""
		}
		spec, cellProblems := csvSpec(cell)
		bad := map[string]bool{}
		for _, p := range cellProblems {
			problems = append(problems, where+": "+p)
			col, _, _ := strings.Cut(p, ":")
			bad[csvFieldRoot(col)] = true
		}
		badCells = append(badCells, bad)
		f.entries = append(f.entries, fleetEntry{spec: spec, where: where})
	}
	if len(problems) > 0 {
		// Every row's other problems too, all at once.
		problems = append(problems, fleetProblems(f, func(i int, field string) bool { return badCells[i][fieldRoot(field)] })...)
		return nil, &fleetError{what: "invalid CSV fleet file", problems: problems}
	}
	if len(f.entries) == 0 {
		return nil, errors.New("--file: the CSV file has a header but no tenant row")
	}
	return f, nil
}

// csvFieldRoot is the spec field a CSV column fills.
func csvFieldRoot(col string) string {
	switch col {
	case "notify", "recipients":
		return "notifications"
	}
	return col
}

func csvColumn(h string) (string, bool) {
	h = strings.TrimSpace(h)
	for _, c := range csvColumns {
		if strings.EqualFold(c, h) {
			return c, true
		}
	}
	return "", false
}

func csvProblem(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Sprintf("%v (line %d, column %d)", pe.Err, pe.Line, pe.Column)
	}
	return err.Error()
}

// csvSpec builds one spec from a row's cells (by column name).
func csvSpec(cell func(string) string) (workflows.TenantSpec, []string) {
	var problems []string
	boolean := func(name string, def bool) bool {
		v := strings.ToLower(cell(name))
		switch v {
		case "":
			return def
		case "true", "yes", "y", "1":
			return true
		case "false", "no", "n", "0":
			return false
		}
		problems = append(problems, fmt.Sprintf("%s: must be true or false, got %q", name, clip(cell(name))))
		return def
	}
	s := workflows.TenantSpec{
		TenantID:                cell("tenantId"),
		Domain:                  cell("domain"),
		DisplayName:             cell("displayName"),
		PasswordHashSync:        boolean("passwordHashSync", false),
		ExchangeHybridWriteback: boolean("exchangeHybridWriteback", false),
	}
	s.Notifications.Enabled = boolean("notify", false)
	if r := cell("recipients"); r != "" {
		for _, a := range strings.Split(r, ";") {
			s.Notifications.Recipients = append(s.Notifications.Recipients, strings.TrimSpace(a))
		}
	}
	switch v := strings.ToLower(cell("deleteThreshold")); v {
	case "":
	case "off", "disabled", "none", "false":
		off := false
		s.DeleteThreshold.Enabled = &off
	default:
		n, err := strconv.Atoi(v)
		if err != nil {
			problems = append(problems, fmt.Sprintf("deleteThreshold: must be a whole number or off, got %q", clip(cell("deleteThreshold"))))
		} else {
			s.DeleteThreshold.Value = &n
		}
	}
	if cell("startJobs") != "" {
		start := boolean("startJobs", true)
		s.StartJobs = &start
	}
	return s, problems
}

// validateFleet checks every spec and refuses two entries for the same tenant
// and domain (they would be one onboarding), and two domains of one tenant
// under one display name (the display name defaults to the domain): a
// configuration is found by its domain and renamed to the spec's name, so
// the two would rename each other's configuration at every run. Two tenants
// may use the same name. It lists every problem.
func validateFleet(f *fleetFile) error {
	if problems := fleetProblems(f, nil); len(problems) > 0 {
		return &fleetError{what: fmt.Sprintf("invalid fleet of %d tenants", len(f.entries)), problems: problems}
	}
	return nil
}

// fleetProblems is validateFleet's list; skip leaves out a field of an entry
// (by index) already reported as unreadable.
func fleetProblems(f *fleetFile, skip func(i int, field string) bool) []string {
	var problems []string
	first := map[string]string{}
	type named struct{ domain, where string }
	names := map[string]named{} // tenant and lower-case display name
	for i, e := range f.entries {
		if err := e.spec.Validate(); err != nil {
			var ve *workflows.ValidationError
			if errors.As(err, &ve) {
				for _, fe := range ve.Errors {
					if skip != nil && skip(i, fe.Field) {
						continue
					}
					problems = append(problems, fmt.Sprintf("%s: %s: %s", e.where, fe.Field, fe.Problem))
				}
			} else {
				problems = append(problems, e.where+": "+err.Error())
			}
			continue
		}
		n := e.spec.Normalized()
		id := workflows.OnboardWorkflowID(n.TenantID, n.Domain)
		if prev, dup := first[id]; dup {
			problems = append(problems, fmt.Sprintf("%s: tenant %s domain %s is already in %s: one entry per tenant and domain", e.where, n.TenantID, n.Domain, prev))
			continue
		}
		first[id] = e.where
		key := n.TenantID + "\x00" + strings.ToLower(n.DisplayName)
		if prev, dup := names[key]; dup {
			problems = append(problems, fmt.Sprintf("%s: tenant %s domain %s: display name %q is already used by domain %s in %s: one display name per domain; set another displayName", e.where, n.TenantID, n.Domain, n.DisplayName, prev.domain, prev.where))
			continue
		}
		names[key] = named{n.Domain, e.where}
	}
	return problems
}
