package graph

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPatchCredentialDataAddsToBothMappingsOnly(t *testing.T) {
	in, err := os.ReadFile("testdata/schema-small.json")
	require.NoError(t, err)

	out, rep, err := PatchCredentialData(in)
	require.NoError(t, err)
	require.True(t, rep.Changed())
	require.ElementsMatch(t, []string{"PROVISION active directory USERS", "Provision Active Directory inetOrgPersons"}, rep.Added)
	require.Empty(t, rep.Missing)
	require.True(t, json.Valid(out))

	counts, err := countCredentialData(out)
	require.NoError(t, err)
	require.Equal(t, map[string]int{"PROVISION active directory USERS": 1, "Provision Active Directory inetOrgPersons": 1}, counts)

	// Every other byte survives: removing what we inserted gives the input back.
	stripped := strings.ReplaceAll(string(out), ","+credentialDataMapping, "")
	stripped = strings.ReplaceAll(stripped, credentialDataMapping, "")
	require.Equal(t, string(in), stripped)
	require.Contains(t, string(out), `"flowTypes": "Add, Update, Delete"`)
	require.Contains(t, string(out), `"name": null`)
	require.Contains(t, string(out), `2.50, 1e3`)
}

func TestPatchCredentialDataIsIdempotent(t *testing.T) {
	in, err := os.ReadFile("testdata/schema-small.json")
	require.NoError(t, err)
	once, _, err := PatchCredentialData(in)
	require.NoError(t, err)
	twice, rep, err := PatchCredentialData(once)
	require.NoError(t, err)
	require.False(t, rep.Changed())
	require.Len(t, rep.AlreadyPresent, 2)
	require.Equal(t, once, twice)
}

func TestPatchCredentialDataSkipsExistingMappingCaseInsensitively(t *testing.T) {
	in := []byte(`{"synchronizationRules":[{"objectMappings":[
		{"name":"Provision Active Directory users","attributeMappings":[{"targetAttributeName":"credentialdata","defaultValue":""}]},
		{"name":"Provision Active Directory inetOrgPersons"}]}]}`)
	out, rep, err := PatchCredentialData(in)
	require.NoError(t, err)
	require.Equal(t, []string{"Provision Active Directory users"}, rep.AlreadyPresent)
	require.Equal(t, []string{"Provision Active Directory inetOrgPersons"}, rep.Added)
	counts, err := countCredentialData(out)
	require.NoError(t, err)
	require.Equal(t, 1, counts["Provision Active Directory users"])
	require.Equal(t, 1, counts["Provision Active Directory inetOrgPersons"])
}

func TestPatchCredentialDataReportsMissingTargets(t *testing.T) {
	out, rep, err := PatchCredentialData([]byte(`{"synchronizationRules":[{"objectMappings":[{"name":"Provision Active Directory groups","attributeMappings":[]}]}]}`))
	require.NoError(t, err)
	require.False(t, rep.Changed())
	require.ElementsMatch(t, CredentialDataTargets, rep.Missing)
	require.JSONEq(t, `{"synchronizationRules":[{"objectMappings":[{"name":"Provision Active Directory groups","attributeMappings":[]}]}]}`, string(out))
}

func TestPatchCredentialDataRejectsNonObjects(t *testing.T) {
	for _, in := range []string{``, `[]`, `"x"`, `{"a":`, `null`} {
		_, _, err := PatchCredentialData([]byte(in))
		require.Error(t, err, "input %q", in)
	}
}

func TestDirectoryID(t *testing.T) {
	in, err := os.ReadFile("testdata/schema-small.json")
	require.NoError(t, err)
	id, err := DirectoryID(in, "active directory")
	require.NoError(t, err)
	require.Equal(t, "ba5b00eb-4c24-41a7-9d57-cd305d47d540", id)
	_, err = DirectoryID(in, "Nope")
	require.Error(t, err)
}

// FuzzPatchCredentialData: for any JSON object, the patch yields valid JSON,
// is idempotent, adds exactly one mapping per reported object mapping, and
// changes nothing else (the inserted text removed gives the input back).
func FuzzPatchCredentialData(f *testing.F) {
	seed, _ := os.ReadFile("testdata/schema-small.json")
	f.Add(seed)
	f.Add([]byte(`{"synchronizationRules":[{"objectMappings":[{"name":"Provision Active Directory users"}]}]}`))
	f.Add([]byte(`{"synchronizationRules":[{"objectMappings":[{}, {"name":"provision active directory inetorgpersons","attributeMappings":[ ]}]}]}`))
	f.Add([]byte(`{"synchronizationRules":"x","a":"\"}]"}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		out, rep, err := PatchCredentialData(in)
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("invalid JSON out of %q: %q", in, out)
		}
		again, rep2, err := PatchCredentialData(out)
		if err != nil || rep2.Changed() || !bytes.Equal(again, out) {
			t.Fatalf("not idempotent on %q: %v %+v", in, err, rep2)
		}
		if !rep.Changed() && !bytes.Equal(in, out) {
			t.Fatalf("unchanged report but bytes differ")
		}
		n := strings.Count(string(out), credentialDataMapping) - strings.Count(string(in), credentialDataMapping)
		// Duplicate keys can make one mapping hold two spans; count what we said.
		if n != len(rep.Added) {
			t.Fatalf("added %d mappings, reported %d", n, len(rep.Added))
		}
	})
}

// Removing the mappings the patch added gives the original bytes back: every
// other byte (unknown fields, flag enums with spaces, null names, number
// formats, whitespace) survives.
func TestRemoveCredentialDataUndoesThePatchByteForByte(t *testing.T) {
	in, err := os.ReadFile("testdata/schema-small.json")
	require.NoError(t, err)
	patched, _, err := PatchCredentialData(in)
	require.NoError(t, err)

	out, rep, err := RemoveCredentialData(patched)
	require.NoError(t, err)
	require.True(t, rep.Changed())
	require.ElementsMatch(t, []string{"PROVISION active directory USERS", "Provision Active Directory inetOrgPersons"}, rep.Removed)
	require.Empty(t, rep.Added)
	require.Empty(t, rep.Missing)
	require.Equal(t, string(in), string(out))
	counts, err := countCredentialData(out)
	require.NoError(t, err)
	require.Equal(t, map[string]int{"PROVISION active directory USERS": 0, "Provision Active Directory inetOrgPersons": 0}, counts)
}

func TestRemoveCredentialDataIsIdempotent(t *testing.T) {
	in, err := os.ReadFile("testdata/schema-small.json")
	require.NoError(t, err)
	// Nothing to remove: the very same bytes, no change reported.
	out, rep, err := RemoveCredentialData(in)
	require.NoError(t, err)
	require.False(t, rep.Changed())
	require.Empty(t, rep.Removed)
	require.Equal(t, in, out)

	patched, _, err := PatchCredentialData(in)
	require.NoError(t, err)
	once, _, err := RemoveCredentialData(patched)
	require.NoError(t, err)
	twice, rep, err := RemoveCredentialData(once)
	require.NoError(t, err)
	require.False(t, rep.Changed())
	require.Equal(t, once, twice)
}

// Only CredentialData mappings of the two target object mappings go, wherever
// they stand in their array and however many there are; the other attribute
// mappings, and a CredentialData mapping of another object mapping, stay.
func TestRemoveCredentialDataRemovesOnlyCredentialDataMappings(t *testing.T) {
	in := []byte(`{"synchronizationRules":[{"objectMappings":[
  {"name":"Provision Active Directory users","attributeMappings":[
    {"targetAttributeName":"credentialdata","defaultValue":""},
    {"targetAttributeName":"displayName","flowTypes":"Add, Update, Delete"},
    {"targetAttributeName":"CredentialData"},
    {"targetAttributeName":"mail"},
    {"targetAttributeName":"CREDENTIALDATA"}
  ]},
  {"name":"Provision Active Directory groups","attributeMappings":[{"targetAttributeName":"CredentialData"}]},
  {"name":"provision active directory inetorgpersons","attributeMappings":[ {"targetAttributeName":"CredentialData"} , {"targetAttributeName":"CredentialData"} ]},
  {"name":null,"attributeMappings":[{"targetAttributeName":"CredentialData"}]}
]}],"version":"2.0"}`)
	want := `{"synchronizationRules":[{"objectMappings":[
  {"name":"Provision Active Directory users","attributeMappings":[
    {"targetAttributeName":"displayName","flowTypes":"Add, Update, Delete"},
    {"targetAttributeName":"mail"}
  ]},
  {"name":"Provision Active Directory groups","attributeMappings":[{"targetAttributeName":"CredentialData"}]},
  {"name":"provision active directory inetorgpersons","attributeMappings":[  ]},
  {"name":null,"attributeMappings":[{"targetAttributeName":"CredentialData"}]}
]}],"version":"2.0"}`
	out, rep, err := RemoveCredentialData(in)
	require.NoError(t, err)
	require.Equal(t, want, string(out))
	require.ElementsMatch(t, []string{"Provision Active Directory users", "provision active directory inetorgpersons"}, rep.Removed)
	require.True(t, json.Valid(out))

	// Strip and compare: decoding both and dropping the CredentialData
	// mappings of the targets from the input gives the output.
	var a, b map[string]any
	require.NoError(t, json.Unmarshal(in, &a))
	require.NoError(t, json.Unmarshal(out, &b))
	for _, m := range a["synchronizationRules"].([]any)[0].(map[string]any)["objectMappings"].([]any) {
		mm := m.(map[string]any)
		name, _ := mm["name"].(string)
		if !strings.EqualFold(name, CredentialDataTargets[0]) && !strings.EqualFold(name, CredentialDataTargets[1]) {
			continue
		}
		kept := []any{}
		for _, x := range mm["attributeMappings"].([]any) {
			if !strings.EqualFold(x.(map[string]any)["targetAttributeName"].(string), "CredentialData") {
				kept = append(kept, x)
			}
		}
		mm["attributeMappings"] = kept
	}
	require.Equal(t, a, b)
}

func TestRemoveCredentialDataReportsMissingTargetsAndRejectsNonObjects(t *testing.T) {
	in := []byte(`{"synchronizationRules":[{"objectMappings":[{"name":"Provision Active Directory groups","attributeMappings":[{"targetAttributeName":"CredentialData"}]}]}]}`)
	out, rep, err := RemoveCredentialData(in)
	require.NoError(t, err)
	require.False(t, rep.Changed())
	require.ElementsMatch(t, CredentialDataTargets, rep.Missing)
	require.Equal(t, in, out)
	for _, bad := range []string{``, `[]`, `"x"`, `{"a":`, `null`} {
		_, _, err := RemoveCredentialData([]byte(bad))
		require.Error(t, err, "input %q", bad)
	}
}

// FuzzRemoveCredentialData: for any JSON object, the removal yields valid
// JSON without CredentialData in the targets, is idempotent, reports a change
// exactly when bytes changed, and undoes a patch that appended to existing
// arrays byte for byte.
func FuzzRemoveCredentialData(f *testing.F) {
	seed, _ := os.ReadFile("testdata/schema-small.json")
	f.Add(seed)
	patched, _, _ := PatchCredentialData(seed)
	f.Add(patched)
	f.Add([]byte(`{"synchronizationRules":[{"objectMappings":[{"name":"Provision Active Directory users","attributeMappings":[{"targetAttributeName":"CredentialData"},{"targetAttributeName":"x"}, {"targetAttributeName":"credentialData"}]}]}]}`))
	f.Add([]byte(`{"synchronizationRules":"x","a":"\"}]"}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		out, rep, err := RemoveCredentialData(in)
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("invalid JSON out of %q: %q", in, out)
		}
		if rep.Changed() == bytes.Equal(in, out) {
			t.Fatalf("report %+v does not match the bytes", rep)
		}
		again, rep2, err := RemoveCredentialData(out)
		if err != nil || rep2.Changed() || !bytes.Equal(again, out) {
			t.Fatalf("not idempotent on %q: %v %+v", in, err, rep2)
		}
		counts, err := countCredentialData(out)
		if err != nil {
			t.Fatal(err)
		}
		for name, n := range counts {
			if n != 0 {
				t.Fatalf("%d CredentialData mappings left in %q of %q", n, name, out)
			}
		}
		// A patch of the cleaned schema that only appended to existing arrays
		// is undone exactly.
		p, prep, err := PatchCredentialData(out)
		if err == nil && prep.Changed() && !strings.Contains(string(p), `"attributeMappings":[`+credentialDataMapping+`]`) {
			back, _, err := RemoveCredentialData(p)
			if err != nil || !bytes.Equal(back, out) {
				t.Fatalf("patch then remove changed %q into %q", out, back)
			}
		}
	})
}

// countCredentialData counts the CredentialData mappings per target object
// mapping (name as written in the schema), with the patch's own JSON walk.
func countCredentialData(schema []byte) (map[string]int, error) {
	out := map[string]int{}
	_, err := rewriteTargets(schema, &SchemaPatch{}, func(name string, _ span, mm map[string]span) ([]edit, error) {
		n := 0
		for _, a := range elementsOf(schema, mm["attributeMappings"]) {
			if isCredentialData(schema, a) {
				n++
			}
		}
		out[name] += n
		return nil, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
