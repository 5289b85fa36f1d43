package graphsim

import (
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Deleting a configuration: each DELETE answers 204 and then 404; a service
// principal and an application are soft-deleted (deletedItems), a job is
// deleted for good; deleting the application takes its service principal
// (and so the jobs and secrets) with it. Reads still show a deleted object
// for the delete lag, writes see it gone at once.
func TestDeletesAndTheirLag(t *testing.T) {
	const lag = time.Second
	s := newSim(t, Options{SyncInterval: time.Hour, JobReadLag: -1, DeleteLag: lag})
	c := newCaller(t, s, tenantA)
	sp := c.instantiate("deletes")
	st := s.Snapshot(tenantA)
	app := st.Applications[0]
	jobs := "/servicePrincipals/" + sp + "/synchronization/jobs"
	prov := c.createJob(sp, "AD2AADProvisioning")
	phs := c.createJob(sp, "AD2AADPasswordHash")

	// A job: 204, then 404 for writes; reads show it for the lag.
	require.Equal(t, 204, c.do("DELETE", jobs+"/"+phs, nil).Status)
	deleted := time.Now()
	require.Equal(t, 404, c.do("DELETE", jobs+"/"+phs, nil).Status)
	require.Equal(t, 404, c.do("POST", jobs+"/"+phs+"/start", nil).Status)
	if time.Since(deleted) < lag/2 {
		require.Equal(t, 200, c.do("GET", jobs+"/"+phs, nil).Status, "read within the lag")
		require.Len(t, c.do("GET", jobs, nil).json(t)["value"], 2)
	}
	require.Eventually(t, func() bool { return c.do("GET", jobs+"/"+phs, nil).Status == 404 }, 5*time.Second, 50*time.Millisecond)
	require.Len(t, c.do("GET", jobs, nil).json(t)["value"], 1)
	require.Len(t, s.Snapshot(tenantA).Jobs, 1)

	// The application, addressed by its appId: the service principal goes too.
	r := c.do("GET", "/applications(appId='"+app.AppID+"')", nil)
	require.Equal(t, 200, r.Status, "%s", r.Body)
	require.Equal(t, app.ObjectID, r.json(t)["id"])
	require.Equal(t, 200, c.do("GET", "/applications/"+app.ObjectID, nil).Status)
	require.Equal(t, 204, c.do("DELETE", "/applications/"+app.ObjectID, nil).Status)
	deleted = time.Now()
	require.Equal(t, 404, c.do("DELETE", "/applications(appId='"+app.AppID+"')", nil).Status)
	require.Equal(t, 404, c.do("DELETE", "/servicePrincipals/"+sp, nil).Status, "deleted with its application")
	require.Equal(t, 404, c.do("DELETE", jobs+"/"+prov, nil).Status)
	if time.Since(deleted) < lag/2 {
		require.Equal(t, 200, c.do("GET", "/servicePrincipals/"+sp, nil).Status, "read within the lag")
		require.Equal(t, 200, c.do("GET", "/servicePrincipals/"+sp+"/synchronization/secrets", nil).Status)
		require.Len(t, c.do("GET", "/servicePrincipals?$filter="+url.QueryEscape("appId eq '"+app.AppID+"'"), nil).json(t)["value"], 1)
	}
	require.Eventually(t, func() bool { return c.do("GET", "/servicePrincipals/"+sp, nil).Status == 404 }, 5*time.Second, 50*time.Millisecond)
	require.Equal(t, 404, c.do("GET", "/applications/"+app.ObjectID, nil).Status)
	require.Equal(t, 404, c.do("GET", jobs, nil).Status)
	require.Empty(t, c.do("GET", "/servicePrincipals?$filter="+url.QueryEscape("appId eq '"+app.AppID+"'"), nil).json(t)["value"])

	st = s.Snapshot(tenantA)
	require.Empty(t, st.Applications)
	require.Empty(t, st.ServicePrincipals)
	require.Empty(t, st.Jobs)
	require.Len(t, st.DeletedItems, 2)
	require.Equal(t, "application", st.DeletedItems[0].Type)
	require.Equal(t, app.ObjectID, st.DeletedItems[0].ID)
	require.Equal(t, "servicePrincipal", st.DeletedItems[1].Type)
	require.Equal(t, sp, st.DeletedItems[1].ID)
	require.Empty(t, s.Violations())
}

// Deleting a service principal leaves its application; the application
// still deletes afterwards.
func TestDeleteServicePrincipalKeepsTheApplication(t *testing.T) {
	s := newSim(t, Options{DeleteLag: -1})
	c := newCaller(t, s, tenantA)
	sp := c.instantiate("sp-first")
	app := s.Snapshot(tenantA).Applications[0]
	require.Equal(t, 204, c.do("DELETE", "/servicePrincipals/"+sp, nil).Status)
	require.Equal(t, 404, c.do("GET", "/servicePrincipals/"+sp, nil).Status, "no lag configured")
	require.Len(t, s.Snapshot(tenantA).Applications, 1)
	require.Equal(t, 204, c.do("DELETE", "/applications(appId='"+app.AppID+"')", nil).Status)
	require.Equal(t, 404, c.do("GET", "/applications(appId='"+app.AppID+"')", nil).Status)
	require.Empty(t, s.Snapshot(tenantA).Applications)

	// Another tenant's token sees nothing of it, and it is recorded.
	other := newCaller(t, s, tenantB)
	sp2 := c.instantiate("other")
	app2 := s.Snapshot(tenantA).Applications[0]
	require.Equal(t, 404, other.do("DELETE", "/applications/"+app2.ObjectID, nil).Status)
	require.Equal(t, 404, other.do("DELETE", "/servicePrincipals/"+sp2, nil).Status)
	require.Len(t, violationsOf(s, ViolationCrossTenantToken), 2)
	require.Len(t, s.Snapshot(tenantA).Applications, 1)
}

// The delete lag is on by default and a runtime fault.
func TestDeleteLagDefaultAndKnob(t *testing.T) {
	require.Equal(t, DefaultDeleteLag, newSim(t, Options{}).CurrentFaults().DeleteLag)
	s := newSim(t, Options{DeleteLag: -1})
	require.Zero(t, s.CurrentFaults().DeleteLag)
	ctl := &caller{t: t, s: s, c: httpClient(s)}
	r := ctl.do("POST", s.ControlURL()+"/faults", map[string]any{"deleteLag": "3s"})
	require.Equal(t, 200, r.Status, "%s", r.Body)
	require.Equal(t, 3*time.Second, s.CurrentFaults().DeleteLag)
	b, err := json.Marshal(s.CurrentFaults())
	require.NoError(t, err)
	require.Contains(t, string(b), `"deleteLag":"3s"`)
}

// The tenant's sync flag is tenant-wide: turning it off is recorded.
func TestTurningTheSyncFlagOffIsAViolation(t *testing.T) {
	s := newSim(t, Options{})
	c := newCaller(t, s, tenantA)
	require.Equal(t, 204, c.do("PATCH", "/organization/"+tenantA, map[string]any{"onPremisesSyncEnabled": false}).Status)
	require.Empty(t, s.Violations(), "it was not on")
	require.Equal(t, 204, c.do("PATCH", "/organization/"+tenantA, map[string]any{"onPremisesSyncEnabled": true}).Status)
	require.Equal(t, 204, c.do("PATCH", "/organization/"+tenantA, map[string]any{"onPremisesSyncEnabled": false}).Status)
	require.Len(t, violationsOf(s, ViolationSyncFlagTurnedOff), 1)
	require.False(t, s.Snapshot(tenantA).OnPremisesSyncEnabled, "answered as Graph does")
}
