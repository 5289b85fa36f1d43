package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enums "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/cloudsync/cloudsync/graphsim"
	"github.com/cloudsync/cloudsync/internal/graphcount"
	"github.com/cloudsync/cloudsync/workflows"
)

// tenantN is a deterministic tenant id for suite s, number n.
func tenantN(suite uint32, n int) string {
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", suite, n)
}

// fullSpec is a spec with every feature on: PHS, Exchange, notifications and
// a delete threshold.
func fullSpec(tenant, domain string, threshold int) workflows.TenantSpec {
	return workflows.TenantSpec{
		TenantID: tenant, Domain: domain, PasswordHashSync: true, ExchangeHybridWriteback: true,
		Notifications:   workflows.Notifications{Enabled: true, Recipients: []string{"admin@" + domain}},
		DeleteThreshold: workflows.DeleteThreshold{Value: ptr(threshold)},
	}
}

// startOnboarding starts OnboardTenant like the starter does, on a task queue.
func startOnboarding(ctx context.Context, c client.Client, taskQueue string, in workflows.OnboardInput) (client.WorkflowRun, error) {
	n := in.Spec.Normalized()
	return c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                                       workflows.OnboardWorkflowID(n.TenantID, n.Domain),
		TaskQueue:                                taskQueue,
		WorkflowIDConflictPolicy:                 enums.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:                    enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			workflows.SearchTenant.ValueSet(n.TenantID), workflows.SearchDomain.ValueSet(n.Domain),
			workflows.SearchOutcome.ValueSet(workflows.OnboardingRunning)),
	}, workflows.OnboardTenantWorkflow, in)
}

// onboard runs one onboarding to its end.
func (e *env) onboard(ctx context.Context, in workflows.OnboardInput) (workflows.OnboardResult, error) {
	var res workflows.OnboardResult
	run, err := startOnboarding(ctx, e.client, e.taskQueue, in)
	if err != nil {
		return res, err
	}
	err = run.Get(ctx, &res)
	return res, err
}

// failureDetails digs the OnboardResult out of a failed onboarding.
func failureDetails(t *testing.T, err error) (*temporal.ApplicationError, workflows.OnboardResult) {
	t.Helper()
	var ae *temporal.ApplicationError
	require.True(t, errors.As(err, &ae), "not an application error: %v", err)
	var res workflows.OnboardResult
	require.Equal(t, workflows.FailureType, ae.Type(), "%v", err)
	require.NoError(t, ae.Details(&res))
	return ae, res
}

// watcherPollRoute is the watchers' poll (GET one job). The onboarding itself
// never reads a single job, so request counts of an onboarding leave it out:
// the watchers it starts poll at once, while the count is taken.
const watcherPollRoute = "GET /servicePrincipals/{id}/synchronization/jobs/{jobId}"

// dupCount counts what a tenant holds beyond one of each.
type dupCount struct {
	apps, sps, jobs, credentialData, maskedWrites int
}

func (d dupCount) total() int { return d.apps + d.sps + d.jobs + d.credentialData + d.maskedWrites }

func (d *dupCount) add(o dupCount) {
	d.apps += o.apps
	d.sps += o.sps
	d.jobs += o.jobs
	d.credentialData += o.credentialData
	d.maskedWrites += o.maskedWrites
}

func (d dupCount) String() string {
	return fmt.Sprintf("%d (applications %d, service principals %d, jobs %d, CredentialData mappings %d, masked values written back %d)",
		d.total(), d.apps, d.sps, d.jobs, d.credentialData, d.maskedWrites)
}

// duplicates counts a tenant's duplicates in graphsim's state and violations.
func duplicates(sim *graphsim.Server, tenant string) dupCount {
	st := sim.Snapshot(tenant)
	d := dupCount{apps: max(0, len(st.Applications)-1), sps: max(0, len(st.ServicePrincipals)-1)}
	seen := map[string]int{}
	for _, j := range st.Jobs {
		if seen[j.TemplateID]++; seen[j.TemplateID] > 1 {
			d.jobs++
		}
	}
	for _, counts := range st.CredentialDataMappings {
		for _, n := range counts {
			d.credentialData += max(0, n-1)
		}
	}
	for _, v := range sim.Violations() {
		if v.Tenant == st.TenantID && v.Kind == graphsim.ViolationMaskedSecretWritten {
			d.maskedWrites++
		}
	}
	return d
}

// requireOnboarded checks one tenant: exactly one app and service principal,
// one job per expected template, the desired secrets, one CredentialData
// mapping per target with PHS, and no violation. It adds the duplicates it
// saw to the figures before failing on them, and returns their number.
func requireOnboarded(t *testing.T, sim *graphsim.Server, spec workflows.TenantSpec, noExchange bool) int {
	t.Helper()
	s := spec.Normalized()
	st := sim.Snapshot(s.TenantID)
	dups := duplicates(sim, s.TenantID).total()
	addFigure(func() { figures.duplicates += dups })
	seen := map[string]int{}
	for _, j := range st.Jobs {
		seen[j.TemplateID]++
	}

	require.Len(t, st.Applications, 1, "tenant %s: applications", s.TenantID)
	require.Len(t, st.ServicePrincipals, 1, "tenant %s: service principals", s.TenantID)
	sp := st.ServicePrincipals[0].ID
	want := []string{workflows.TemplateProvisioning}
	if s.PasswordHashSync {
		want = append(want, workflows.TemplatePasswordHash)
	}
	if s.ExchangeHybridWriteback && !noExchange {
		want = append(want, workflows.TemplateExchangeWriteback)
	}
	var got []string
	for tmpl, n := range seen {
		require.Equal(t, 1, n, "tenant %s: %d jobs of template %s", s.TenantID, n, tmpl)
		got = append(got, tmpl)
	}
	sort.Strings(got)
	sort.Strings(want)
	require.Equal(t, want, got, "tenant %s: job templates", s.TenantID)

	sec := st.Secrets[sp]
	require.Len(t, sec, 3, "tenant %s: secrets %v", s.TenantID, keys(sec))
	require.JSONEq(t, fmt.Sprintf(`{"domain":%q}`, s.Domain), sec["Domain"])
	scenario := workflows.TemplateProvisioning
	if s.PasswordHashSync {
		scenario = workflows.TemplatePasswordHash
	}
	require.JSONEq(t, fmt.Sprintf(`{"appKeyScenario":%q}`, scenario), sec["AppKey"])
	n := map[string]any{"Enabled": s.Notifications.Enabled, "DeleteThresholdEnabled": *s.DeleteThreshold.Enabled}
	if len(s.Notifications.Recipients) > 0 {
		n["Recipients"] = strings.Join(s.Notifications.Recipients, ",")
	}
	if *s.DeleteThreshold.Enabled {
		n["DeleteThresholdValue"] = *s.DeleteThreshold.Value
	}
	wantN, _ := json.Marshal(n)
	require.JSONEq(t, string(wantN), sec["SyncNotificationSettings"], "tenant %s", s.TenantID)

	counts := st.CredentialDataMappings[sp]
	wantCD := 0
	if s.PasswordHashSync {
		wantCD = 1
	}
	require.Equal(t, wantCD, counts["Provision Active Directory users"], "tenant %s", s.TenantID)
	require.Equal(t, wantCD, counts["Provision Active Directory inetOrgPersons"], "tenant %s", s.TenantID)
	for _, v := range sim.Violations() {
		require.NotEqual(t, s.TenantID, v.Tenant, "graphsim violation: %+v", v)
	}
	return dups
}

func keys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// tenantRequests counts one tenant's Graph requests in a simulator's log
// (tenant "": all of them), leaving out the watchers' polls.
func tenantRequests(sim *graphsim.Server, tenant string) requestCount {
	return counted(graphcount.Of(sim.RequestLog(), func(r graphsim.Request) bool {
		return (tenant == "" || r.Tenant == tenant) && r.Route != watcherPollRoute
	}))
}

// faulted counts the answers that were faults (throttled, unavailable, the
// replication lag's 404 on the new service principal, discover's 500s).
func (c requestCount) faulted() int {
	n := 0
	for k, v := range c.byRoute {
		switch {
		case strings.HasSuffix(k, " 429"), strings.HasSuffix(k, " 503"), strings.HasSuffix(k, " 500"),
			strings.HasSuffix(k, " 499"), k == "GET /servicePrincipals/{id} 404":
			n += v
		}
	}
	return n
}

// runAll runs f for each i concurrently and waits.
func runAll(n int, f func(i int)) {
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); f(i) }()
	}
	wg.Wait()
}

// activityAttempts sums, over a workflow's history, the attempts of its
// activities beyond the first (what retries cost).
func activityRetries(ctx context.Context, c client.Client, id string) (int, error) {
	it := c.GetWorkflowHistory(ctx, id, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	n := 0
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return n, err
		}
		if a := ev.GetActivityTaskStartedEventAttributes(); a != nil && a.Attempt > 1 {
			n += int(a.Attempt - 1)
		}
	}
	return n, nil
}

func since(t0 time.Time) time.Duration { return time.Since(t0).Round(100 * time.Millisecond) }

// validationFailure digs the field errors out of a workflow refused for an
// invalid spec.
func validationFailure(t *testing.T, err error) (*temporal.ApplicationError, workflows.ValidationError) {
	t.Helper()
	var ae *temporal.ApplicationError
	require.True(t, errors.As(err, &ae), "not an application error: %v", err)
	require.Equal(t, workflows.ValidationErrorType, ae.Type(), "%v", err)
	var ve workflows.ValidationError
	require.NoError(t, ae.Details(&ve))
	require.NotEmpty(t, ve.Errors)
	return ae, ve
}

// runCLI runs the Temporal CLI.
func runCLI(ctx context.Context, cli string, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput()
	return string(out), err
}
