package graph

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cloudsync/cloudsync/graphsim"
)

// Deletes go out as DELETE through the SDK's builders (jobs, service
// principals) or raw requests (applications); a second delete is a 404 the
// caller can tell apart (IsNotFound).
func TestSimDeletes(t *testing.T) {
	s := newSim(t, graphsim.Options{JobReadLag: -1, DeleteLag: -1}, "")
	ctx := testCtx(t)
	c := s.client(t, tenantA)
	inst := instantiate(t, ctx, c, "Offboarded sync")
	job, err := c.CreateJob(ctx, inst.ServicePrincipalID, TemplateProvisioning)
	require.NoError(t, err)

	app, err := c.ApplicationByAppID(ctx, inst.AppID)
	require.NoError(t, err)
	require.Equal(t, Application{ObjectID: inst.ApplicationObjectID, AppID: inst.AppID, DisplayName: "Offboarded sync", ApplicationTemplateID: AD2AADTemplateID}, app)
	require.Equal(t, "/beta/applications(appId='"+inst.AppID+"')", s.spy.last(t).Path)
	sps, err := c.ServicePrincipalsOfApp(ctx, inst.AppID)
	require.NoError(t, err)
	require.Len(t, sps, 1)
	require.Equal(t, inst.ServicePrincipalID, sps[0].ID)

	require.NoError(t, c.DeleteJob(ctx, inst.ServicePrincipalID, job.ID))
	require.Equal(t, "DELETE", s.spy.last(t).Method)
	err = c.DeleteJob(ctx, inst.ServicePrincipalID, job.ID)
	require.True(t, IsNotFound(err), "%v", err)

	require.NoError(t, c.DeleteServicePrincipal(ctx, inst.ServicePrincipalID))
	require.True(t, IsNotFound(c.DeleteServicePrincipal(ctx, inst.ServicePrincipalID)))

	require.NoError(t, c.DeleteApplication(ctx, inst.ApplicationObjectID))
	require.Equal(t, "/beta/applications/"+inst.ApplicationObjectID, s.spy.last(t).Path)
	err = c.DeleteApplication(ctx, inst.ApplicationObjectID)
	require.True(t, IsNotFound(err), "%v", err)
	ge, _ := AsError(err)
	require.Equal(t, "delete application", ge.Op)
	_, err = c.ApplicationByAppID(ctx, inst.AppID)
	require.True(t, IsNotFound(err))

	st := s.srv.Snapshot(tenantA)
	require.Empty(t, st.Applications)
	require.Empty(t, st.ServicePrincipals)
	require.Len(t, st.DeletedItems, 2)
	require.Empty(t, s.srv.Violations())
}

// A delete the app may not make names the permission.
func TestSimDeleteForbiddenNamesThePermission(t *testing.T) {
	s := newSim(t, graphsim.Options{}, "")
	ctx := testCtx(t)
	c := s.client(t, tenantA)
	inst := instantiate(t, ctx, c, "Kept")
	s.srv.SetTenantOptions(tenantA, graphsim.TenantOptions{MissingPermission: "Application.ReadWrite.OwnedBy"})
	err := c.DeleteServicePrincipal(ctx, inst.ServicePrincipalID)
	ge, ok := AsError(err)
	require.True(t, ok)
	require.Equal(t, KindForbidden, ge.Kind)
	require.Contains(t, ge.Error(), "Application.ReadWrite.OwnedBy")
}
