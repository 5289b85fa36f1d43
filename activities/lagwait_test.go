package activities

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/cloudsync/cloudsync/graphsim"
	wf "github.com/cloudsync/cloudsync/workflows"
)

// answers counts graphsim's answers to a route by status.
func answers(sim *graphsim.Server, route string) map[int]int {
	out := map[int]int{}
	for _, r := range sim.RequestLog() {
		if r.Route == route {
			out[r.Status]++
		}
	}
	return out
}

const getSP = "GET /servicePrincipals/{id}"

// newApp instantiates a configuration and returns it (its service principal
// is as fresh as graphsim's lag knobs make it).
func newApp(t *testing.T, a *Activities, domain string) wf.ApplicationResult {
	t.Helper()
	var app wf.ApplicationResult
	runner(t, a)(a.EnsureApplication, wf.EnsureApplicationInput{TenantID: tenant, DisplayName: domain, Domain: domain}, &app)
	require.Equal(t, wf.OutcomeCreated, app.Report.Outcome)
	return app
}

// One attempt of WaitForServicePrincipal waits out a replication lag shorter
// than its window (no retry, so no Temporal action for it); with no lag it
// makes exactly one request, as before.
func TestWaitForServicePrincipalWaitsOutTheLagInOneAttempt(t *testing.T) {
	t.Run("lag", func(t *testing.T) {
		a, sim := newActivities(t, graphsim.Options{ReplicationLag: 1500 * time.Millisecond})
		a.LagPoll, a.LagWindow = 200*time.Millisecond, 10*time.Second
		app := newApp(t, a, "lag.contoso.com")
		_, err := activityEnv(a).ExecuteActivity(a.WaitForServicePrincipal, wf.ServicePrincipalInput{TenantID: tenant, ServicePrincipalID: app.ServicePrincipalID})
		require.NoError(t, err, "one attempt waits out a lag shorter than its window")
		got := answers(sim, getSP)
		require.GreaterOrEqual(t, got[404], 2, "it polled across the lag: %v", got)
		require.Equal(t, 1, got[200], "%v", got)
	})
	t.Run("no-lag", func(t *testing.T) {
		a, sim := newActivities(t, graphsim.Options{})
		a.LagPoll = 200 * time.Millisecond
		app := newApp(t, a, "nolag.contoso.com")
		_, err := activityEnv(a).ExecuteActivity(a.WaitForServicePrincipal, wf.ServicePrincipalInput{TenantID: tenant, ServicePrincipalID: app.ServicePrincipalID})
		require.NoError(t, err)
		require.Equal(t, map[int]int{200: 1}, answers(sim, getSP), "no lag, one request")
	})
}

// A lag longer than the window ends the attempt with the same retryable,
// benign error as before: the retry policy carries on from there.
func TestWaitForServicePrincipalGivesUpAtTheWindowsEnd(t *testing.T) {
	a, sim := newActivities(t, graphsim.Options{ReplicationLag: time.Hour})
	a.LagPoll, a.LagWindow = 100*time.Millisecond, 600*time.Millisecond
	app := newApp(t, a, "longlag.contoso.com")
	t0 := time.Now()
	_, err := activityEnv(a).ExecuteActivity(a.WaitForServicePrincipal, wf.ServicePrincipalInput{TenantID: tenant, ServicePrincipalID: app.ServicePrincipalID})
	took := time.Since(t0)
	var ae *temporal.ApplicationError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, wf.ErrServicePrincipalNotVisible, ae.Type())
	require.False(t, ae.NonRetryable())
	require.Equal(t, temporal.ApplicationErrorCategoryBenign, ae.Category())
	got := answers(sim, getSP)
	require.GreaterOrEqual(t, got[404], 3, "it polled within the window: %v", got)
	require.LessOrEqual(t, got[404], 8, "it stopped at the window's end: %v", got)
	require.Less(t, took, 5*time.Second)
}

// The wait never outlasts its context: cancelled (the worker shutting down),
// it returns at once with the retryable error, so another worker's attempt
// carries on.
func TestWaitForServicePrincipalStopsWhenCancelled(t *testing.T) {
	a, sim := newActivities(t, graphsim.Options{ReplicationLag: time.Hour})
	a.LagPoll, a.LagWindow = 10*time.Minute, time.Hour
	app := newApp(t, a, "cancel.contoso.com")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- a.WaitForServicePrincipal(ctx, wf.ServicePrincipalInput{TenantID: tenant, ServicePrincipalID: app.ServicePrincipalID})
	}()
	require.Eventually(t, func() bool { return answers(sim, getSP)[404] == 1 }, 10*time.Second, 5*time.Millisecond, "the first read")
	cancel()
	var err error
	require.Eventually(t, func() bool {
		select {
		case err = <-done:
			return true
		default:
			return false
		}
	}, 2*time.Second, 5*time.Millisecond, "cancel ends the wait")
	var ae *temporal.ApplicationError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, wf.ErrServicePrincipalNotVisible, ae.Type())
	require.False(t, ae.NonRetryable())
	require.Equal(t, 1, answers(sim, getSP)[404], "no read after the cancel")
}

// A new service principal's settling 403/409 are waited out within one
// attempt of the jobs step; the re-runs look before they write, so one job is
// created, not one per try.
func TestEnsureJobsWaitsOutTheSettleWindowInOneAttempt(t *testing.T) {
	a, sim := newActivities(t, graphsim.Options{SyncSettle: 1500 * time.Millisecond})
	a.LagPoll, a.LagWindow = 200*time.Millisecond, 10*time.Second
	app := newApp(t, a, "settle-wait.contoso.com")
	in := wf.EnsureJobsInput{TenantID: tenant, ServicePrincipalID: app.ServicePrincipalID, SPCreated: app.CreatedAt,
		Templates: []string{wf.TemplateProvisioning, wf.TemplatePasswordHash}}
	v, err := activityEnv(a).ExecuteActivity(a.EnsureJobs, in)
	require.NoError(t, err, "one attempt waits out the settle window")
	var res wf.EnsureJobsResult
	require.NoError(t, v.Get(&res))
	require.Len(t, res.Created, 2)
	got := answers(sim, "GET /servicePrincipals/{id}/synchronization/jobs")
	require.Positive(t, got[403], "%v", got)
	require.Positive(t, got[409], "%v", got)
	require.Len(t, sim.Snapshot(tenant).Jobs, 2, "one job per template")
	require.Empty(t, sim.Violations())
}

// On a service principal the run found (no SPCreated), a refusal is not
// waited out: a 403 there is the missing permission, at once.
func TestFoundServicePrincipalsAreNotWaitedFor(t *testing.T) {
	a, sim := newActivities(t, graphsim.Options{SyncSettle: time.Hour})
	a.LagPoll, a.LagWindow = 100*time.Millisecond, time.Hour
	app := newApp(t, a, "found.contoso.com")
	_, err := activityEnv(a).ExecuteActivity(a.EnsureJobs, wf.EnsureJobsInput{TenantID: tenant, ServicePrincipalID: app.ServicePrincipalID,
		Templates: []string{wf.TemplateProvisioning}})
	var ae *temporal.ApplicationError
	require.ErrorAs(t, err, &ae)
	require.True(t, ae.NonRetryable(), "%v", err)
	require.Equal(t, map[int]int{403: 1}, answers(sim, "GET /servicePrincipals/{id}/synchronization/jobs"))
}
