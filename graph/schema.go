package graph

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// CredentialDataTargets are the object mappings that must carry the password
// hash (matched case-insensitively).
var CredentialDataTargets = []string{"Provision Active Directory users", "Provision Active Directory inetOrgPersons"}

// credentialDataMapping is the attribute mapping that turns on password hash
// sync (REFERENCE.md, "PHS mapping").
const credentialDataMapping = `{"defaultValue":null,"exportMissingReferences":false,"flowBehavior":"FlowWhenChanged","flowType":"Always","matchingPriority":0,"targetAttributeName":"CredentialData","source":{"expression":"[PasswordHash]","name":"PasswordHash","type":"Attribute","parameters":[]}}`

// SchemaPatch reports what PatchCredentialData or RemoveCredentialData did.
type SchemaPatch struct {
	Added          []string // object mappings that received the mapping
	AlreadyPresent []string // object mappings that already target CredentialData
	Removed        []string // object mappings whose CredentialData mapping(s) were removed
	Missing        []string // targets not found in the schema
}

// Changed reports whether the schema must be written back.
func (p SchemaPatch) Changed() bool { return len(p.Added) > 0 || len(p.Removed) > 0 }

// ErrNotSchema is returned for input that is not a JSON object.
var ErrNotSchema = errors.New("schema is not a JSON object")

// PatchCredentialData adds the CredentialData mapping to the users and
// inetOrgPersons object mappings of every synchronization rule. It splices
// bytes instead of decoding and re-encoding, so every other byte survives:
// unknown fields, "Add, Update, Delete" with spaces, null names, key order,
// number formats, whitespace. A mapping already targeting CredentialData is
// left alone, so the patch is idempotent.
func PatchCredentialData(schema []byte) ([]byte, SchemaPatch, error) {
	var rep SchemaPatch
	out, err := rewriteTargets(schema, &rep, func(name string, mapping span, mm map[string]span) ([]edit, error) {
		attrs, hasAttrs := mm["attributeMappings"]
		var e edit
		switch {
		case hasAttrs && schema[attrs.start] == '[':
			els := elementsOf(schema, attrs)
			if hasCredentialData(schema, els) {
				rep.AlreadyPresent = append(rep.AlreadyPresent, name)
				return nil, nil
			}
			sep := ","
			if len(els) == 0 {
				sep = ""
			}
			e = insertion(schema, attrs.end-1, sep+credentialDataMapping)
		case !hasAttrs:
			sep := ","
			if len(mm) == 0 {
				sep = ""
			}
			e = insertion(schema, mapping.end-1, sep+`"attributeMappings":[`+credentialDataMapping+`]`)
		default:
			return nil, fmt.Errorf("object mapping %q: attributeMappings is not an array", name)
		}
		rep.Added = append(rep.Added, name)
		return []edit{e}, nil
	})
	return out, rep, err
}

// RemoveCredentialData removes every attribute mapping targeting
// CredentialData from the users and inetOrgPersons object mappings of every
// synchronization rule (password hash sync turned off), and nothing else: like
// PatchCredentialData it cuts bytes out instead of re-encoding, so every other
// byte survives. A mapping it removes takes its separating comma with it: the
// one before it, or, for the first element of an array, the one after it
// (with the whitespace up to the next element). So removing what
// PatchCredentialData appended gives the original bytes back. CredentialData
// mappings of other object mappings are left alone. Idempotent: a schema
// without any is returned as is.
func RemoveCredentialData(schema []byte) ([]byte, SchemaPatch, error) {
	var rep SchemaPatch
	out, err := rewriteTargets(schema, &rep, func(name string, _ span, mm map[string]span) ([]edit, error) {
		cuts := removals(schema, elementsOf(schema, mm["attributeMappings"]))
		if len(cuts) > 0 {
			rep.Removed = append(rep.Removed, name)
		}
		return cuts, nil
	})
	return out, rep, err
}

// rewriteTargets is the walk both patches share: it calls edits, in document
// order, for every object mapping of every synchronization rule whose name is
// one of CredentialDataTargets (with the name as written, the mapping's span
// and its members), records in rep.Missing the targets found nowhere, and
// returns the schema with all the edits applied. Rules and mappings that are
// not objects are skipped: nothing of ours to patch there. It stops at the
// first error, returning nil.
func rewriteTargets(schema []byte, rep *SchemaPatch, edits func(name string, mapping span, mm map[string]span) ([]edit, error)) ([]byte, error) {
	if !json.Valid(schema) {
		return nil, ErrNotSchema
	}
	root, err := members(schema, skipWS(schema, 0))
	if err != nil {
		return nil, err
	}
	var all []edit
	found := map[string]bool{}
	for _, rule := range elementsOf(schema, root["synchronizationRules"]) {
		rm, err := members(schema, rule.start)
		if err != nil {
			continue
		}
		for _, mapping := range elementsOf(schema, rm["objectMappings"]) {
			mm, err := members(schema, mapping.start)
			if err != nil {
				continue
			}
			name, ok := targetName(schema, mm["name"])
			if !ok {
				continue
			}
			found[strings.ToLower(name)] = true
			e, err := edits(name, mapping, mm)
			if err != nil {
				return nil, err
			}
			all = append(all, e...)
		}
	}
	for _, t := range CredentialDataTargets {
		if !found[strings.ToLower(t)] {
			rep.Missing = append(rep.Missing, t)
		}
	}
	return splice(schema, all), nil
}

// edit replaces the bytes of span with text: an insertion has an empty span,
// a cut an empty text.
type edit struct {
	span
	text string
}

// insertion inserts text before the closing bracket at i, after any whitespace
// that precedes it.
func insertion(b []byte, i int, text string) edit {
	for i > 0 && isWS(b[i-1]) {
		i--
	}
	return edit{span{i, i}, text}
}

// splice applies edits to a copy of b; b itself when there are none. Edits
// never overlap (spans of different arrays are apart, and removals keeps
// those of one array apart), so applying them from the end keeps earlier
// offsets valid.
func splice(b []byte, edits []edit) []byte {
	if len(edits) == 0 {
		return b
	}
	sort.Slice(edits, func(i, j int) bool { return edits[i].start > edits[j].start })
	out := append([]byte(nil), b...)
	for _, e := range edits {
		out = append(out[:e.start], append([]byte(e.text), out[e.end:]...)...)
	}
	return out
}

// removals gives the byte ranges that remove an array's CredentialData
// elements with their separators, without overlapping: the leading run of
// removed elements up to the first kept one, and every later removed element
// with the comma (and whitespace) before it.
func removals(b []byte, els []span) []edit {
	var drop []bool
	some := false
	for _, e := range els {
		d := isCredentialData(b, e)
		drop = append(drop, d)
		some = some || d
	}
	if !some {
		return nil
	}
	first := -1 // the first kept element
	for i, d := range drop {
		if !d {
			first = i
			break
		}
	}
	if first < 0 {
		return []edit{{span: span{els[0].start, els[len(els)-1].end}}}
	}
	var out []edit
	if first > 0 {
		out = append(out, edit{span: span{els[0].start, els[first].start}})
	}
	for i := first + 1; i < len(els); i++ {
		if drop[i] {
			out = append(out, edit{span: span{els[i-1].end, els[i].end}})
		}
	}
	return out
}

// DirectoryID returns the id of the schema directory with the given name
// (e.g. "Active Directory"), for discover.
func DirectoryID(schema []byte, name string) (string, error) {
	var s struct {
		Directories []struct {
			ID   string  `json:"id"`
			Name *string `json:"name"`
		} `json:"directories"`
	}
	if err := json.Unmarshal(schema, &s); err != nil {
		return "", ErrNotSchema
	}
	for _, d := range s.Directories {
		if d.Name != nil && strings.EqualFold(*d.Name, name) {
			return d.ID, nil
		}
	}
	return "", fmt.Errorf("the schema has no directory named %q", name)
}

func targetName(b []byte, v span) (string, bool) {
	if v.end == 0 {
		return "", false
	}
	var name *string // null names exist in real schemas
	if json.Unmarshal(b[v.start:v.end], &name) != nil || name == nil {
		return "", false
	}
	for _, t := range CredentialDataTargets {
		if strings.EqualFold(*name, t) {
			return *name, true
		}
	}
	return "", false
}

func hasCredentialData(b []byte, els []span) bool {
	for _, e := range els {
		if isCredentialData(b, e) {
			return true
		}
	}
	return false
}

func isCredentialData(b []byte, e span) bool {
	m, err := members(b, e.start)
	if err != nil {
		return false
	}
	t, ok := m["targetAttributeName"]
	if !ok {
		return false
	}
	var s *string
	return json.Unmarshal(b[t.start:t.end], &s) == nil && s != nil && strings.EqualFold(*s, "CredentialData")
}

// A minimal scanner over valid JSON that reports byte spans of values.

type span struct{ start, end int } // [start, end) of a value; zero when absent

func isWS(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipWS(b []byte, i int) int {
	for i < len(b) && isWS(b[i]) {
		i++
	}
	return i
}

// skipValue returns the end of the value starting at i (b is valid JSON).
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		i++
		for i < len(b) {
			switch b[i] {
			case '\\':
				i += 2
				continue
			case '"':
				return i + 1
			}
			i++
		}
		return i
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipValue(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	default: // number, true, false, null
		for i < len(b) && !isWS(b[i]) && b[i] != ',' && b[i] != '}' && b[i] != ']' {
			i++
		}
		return i
	}
}

// members maps the keys of the object starting at i to their value spans. With
// duplicate keys the last wins, as in encoding/json.
func members(b []byte, i int) (map[string]span, error) {
	if i >= len(b) || b[i] != '{' {
		return nil, ErrNotSchema
	}
	out := map[string]span{}
	i = skipWS(b, i+1)
	for i < len(b) && b[i] != '}' {
		kEnd := skipValue(b, i)
		var key string
		if err := json.Unmarshal(b[i:kEnd], &key); err != nil {
			return nil, err
		}
		i = skipWS(b, kEnd)
		i = skipWS(b, i+1) // ':'
		vEnd := skipValue(b, i)
		out[key] = span{i, vEnd}
		i = skipWS(b, vEnd)
		if i < len(b) && b[i] == ',' {
			i = skipWS(b, i+1)
		}
	}
	return out, nil
}

// elementsOf lists the element spans of an array value; empty for non-arrays.
func elementsOf(b []byte, v span) []span {
	if v.end == 0 || b[v.start] != '[' {
		return nil
	}
	var out []span
	i := skipWS(b, v.start+1)
	for i < len(b) && b[i] != ']' {
		end := skipValue(b, i)
		out = append(out, span{i, end})
		i = skipWS(b, end)
		if i < len(b) && b[i] == ',' {
			i = skipWS(b, i+1)
		}
	}
	return out
}
