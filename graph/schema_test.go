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

	counts, err := CountCredentialData(out)
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
	counts, err := CountCredentialData(out)
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
