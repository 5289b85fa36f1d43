package activities

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/cloudsync/cloudsync/graph"
	"github.com/cloudsync/cloudsync/graphsim"
	wf "github.com/cloudsync/cloudsync/workflows"
)

const (
	simClient = "5e1f0c1d-0000-4000-8000-00000000ac71"
	simSecret = "activities-test-secret"
	tenant    = "0b7f4c3e-1d2a-4e5f-8a9b-0c1d2e3f4b01"
)

// newActivities wires the real Graph client to an in-process graphsim.
func newActivities(t *testing.T, opts graphsim.Options) (*Activities, *graphsim.Server) {
	t.Helper()
	opts.Clients = map[string]string{simClient: simSecret}
	srv, err := graphsim.New(opts)
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	tr, err := graph.TransportWithCA(srv.CAFile())
	require.NoError(t, err)
	f := &graph.Factory{
		Cloud:       graph.CloudGlobal.WithOverrides(srv.GraphURL(), srv.AuthorityHost()),
		Credentials: graph.CredentialConfig{Mode: graph.AuthClientSecret, ClientID: simClient, ClientSecret: simSecret},
		Transport:   tr,
	}
	return &Activities{Graph: f}, srv
}

func activityEnv(a *Activities) *testsuite.TestActivityEnvironment {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	return env
}

func TestEnsureApplicationLooksBeforeInstantiating(t *testing.T) {
	a, srv := newActivities(t, graphsim.Options{})
	env := activityEnv(a)
	in := wf.EnsureApplicationInput{TenantID: tenant, DisplayName: "contoso.com", Domain: "contoso.com"}

	v, err := env.ExecuteActivity(a.EnsureApplication, in)
	require.NoError(t, err)
	var first wf.ApplicationResult
	require.NoError(t, v.Get(&first))
	require.Equal(t, wf.OutcomeCreated, first.Report.Outcome)

	v, err = env.ExecuteActivity(a.EnsureApplication, in)
	require.NoError(t, err)
	var second wf.ApplicationResult
	require.NoError(t, v.Get(&second))
	require.Equal(t, wf.OutcomeUnchanged, second.Report.Outcome)
	require.Equal(t, first.ServicePrincipalID, second.ServicePrincipalID)
	require.Len(t, srv.Snapshot(tenant).Applications, 1)
}

// A retry after an attempt that instantiated (heartbeat recorded) but lost the
// answer waits for Graph's list rather than create a second app.
func TestEnsureApplicationRetryWaitsForTheListBeforeInstantiatingAgain(t *testing.T) {
	a, srv := newActivities(t, graphsim.Options{ListLag: time.Hour})
	in := wf.EnsureApplicationInput{TenantID: tenant, DisplayName: "fabrikam.com", Domain: "fabrikam.com"}

	env := activityEnv(a)
	_, err := env.ExecuteActivity(a.EnsureApplication, in) // the "lost" attempt
	require.NoError(t, err)
	require.Len(t, srv.Snapshot(tenant).Applications, 1)

	retry := activityEnv(a)
	retry.SetHeartbeatDetails(time.Now().Add(-10 * time.Second))
	before := len(srv.RequestLog())
	_, err = retry.ExecuteActivity(a.EnsureApplication, in)
	var ae *temporal.ApplicationError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, ErrWaitingForList, ae.Type())
	require.False(t, ae.NonRetryable())
	require.Equal(t, temporal.ApplicationErrorCategoryBenign, ae.Category(), "waiting for the list is expected: no ERROR log")
	require.Len(t, srv.Snapshot(tenant).Applications, 1, "no second app while the list may lag")
	require.Len(t, srv.RequestLog()[before:], 1, "while it waits, one list (by template) per attempt")

	late := activityEnv(a)
	late.SetHeartbeatDetails(time.Now().Add(-2 * ListGrace))
	_, err = late.ExecuteActivity(a.EnsureApplication, in)
	require.NoError(t, err, "after the grace period the retry goes on")
	require.Len(t, srv.Snapshot(tenant).Applications, 2)
}

// A refused instantiate (Graph answered 4xx: nothing created) clears the
// marker, so the retry does not wait for the list; one that may have reached
// Graph keeps it.
func TestEnsureApplicationRefusedInstantiateClearsTheMarker(t *testing.T) {
	a, srv := newActivities(t, graphsim.Options{})
	srv.SetTenantOptions(tenant, graphsim.TenantOptions{MissingPermission: "Application.ReadWrite.OwnedBy"})
	env := activityEnv(a)
	var last time.Time
	beats := 0
	env.SetOnActivityHeartbeatListener(func(_ *activity.Info, d converter.EncodedValues) {
		beats++
		require.NoError(t, d.Get(&last))
	})
	_, err := env.ExecuteActivity(a.EnsureApplication, wf.EnsureApplicationInput{TenantID: tenant, DisplayName: "refused.com", Domain: "refused.com"})
	require.Error(t, err)
	require.Equal(t, 2, beats, "marked before instantiating, cleared after the refusal")
	require.True(t, last.IsZero())
	require.Empty(t, srv.Snapshot(tenant).Applications)
}

// Expected conditions (Graph's replication lag, a 429 to wait out) are benign
// application errors: the SDK logs them at debug and does not count them as
// failed activities, so real failures are not buried. The others are not.
func TestExpectedConditionsAreBenign(t *testing.T) {
	cat := func(err error) temporal.ApplicationErrorCategory {
		var ae *temporal.ApplicationError
		require.ErrorAs(t, err, &ae)
		return ae.Category()
	}
	benignCat := temporal.ApplicationErrorCategoryBenign
	require.Equal(t, benignCat, cat(toTemporal(&graph.Error{Op: "get job", Kind: graph.KindNotFound, Status: 404}, true)), "a fresh object's 404 is the lag")
	require.Equal(t, benignCat, cat(toTemporal(&graph.Error{Op: "list jobs", Kind: graph.KindThrottled, Status: 429, RetryAfter: time.Second}, false)))
	require.NotEqual(t, benignCat, cat(toTemporal(&graph.Error{Op: "get job", Kind: graph.KindNotFound, Status: 404}, false)))
	require.NotEqual(t, benignCat, cat(toTemporal(&graph.Error{Op: "create job", Kind: graph.KindForbidden, Status: 403}, false)))
	require.NotEqual(t, benignCat, cat(toTemporal(&graph.Error{Op: "discover", Kind: graph.KindUnavailable, Status: 500}, false)))

	// The service principal not visible yet (replication lag) is benign too.
	a, _ := newActivities(t, graphsim.Options{ReplicationLag: time.Hour})
	env := activityEnv(a)
	v, err := env.ExecuteActivity(a.EnsureApplication, wf.EnsureApplicationInput{TenantID: tenant, DisplayName: "lag.contoso.com", Domain: "lag.contoso.com"})
	require.NoError(t, err)
	var app wf.ApplicationResult
	require.NoError(t, v.Get(&app))
	_, err = activityEnv(a).ExecuteActivity(a.WaitForServicePrincipal, wf.ServicePrincipalInput{TenantID: tenant, ServicePrincipalID: app.ServicePrincipalID})
	var ae *temporal.ApplicationError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, wf.ErrServicePrincipalNotVisible, ae.Type())
	require.Equal(t, benignCat, ae.Category())
}
