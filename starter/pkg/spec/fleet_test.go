package spec

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudsync/cloudsync/workflows"
)

const (
	tenant1 = "11111111-2222-3333-4444-555555555555"
	tenant2 = "22222222-3333-4444-5555-666666666666"
	tenant3 = "33333333-4444-5555-6666-777777777777"
)

func fleetFrom(t *testing.T, name, content string) (*Fleet, error) {
	t.Helper()
	sf, changed := parseFlags(t, "--file", name)
	s, fleet, err := Build(sf, changed, func(string) ([]byte, error) { return []byte(content), nil })
	if err == nil && fleet == nil {
		t.Fatalf("%s: parsed as one spec %+v, not a fleet", name, s)
	}
	return fleet, err
}

func specsOf(f *Fleet) []workflows.TenantSpec {
	var out []workflows.TenantSpec
	for _, e := range f.Entries {
		out = append(out, e.Spec)
	}
	return out
}

// The three fleet forms of the examples describe the same fleet.
func TestFleetExamplesAgree(t *testing.T) {
	want := []workflows.TenantSpec{
		{TenantID: tenant1, Domain: "contoso.com", PasswordHashSync: true, ExchangeHybridWriteback: true,
			Notifications: workflows.Notifications{Enabled: true, Recipients: []string{"admin@contoso.com"}}},
		{TenantID: tenant2, Domain: "corp.fabrikam.com", PasswordHashSync: true, DeleteThreshold: workflows.DeleteThreshold{Value: ptr(200)}},
		{TenantID: tenant3, Domain: "tailspintoys.com", StartJobs: ptr(false)},
	}
	yamlDoc, err := os.ReadFile("../../../examples/fleet.yaml")
	require.NoError(t, err)
	f, err := fleetFrom(t, "fleet.yaml", string(yamlDoc))
	require.NoError(t, err)
	assert.Equal(t, want, specsOf(f))
	assert.Equal(t, "tenants[1] (line 9)", f.Entries[1].Where())
	require.NoError(t, f.Validate())

	// The bare list form.
	var list strings.Builder
	for _, line := range strings.Split(string(yamlDoc), "\n") {
		if strings.HasPrefix(line, "  ") {
			list.WriteString(strings.TrimPrefix(line, "  ") + "\n")
		}
	}
	f, err = fleetFrom(t, "fleet.yml", list.String())
	require.NoError(t, err)
	assert.Equal(t, want, specsOf(f))
	assert.Equal(t, "[0] (line 1)", f.Entries[0].Where())

	csvDoc, err := os.ReadFile("../../../examples/fleet.csv")
	require.NoError(t, err)
	f, err = fleetFrom(t, "fleet.CSV", string(csvDoc))
	require.NoError(t, err)
	got := specsOf(f)
	// The CSV example spells out a bit more than the YAML one.
	want[0].Notifications.Recipients = append(want[0].Notifications.Recipients, "ops@contoso.com")
	want[1].DisplayName = "Fabrikam corp"
	want[2].DeleteThreshold.Enabled = ptr(false)
	assert.Equal(t, want, got)
	assert.Equal(t, "row 2 (line 3)", f.Entries[1].Where())
	require.NoError(t, f.Validate())
}

// A YAML file with one mapping is still one tenant spec.
func TestSingleSpecFileIsNotAFleet(t *testing.T) {
	sf, changed := parseFlags(t, "--file", "tenant.yaml")
	s, fleet, err := Build(sf, changed, func(string) ([]byte, error) {
		return []byte("tenantId: " + tenant1 + "\ndomain: contoso.com\n"), nil
	})
	require.NoError(t, err)
	assert.Nil(t, fleet)
	assert.Equal(t, tenant1, s.TenantID)

	// buildSpec (one tenant) refuses a fleet.
	_, err = buildSpec(sf, changed, func(string) ([]byte, error) {
		return []byte("- tenantId: " + tenant1 + "\n  domain: contoso.com\n"), nil
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "holds a fleet of 1 tenant specs")
}

func TestFleetYAMLProblemsNameTheEntry(t *testing.T) {
	_, err := fleetFrom(t, "f.yaml", `tenants:
  - tenantId: `+tenant1+`
    domain: contoso.com
  - tenantId: `+tenant2+`
    domian: fabrikam.com
  - tenantId: `+tenant3+`
    deleteThreshold: {value: lots}
`)
	require.Error(t, err)
	msg := err.Error()
	// The type errors and unknown fields, and every entry's other problems
	// (here the missing domains), all at once.
	assert.Contains(t, msg, "invalid fleet file (4 problems)")
	assert.Contains(t, msg, "f.yaml:5: tenants[1]: domian: unknown field; known fields in tenants[1]: deleteThreshold, displayName, domain,")
	assert.Contains(t, msg, `f.yaml:7: tenants[2]: deleteThreshold.value: must be a whole number, got "lots"`)
	assert.Contains(t, msg, "f.yaml:4: tenants[1]: domain: is required")
	assert.Contains(t, msg, "f.yaml:6: tenants[2]: domain: is required")
	assert.NotContains(t, msg, "deleteThreshold.value: is", "a field with a type error is not reported twice")

	_, err = fleetFrom(t, "f.yaml", "tenants:\n  - tenantId: "+tenant1+"\n    domain: contoso.com\nrate: 5\n")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "f.yaml:4: rate: unknown field; a fleet document holds only tenants: [...]")

	_, err = fleetFrom(t, "f.yaml", "tenants: []\n")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the fleet holds no tenant spec")

	_, err = fleetFrom(t, "f.yaml", "tenants: "+tenant1+"\n")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "f.yaml:1: tenants: must be a list of tenant specs")
}

func TestFleetCSVProblemsNameRowAndField(t *testing.T) {
	_, err := fleetFrom(t, "f.csv", "tenantId,domain,passwordHashSync,deleteThreshold,color\n")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `header: unknown column "color"; known columns: tenantId, domain,`)

	_, err = fleetFrom(t, "f.csv", "domain,notify\ncontoso.com,true\n")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "header: column tenantId is required")

	_, err = fleetFrom(t, "f.csv", strings.Join([]string{
		"TenantID, Domain, passwordHashSync, deleteThreshold, startJobs",
		tenant1 + ",contoso.com,maybe,500,",
		tenant2 + ",fabrikam.com,true,many,no",
		tenant3 + ",tailspin.com,true",
	}, "\n")+"\n")
	require.Error(t, err)
	msg := err.Error()
	assert.Contains(t, msg, "invalid CSV fleet file (3 problems)")
	assert.Contains(t, msg, `f.csv:2: row 1: passwordHashSync: must be true or false, got "maybe"`)
	assert.Contains(t, msg, `f.csv:3: row 2: deleteThreshold: must be a whole number or off, got "many"`)
	assert.Contains(t, msg, "f.csv:4: row 3: has 3 fields, the header has 5")

	_, err = fleetFrom(t, "f.csv", "tenantId,domain\n")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "a header but no tenant row")

	// Errors in several rows, of both kinds: every one at once.
	_, err = fleetFrom(t, "f.csv", strings.Join([]string{
		"tenantId,domain,passwordHashSync,deleteThreshold",
		tenant1 + ",contoso.com,maybe,10",
		tenant2 + ",fabrikam.com,true,abc",
		"nope,x,true,5",
		tenant3 + ",tailspin.com,true,0",
	}, "\n")+"\n")
	require.Error(t, err)
	msg = err.Error()
	assert.Contains(t, msg, "invalid CSV fleet file (5 problems)", msg)
	assert.Contains(t, msg, `f.csv:2: row 1: passwordHashSync: must be true or false, got "maybe"`)
	assert.Contains(t, msg, `f.csv:3: row 2: deleteThreshold: must be a whole number or off, got "abc"`)
	assert.Contains(t, msg, `f.csv:4: row 3: tenantId: "nope" is not a GUID`)
	assert.Contains(t, msg, `f.csv:4: row 3: domain: "x" is not a fully qualified domain name`)
	assert.Contains(t, msg, `f.csv:5: row 4: deleteThreshold.value:`)
}

// Every spec is validated before anything starts; each problem names its row
// and field, and a tenant and domain listed twice is refused.
func TestValidateFleetListsEveryProblem(t *testing.T) {
	f, err := fleetFrom(t, "f.csv", strings.Join([]string{
		"tenantId,domain,notify,recipients",
		tenant1 + ",contoso.com,,",
		"not-a-guid,contoso.com,,",
		tenant2 + ",fabrikam,true,",
		strings.ToUpper(tenant1) + ",Contoso.com.,,",
		tenant3 + ",tailspin.com,true,ops@tailspin.com;bad-address",
	}, "\n"))
	require.NoError(t, err)
	err = f.Validate()
	require.Error(t, err)
	msg := err.Error()
	assert.Contains(t, msg, "invalid fleet of 5 tenants (5 problems)")
	assert.Contains(t, msg, "f.csv:3: row 2: tenantId: \"not-a-guid\" is not a GUID")
	assert.Contains(t, msg, "f.csv:4: row 3: domain: \"fabrikam\" is not a fully qualified domain name")
	assert.Contains(t, msg, "f.csv:4: row 3: notifications.recipients: is empty but notifications are enabled")
	assert.Contains(t, msg, "f.csv:5: row 4: tenant "+tenant1+" domain contoso.com is already in row 1 (line 2)")
	assert.Contains(t, msg, `f.csv:6: row 5: notifications.recipients[1]: "bad-address" is not an email address`)
}

// A configuration is identified by its domain and renamed to the spec's
// display name, so two domains of one tenant under one display name (which
// defaults to the domain) would rename each other's: refused, row by row,
// before anything starts. Two tenants may share a name.
func TestFleetRefusesTwoDomainsUnderOneDisplayName(t *testing.T) {
	f, err := fleetFrom(t, "f.csv", strings.Join([]string{
		"tenantId,domain,displayName",
		tenant1 + ",contoso.com,Contoso sync",
		tenant1 + ",corp.contoso.com,contoso SYNC",
		tenant2 + ",fabrikam.com,Contoso sync", // another tenant: fine
		tenant2 + ",corp.fabrikam.com,",
		tenant2 + ",eu.fabrikam.com,corp.fabrikam.com", // the other row's default name
		tenant3 + ",tailspin.com,tailspin",
		tenant3 + ",eu.tailspin.com,eu tailspin",
	}, "\n"))
	require.NoError(t, err)
	err = f.Validate()
	require.Error(t, err)
	msg := err.Error()
	assert.Contains(t, msg, "invalid fleet of 7 tenants (2 problems)")
	assert.Contains(t, msg, `f.csv:3: row 2: tenant `+tenant1+` domain corp.contoso.com: display name "contoso SYNC" is already used by domain contoso.com in row 1 (line 2)`)
	assert.Contains(t, msg, `f.csv:6: row 5: tenant `+tenant2+` domain eu.fabrikam.com: display name "corp.fabrikam.com" is already used by domain corp.fabrikam.com in row 4 (line 5)`)
	assert.NotContains(t, msg, "row 3")
	assert.NotContains(t, msg, "tailspin")
}
