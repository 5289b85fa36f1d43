package spec

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudsync/cloudsync/workflows"
)

const (
	goodTenant = "11111111-2222-3333-4444-555555555555"
	goodDomain = "contoso.com"
)

func ptr[T any](v T) *T { return &v }

// parseFlags runs the onboard flag set over args and returns what buildSpec gets.
func parseFlags(t *testing.T, args ...string) (Flags, func(string) bool) {
	t.Helper()
	var sf Flags
	fs := pflag.NewFlagSet("onboard", pflag.ContinueOnError)
	sf.Register(fs)
	require.NoError(t, fs.Parse(args))
	return sf, fs.Changed
}

func noFile(string) ([]byte, error) { return nil, errors.New("no file expected") }

func TestBuildSpecFromFlags(t *testing.T) {
	sf, changed := parseFlags(t,
		"--tenant-id", goodTenant, "--domain", "Contoso.com", "--display-name", "Contoso",
		"--password-hash-sync", "--exchange-writeback", "--notify",
		"--recipient", "admin@contoso.com", "--recipient", "a@contoso.com,b@contoso.com",
		"--delete-threshold", "250", "--no-start")
	s, err := buildSpec(sf, changed, noFile)
	require.NoError(t, err)
	assert.Equal(t, workflows.TenantSpec{
		TenantID: goodTenant, Domain: "Contoso.com", DisplayName: "Contoso",
		PasswordHashSync: true, ExchangeHybridWriteback: true,
		Notifications: workflows.Notifications{Enabled: true,
			// A comma is kept as is (StringArray) so validation can refuse it.
			Recipients: []string{"admin@contoso.com", "a@contoso.com,b@contoso.com"}},
		DeleteThreshold: workflows.DeleteThreshold{Value: ptr(250)},
		StartJobs:       ptr(false),
	}, s)
}

func TestBuildSpecDefaultsLeaveGraphDefaults(t *testing.T) {
	sf, changed := parseFlags(t, "--tenant-id", goodTenant, "--domain", goodDomain)
	s, err := buildSpec(sf, changed, noFile)
	require.NoError(t, err)
	// Unset threshold and start flags stay nil: Normalized applies the defaults.
	assert.Equal(t, workflows.TenantSpec{TenantID: goodTenant, Domain: goodDomain}, s)
	require.NoError(t, s.Validate())
	n := s.Normalized()
	assert.Equal(t, workflows.DefaultDeleteThreshold, *n.DeleteThreshold.Value)
	assert.True(t, *n.StartJobs)
}

func TestBuildSpecNoDeleteThreshold(t *testing.T) {
	sf, changed := parseFlags(t, "--tenant-id", goodTenant, "--domain", goodDomain, "--no-delete-threshold")
	s, err := buildSpec(sf, changed, noFile)
	require.NoError(t, err)
	assert.Equal(t, workflows.DeleteThreshold{Enabled: ptr(false)}, s.DeleteThreshold)
	require.NoError(t, s.Validate())
}

func TestBuildSpecFromFile(t *testing.T) {
	sf, changed := parseFlags(t, "--file", "tenant.yaml")
	var asked string
	s, err := buildSpec(sf, changed, func(p string) ([]byte, error) {
		asked = p
		return []byte("tenantId: " + goodTenant + "\ndomain: contoso.com\nstartJobs: false\n"), nil
	})
	require.NoError(t, err)
	assert.Equal(t, "tenant.yaml", asked)
	assert.Equal(t, workflows.TenantSpec{TenantID: goodTenant, Domain: goodDomain, StartJobs: ptr(false)}, s)
}

func TestBuildSpecRefusesFileWithSpecFlags(t *testing.T) {
	for _, extra := range [][]string{
		{"--domain", goodDomain}, {"--notify"}, {"--recipient", "a@contoso.com"},
		{"--delete-threshold", "500"}, {"--no-start"}, {"--no-delete-threshold"}, {"--tenant-id", goodTenant},
	} {
		sf, changed := parseFlags(t, append([]string{"--file", "x.yaml"}, extra...)...)
		_, err := buildSpec(sf, changed, func(string) ([]byte, error) {
			t.Fatal("the file must not be read when flags are mixed in")
			return nil, nil
		})
		require.Error(t, err, extra)
		assert.Contains(t, err.Error(), "--file cannot be combined with "+extra[0])
	}
}

// The sample file parses to the spec the brief asks for, and is valid.
func TestExampleTenantYAML(t *testing.T) {
	data, err := os.ReadFile("../../../examples/tenant.yaml")
	require.NoError(t, err)
	s, err := ParseYAML("tenant.yaml", data)
	require.NoError(t, err)
	assert.Equal(t, workflows.TenantSpec{
		TenantID:                goodTenant,
		Domain:                  "contoso.com",
		PasswordHashSync:        true,
		ExchangeHybridWriteback: true,
		Notifications:           workflows.Notifications{Enabled: true, Recipients: []string{"admin@contoso.com"}},
		DeleteThreshold:         workflows.DeleteThreshold{Enabled: ptr(true), Value: ptr(500)},
	}, s)
	require.NoError(t, s.Validate())
}

func TestParseSpecYAMLFull(t *testing.T) {
	s, err := ParseYAML("tenant.yaml", []byte(`
tenantId: 72F988BF-86F1-41AF-91AB-2D7CD011DB47
domain: corp.fabrikam.com.
displayName: Fabrikam corp
passwordHashSync: false
exchangeHybridWriteback: false
notifications: {enabled: false}
deleteThreshold: {enabled: false}
startJobs: true
`))
	require.NoError(t, err)
	assert.Equal(t, workflows.TenantSpec{
		TenantID: "72F988BF-86F1-41AF-91AB-2D7CD011DB47", Domain: "corp.fabrikam.com.", DisplayName: "Fabrikam corp",
		DeleteThreshold: workflows.DeleteThreshold{Enabled: ptr(false)}, StartJobs: ptr(true),
	}, s)
	require.NoError(t, s.Validate())
}

func TestParseSpecYAMLErrorsNameTheField(t *testing.T) {
	cases := map[string]string{
		"deleteThreshold:\n  value: abc\n":              `tenant.yaml:2: deleteThreshold.value: must be a whole number, got "abc"`,
		"deleteThreshold: {value: abcdefghijklmnopq}\n": `tenant.yaml:1: deleteThreshold.value: must be a whole number, got "abcdefghijklmnopq"`,
		"passwordHashSync: maybe\n":                     `tenant.yaml:1: passwordHashSync: must be true or false, got "maybe"`,
		"notifications:\n  recipients: admin@x.com\n":   `tenant.yaml:2: notifications.recipients: must be a list of strings, got "admin@x.com"`,
		"notifications:\n  recipients: [[a]]\n":         `tenant.yaml:2: notifications.recipients[0]: must be a string, got a list`,
		"domain: [a, b]\n":                              `tenant.yaml:1: domain: must be a string, got a list`,
		"- tenantId: x\n":                               `(top level): must be a tenant spec`,
		"tenant_id: x\n":                                `tenant.yaml:1: tenant_id: unknown field; known fields: deleteThreshold, displayName, domain, exchangeHybridWriteback, notifications, passwordHashSync, startJobs, tenantId`,
		"notifications:\n  enable: true\n":              `tenant.yaml:2: notifications.enable: unknown field; known fields in notifications: enabled, recipients`,
		"domain: a.com\ndomain: b.com\n":                `already defined`,
	}
	for in, want := range cases {
		_, err := ParseYAML("tenant.yaml", []byte(in))
		if assert.Error(t, err, in) {
			assert.Contains(t, err.Error(), want, in)
		}
	}
}

func TestParseSpecYAMLListsEveryProblem(t *testing.T) {
	_, err := ParseYAML("tenant.yaml", []byte("tenantId: "+goodTenant+"\nfoo: 1\ndeleteThreshold:\n  value: x\nbar: 2\n"))
	require.Error(t, err)
	lines := strings.Split(err.Error(), "\n")
	assert.Equal(t, "invalid spec file (4 problems):", lines[0])
	assert.Len(t, lines, 5, err.Error()) // two unknown fields, a type error, and the missing domain
}

// A type error or an unknown field does not hide the spec's other problems.
// ("yes" is true, as in CSV files: YAML 1.1's booleans are accepted.)
func TestParseSpecYAMLReportsDecodingAndValidationAtOnce(t *testing.T) {
	s, err := ParseYAML("tenant.yaml", []byte("tenantId: nope\ndomain: contoso.com\npasswordHashSync: yes\nbogus: 1\n"))
	require.Error(t, err)
	assert.True(t, s.PasswordHashSync, "yes is true")
	msg := err.Error()
	assert.Contains(t, msg, "tenant.yaml:4: bogus: unknown field")
	assert.Contains(t, msg, `tenantId: "nope" is not a GUID`)

	_, err = ParseYAML("tenant.yaml", []byte("tenantId: "+goodTenant+"\npasswordHashSync: maybe\ndeleteThreshold: {value: x}\nbogus: 1\n"))
	require.Error(t, err)
	msg = err.Error()
	assert.Contains(t, msg, `tenant.yaml:2: passwordHashSync: must be true or false, got "maybe"`)
	assert.Contains(t, msg, "tenant.yaml:4: bogus: unknown field")
	assert.Contains(t, msg, "domain: is required")
	assert.NotContains(t, msg, "deleteThreshold.value: is", "a field with a type error is not reported twice")
	assert.Len(t, strings.Split(msg, "\n"), 5, msg)
}

// buildSpec is Build for one tenant: a fleet file is refused.
func buildSpec(f Flags, changed func(name string) bool, readFile func(path string) ([]byte, error)) (workflows.TenantSpec, error) {
	s, fleet, err := Build(f, changed, readFile)
	if err == nil && fleet != nil {
		return s, fmt.Errorf("--file: %s holds a fleet of %d tenant specs, not one", f.File, len(fleet.Entries))
	}
	return s, err
}
