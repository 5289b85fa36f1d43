package graph

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cloudsync/cloudsync/graphsim"
)

// A read-only client (plans, drift checks) reads like any other, and refuses
// every write before it leaves the process: nothing reaches the wire nor
// graphsim, the error says why, and it is not retryable.
func TestReadOnlyClientRefusesWritesBeforeSending(t *testing.T) {
	s := newSim(t, graphsim.Options{}, "")
	ctx := testCtx(t)
	rw := s.client(t, tenantA)
	inst := instantiate(t, ctx, rw, "contoso.com")
	job, err := rw.CreateJob(ctx, inst.ServicePrincipalID, TemplateProvisioning)
	require.NoError(t, err)

	ro, err := s.f.ReadOnlyForTenant(tenantA)
	require.NoError(t, err)
	require.NotSame(t, rw, ro)
	again, err := s.f.ReadOnlyForTenant(tenantA)
	require.NoError(t, err)
	require.Same(t, ro, again, "cached per tenant")

	// Reads work (and share the tenant's token: no second token request).
	tokens := s.srv.Stats().TokensIssued
	on, err := ro.OnPremisesSyncEnabled(ctx, tenantA)
	require.NoError(t, err)
	require.False(t, on)
	jobs, err := ro.ListJobs(ctx, inst.ServicePrincipalID)
	require.NoError(t, err)
	require.Len(t, jobs, 1)
	_, err = ro.GetSchema(ctx, inst.ServicePrincipalID, job.ID)
	require.NoError(t, err)
	_, err = ro.GetSecrets(ctx, inst.ServicePrincipalID)
	require.NoError(t, err)
	require.Equal(t, tokens, s.srv.Stats().TokensIssued, "the read-only client shares the credential's token cache")

	wire, logged := len(s.spy.graph()), len(s.srv.RequestLog())
	writes := map[string]func() error{
		"PATCH organization": func() error { return ro.SetOnPremisesSyncEnabled(ctx, tenantA, true) },
		"POST instantiate": func() error {
			_, err := ro.Instantiate(ctx, AD2AADTemplateID, "other")
			return err
		},
		"POST jobs": func() error {
			_, err := ro.CreateJob(ctx, inst.ServicePrincipalID, TemplatePasswordHash)
			return err
		},
		"PUT secrets": func() error {
			return ro.PutSecrets(ctx, inst.ServicePrincipalID, []Secret{{Key: "Domain", Value: `{"domain":"contoso.com"}`}})
		},
		"PUT schema":        func() error { return ro.PutSchema(ctx, inst.ServicePrincipalID, job.ID, []byte(`{}`)) },
		"POST start":        func() error { return ro.StartJob(ctx, inst.ServicePrincipalID, job.ID) },
		"POST pause":        func() error { return ro.PauseJob(ctx, inst.ServicePrincipalID, job.ID) },
		"POST restart":      func() error { return ro.RestartJob(ctx, inst.ServicePrincipalID, job.ID, ScopeForceDeletes) },
		"PATCH application": func() error { return ro.RenameApplication(ctx, inst.AppID, "renamed") },
		"POST discover": func() error {
			_, err := ro.Discover(ctx, inst.ServicePrincipalID, job.ID, "dir")
			return err
		},
	}
	for name, write := range writes {
		err := write()
		ge := requireGraphError(t, err, KindBadRequest)
		require.True(t, IsReadOnlyRefusal(err), "%s: %v", name, err)
		require.False(t, ge.Retryable(), name)
		require.Contains(t, err.Error(), "read-only", name)
		require.NotContains(t, err.Error(), "Bearer", name)
	}
	require.Len(t, s.spy.graph(), wire, "no refused request reached the wire")
	require.Len(t, s.srv.RequestLog(), logged, "graphsim saw none of them")
	require.Empty(t, s.srv.Violations())
	// The read-write client still writes.
	require.NoError(t, rw.SetOnPremisesSyncEnabled(ctx, tenantA, true))
}
