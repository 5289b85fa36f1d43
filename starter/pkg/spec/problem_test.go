package spec

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A spec file with several problems of every kind (a type error, an unknown
// field, a field that does not validate, a missing field) reports all of
// them at once, each at file:line, through the path the CLI takes.
func TestSpecFileReportsEveryProblemAtFileLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tenant.yaml")
	require.NoError(t, os.WriteFile(path, []byte(strings.Join([]string{
		"tenantId: not-a-guid",
		"passwordHashSync: maybe",
		"colour: blue",
		"notifications:",
		"  enabled: true",
		"  recipients: [ops@contoso.com, nobody]",
	}, "\n")+"\n"), 0o600))
	sf, changed := parseFlags(t, "--file", path)
	_, _, err := Build(sf, changed, ReadFile)
	require.Error(t, err)

	var ps *Problems
	require.ErrorAs(t, err, &ps)
	got := make([]string, 0, len(ps.List))
	for _, p := range ps.List {
		assert.Equal(t, path, p.File)
		got = append(got, p.Error())
	}
	// In line order, as an editor jumps through them; the one without a line last.
	assert.Equal(t, []string{
		path + `:1: tenantId: "not-a-guid" is not a GUID: use the directory (tenant) id shown in the Entra admin center, not a domain name`,
		path + `:2: passwordHashSync: must be true or false, got "maybe"`,
		path + ":3: colour: unknown field; known fields: deleteThreshold, displayName, domain, exchangeHybridWriteback, notifications, passwordHashSync, startJobs, tenantId",
		path + `:6: notifications.recipients[1]: "nobody" is not an email address like admin@contoso.com`,
		path + ": domain: is required: the on-premises Active Directory domain, e.g. contoso.com",
	}, got)
	assert.True(t, strings.HasPrefix(err.Error(), "invalid spec file (5 problems):\n  "), err.Error())

	// Each problem is an error of its own: errors.As finds the first, and a
	// list joins with other errors without losing them.
	var first Problem
	require.ErrorAs(t, err, &first)
	assert.Equal(t, 1, first.Line)
	other := errors.New("--rate: out of range")
	joined := errors.Join(err, other)
	assert.ErrorIs(t, joined, other)
	require.ErrorAs(t, joined, &ps)
	assert.Len(t, ps.List, 5)
}

// A valid file spec comes back without error; one from flags is left to
// the caller to validate (its problems have no file to point into).
func TestBuildValidatesOnlyFileSpecs(t *testing.T) {
	sf, changed := parseFlags(t, "--file", "t.yaml")
	_, _, err := Build(sf, changed, func(string) ([]byte, error) {
		return []byte("tenantId: " + goodTenant + "\ndomain: contoso.com\n"), nil
	})
	require.NoError(t, err)

	sf, changed = parseFlags(t, "--tenant-id", "nope")
	s, _, err := Build(sf, changed, noFile)
	require.NoError(t, err)
	assert.Contains(t, ValidationLines(s.Validate()), "invalid tenant spec (2 problems):\n  tenantId:")
}

// A broken fleet lists at most maxShown problems, then how many more.
func TestProblemsAreBounded(t *testing.T) {
	ps := &Problems{What: "invalid fleet of 300 tenants"}
	for range 300 {
		ps.List = append(ps.List, Problem{File: "f.csv", Line: 2, Entry: "row 1", Field: "domain", Message: "is required"})
	}
	msg := ps.Error()
	assert.Equal(t, maxShown+1, strings.Count(msg, "f.csv:2: row 1: domain: is required")+strings.Count(msg, "… and 100 more"))
	assert.Len(t, ps.Unwrap(), 300)
}
