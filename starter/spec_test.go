package main

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"

	"github.com/cloudsync/cloudsync/workflows"
)

func ptr[T any](v T) *T { return &v }

// parseFlags runs the onboard flag set over args and returns what buildSpec gets.
func parseFlags(t *testing.T, args ...string) (specFlags, func(string) bool) {
	t.Helper()
	var sf specFlags
	fs := pflag.NewFlagSet("onboard", pflag.ContinueOnError)
	sf.register(fs)
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
	data, err := os.ReadFile("../examples/tenant.yaml")
	require.NoError(t, err)
	s, err := parseSpecYAML(data)
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
	s, err := parseSpecYAML([]byte(`
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
		"deleteThreshold:\n  value: abc\n":              `deleteThreshold.value: must be a whole number, got "abc" (line 2)`,
		"deleteThreshold: {value: abcdefghijklmnopq}\n": `deleteThreshold.value: must be a whole number, got "abcdefghijklmnopq" (line 1)`,
		"passwordHashSync: maybe\n":                     `passwordHashSync: must be true or false, got "maybe" (line 1)`,
		"notifications:\n  recipients: admin@x.com\n":   `notifications.recipients: must be a list of strings, got "admin@x.com" (line 2)`,
		"notifications:\n  recipients: [[a]]\n":         `notifications.recipients[0]: must be a string, got a list (line 2)`,
		"domain: [a, b]\n":                              `domain: must be a string, got a list (line 1)`,
		"- tenantId: x\n":                               `(top level): must be a tenant spec`,
		"tenant_id: x\n":                                `tenant_id: unknown field (line 1); known fields: deleteThreshold, displayName, domain, exchangeHybridWriteback, notifications, passwordHashSync, startJobs, tenantId`,
		"notifications:\n  enable: true\n":              `notifications.enable: unknown field (line 2); known fields in notifications: enabled, recipients`,
		"domain: a.com\ndomain: b.com\n":                `already defined`,
	}
	for in, want := range cases {
		_, err := parseSpecYAML([]byte(in))
		if assert.Error(t, err, in) {
			assert.Contains(t, err.Error(), want, in)
		}
	}
}

func TestParseSpecYAMLListsEveryProblem(t *testing.T) {
	_, err := parseSpecYAML([]byte("tenantId: " + goodTenant + "\nfoo: 1\ndeleteThreshold:\n  value: x\nbar: 2\n"))
	require.Error(t, err)
	lines := strings.Split(err.Error(), "\n")
	assert.Equal(t, "invalid spec file:", lines[0])
	assert.Len(t, lines, 5, err.Error()) // two unknown fields, a type error, and the missing domain
}

// A type error or an unknown field does not hide the spec's other problems.
// ("yes" is true, as in CSV files: YAML 1.1's booleans are accepted.)
func TestParseSpecYAMLReportsDecodingAndValidationAtOnce(t *testing.T) {
	s, err := parseSpecYAML([]byte("tenantId: nope\ndomain: contoso.com\npasswordHashSync: yes\nbogus: 1\n"))
	require.Error(t, err)
	assert.True(t, s.PasswordHashSync, "yes is true")
	msg := err.Error()
	assert.Contains(t, msg, "bogus: unknown field (line 4)")
	assert.Contains(t, msg, `tenantId: "nope" is not a GUID`)

	_, err = parseSpecYAML([]byte("tenantId: " + goodTenant + "\npasswordHashSync: maybe\ndeleteThreshold: {value: x}\nbogus: 1\n"))
	require.Error(t, err)
	msg = err.Error()
	assert.Contains(t, msg, `passwordHashSync: must be true or false, got "maybe" (line 2)`)
	assert.Contains(t, msg, "bogus: unknown field (line 4)")
	assert.Contains(t, msg, "domain: is required")
	assert.NotContains(t, msg, "deleteThreshold.value: is", "a field with a type error is not reported twice")
	assert.Len(t, strings.Split(msg, "\n"), 5, msg)
}

func TestStartOptions(t *testing.T) {
	spec := workflows.TenantSpec{TenantID: " " + strings.ToUpper(goodTenant) + " ", Domain: "Contoso.COM."}
	require.NoError(t, spec.Validate())
	o := workflows.OnboardStartOptions(spec)
	assert.Equal(t, "cloudsync-onboard/"+goodTenant+"/contoso.com", o.ID)
	assert.Equal(t, workflows.OnboardWorkflowID(goodTenant, goodDomain), o.ID)
	assert.Equal(t, workflows.TaskQueue, o.TaskQueue)
	assert.Equal(t, enums.WORKFLOW_ID_CONFLICT_POLICY_FAIL, o.WorkflowIDConflictPolicy)
	assert.Equal(t, enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE, o.WorkflowIDReusePolicy)
	assert.True(t, o.WorkflowExecutionErrorWhenAlreadyStarted)
	assert.Equal(t, "Onboard contoso.com ("+goodTenant+")", o.StaticSummary)
	tenant, _ := o.TypedSearchAttributes.GetKeyword(workflows.SearchTenant)
	domain, _ := o.TypedSearchAttributes.GetKeyword(workflows.SearchDomain)
	outcome, _ := o.TypedSearchAttributes.GetKeyword(workflows.SearchOutcome)
	assert.Equal(t, []string{goodTenant, goodDomain, "running"}, []string{tenant, domain, outcome})
}

func TestStatusTarget(t *testing.T) {
	id, label, err := statusTarget(strings.ToUpper(goodTenant), "Contoso.com.", "")
	require.NoError(t, err)
	assert.Equal(t, workflows.OnboardWorkflowID(goodTenant, goodDomain), id)
	assert.Equal(t, "of tenant "+goodTenant+" domain contoso.com (workflow id "+id+")", label)
	id, _, err = statusTarget("", "", " cloudsync-onboard/x/y ")
	require.NoError(t, err)
	assert.Equal(t, "cloudsync-onboard/x/y", id)
}

func TestUILink(t *testing.T) {
	assert.Equal(t, "http://localhost:8233/namespaces/default/workflows/cloudsync-onboard%2F"+goodTenant+"%2Fcontoso.com",
		uiLink("http://localhost:8233/", "default", workflows.OnboardWorkflowID(goodTenant, goodDomain)))
}

func TestStepPrinter(t *testing.T) {
	var b bytes.Buffer
	p := &stepPrinter{w: &b}
	running := func(step string, attempt int32, lastErr string, steps ...workflows.StepReport) workflows.Progress {
		return workflows.Progress{Status: workflows.OnboardingRunning, CurrentStep: step, Attempt: attempt, LastError: lastErr,
			Result: workflows.OnboardResult{Steps: steps}}
	}
	flag := workflows.StepReport{Step: workflows.StepTenantSyncFlag, Outcome: workflows.OutcomeChanged, Detail: "enabled\nsync"}
	app := workflows.StepReport{Step: workflows.StepApplication, Outcome: workflows.OutcomeCreated, Detail: "app"}
	p.progress(running(workflows.StepTenantSyncFlag, 0, ""))
	p.progress(running(workflows.StepTenantSyncFlag, 0, "")) // no change: nothing printed
	p.progress(running(workflows.StepApplication, 0, "", flag))
	p.progress(running(workflows.StepApplication, 2, "throttled", flag))
	p.progress(running(workflows.StepApplication, 3, "throttled", flag)) // same error: quiet
	p.progress(running(workflows.StepSPVisible, 1, "", flag, app))
	p.steps([]workflows.StepReport{flag, app, {Step: workflows.StepJobs, Outcome: workflows.OutcomeFailed, Detail: "boom"}})
	assert.Equal(t, strings.Join([]string{
		// "(attempt 1)" would read as a retry: the attempt shows from the second.
		"… waiting on tenant-sync-flag",
		"  tenant-sync-flag          changed   enabled sync",
		"… waiting on application",
		"… waiting on application (attempt 2): last error: throttled",
		"  application               created   app",
		"… waiting on service-principal-visible",
		"  jobs                      failed    boom",
		"",
	}, "\n"), b.String())
}

func TestDescribeFailureReadsTheResultSoFar(t *testing.T) {
	so := workflows.OnboardResult{TenantID: goodTenant, Domain: goodDomain, ServicePrincipalID: "sp-1",
		Steps: []workflows.StepReport{{Step: workflows.StepJobs, Outcome: workflows.OutcomeFailed, Detail: "quota"}}}
	err := temporal.NewNonRetryableApplicationError("onboarding failed at step jobs: quota", workflows.FailureType, nil, so)
	f := describeFailure(err)
	assert.Equal(t, "onboarding failed at step jobs: quota", f.message)
	require.True(t, f.hasResult)
	assert.Equal(t, so, f.result)

	ve := workflows.TenantSpec{}.Validate()
	var v *workflows.ValidationError
	require.ErrorAs(t, ve, &v)
	f = describeFailure(temporal.NewNonRetryableApplicationError(ve.Error(), workflows.ValidationErrorType, nil, v))
	assert.False(t, f.hasResult)
	assert.Contains(t, f.validation, "\n  tenantId: is required")
}
