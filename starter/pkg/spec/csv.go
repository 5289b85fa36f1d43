package spec

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/cloudsync/cloudsync/starter/pkg/text"
	"github.com/cloudsync/cloudsync/workflows"
)

// CSVColumns are the columns a CSV fleet may have (tenantId and domain are
// required; the header names the ones present, in any order, any case).
var CSVColumns = []string{"tenantId", "domain", "displayName", "passwordHashSync", "exchangeHybridWriteback", "notify", "recipients", "deleteThreshold", "startJobs"}

const invalidCSV = "invalid CSV fleet file"

// ParseFleetCSV reads a CSV fleet. Recipients are separated by ";";
// deleteThreshold is a number, "off", or empty for Graph's default (500);
// booleans are true/false, yes/no, 1/0 or empty (false; startJobs: true).
func ParseFleetCSV(name string, data []byte) (*Fleet, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // spreadsheets write a BOM
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	r.Comment = '#'
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("--file: the CSV file is empty: it needs a header row (" + strings.Join(CSVColumns, ",") + ") and one row per tenant")
	}
	if err != nil {
		return nil, problemsOf(invalidCSV, name, []Problem{csvProblem(err, "")})
	}
	headerLine, _ := r.FieldPos(0)
	col := map[string]int{}
	var list []Problem
	headerProblem := func(format string, a ...any) {
		list = append(list, Problem{Line: headerLine, Field: "header", Message: fmt.Sprintf(format, a...)})
	}
	for i, h := range header {
		name, ok := csvColumn(h)
		switch {
		case !ok:
			headerProblem("unknown column %q; known columns: %s", text.Clip(strings.TrimSpace(h)), strings.Join(CSVColumns, ", "))
		case col[name] != 0:
			headerProblem("column %s appears twice", name)
		default:
			col[name] = i + 1 // 0 means absent
		}
	}
	for _, req := range []string{"tenantId", "domain"} {
		if col[req] == 0 {
			headerProblem("column %s is required", req)
		}
	}
	if len(list) > 0 {
		return nil, problemsOf(invalidCSV, name, list)
	}
	f := &Fleet{File: name}
	var badCells []map[string]bool // per entry: the spec fields whose cell could not be read
	for row := 1; ; row++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			list = append(list, csvProblem(err, fmt.Sprintf("row %d", row)))
			var pe *csv.ParseError
			if errors.As(err, &pe) && !errors.Is(pe.Err, csv.ErrFieldCount) {
				break // the rest of the file cannot be trusted
			}
			continue
		}
		line, _ := r.FieldPos(0)
		entry := Entry{Name: fmt.Sprintf("row %d", row), Line: line}
		if len(rec) != len(header) {
			list = append(list, Problem{Line: line, Entry: entry.Name, Message: fmt.Sprintf("has %d fields, the header has %d", len(rec), len(header))})
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
			p.Line, p.Entry = line, entry.Name
			list = append(list, p)
			bad[csvFieldRoot(p.Field)] = true
		}
		badCells = append(badCells, bad)
		entry.Spec = spec
		f.Entries = append(f.Entries, entry)
	}
	if len(list) > 0 {
		// Every row's other problems too, all at once.
		i := 0
		index := map[string]int{}
		for _, e := range f.Entries {
			index[e.Name] = i
			i++
		}
		list = append(list, f.problems(func(e Entry, field string) bool { return badCells[index[e.Name]][fieldRoot(field)] })...)
		return nil, problemsOf(invalidCSV, name, list)
	}
	if len(f.Entries) == 0 {
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
	for _, c := range CSVColumns {
		if strings.EqualFold(c, h) {
			return c, true
		}
	}
	return "", false
}

func csvProblem(err error, entry string) Problem {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return Problem{Line: pe.Line, Entry: entry, Message: fmt.Sprintf("%v (column %d)", pe.Err, pe.Column)}
	}
	return Problem{Entry: entry, Message: err.Error()}
}

// csvSpec builds one spec from a row's cells (by column name).
func csvSpec(cell func(string) string) (workflows.TenantSpec, []Problem) {
	var problems []Problem
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
		problems = append(problems, Problem{Field: name, Message: fmt.Sprintf("must be true or false, got %q", text.Clip(cell(name)))})
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
			problems = append(problems, Problem{Field: "deleteThreshold", Message: fmt.Sprintf("must be a whole number or off, got %q", text.Clip(cell("deleteThreshold")))})
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
