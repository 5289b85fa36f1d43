package graphsim

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// control calls the control API.
func control(t *testing.T, s *Server, method, path, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.ControlURL()+path, rd)
	require.NoError(t, err)
	res, err := httpClient(s).Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// withCredentialData is the initial provisioning schema with the
// CredentialData mapping in the users and inetOrgPersons object mappings.
func withCredentialData(t *testing.T, sp, job string) []byte {
	t.Helper()
	var doc map[string]any
	require.NoError(t, json.Unmarshal(InitialProvisioningSchema(sp, job), &doc))
	n := 0
	for _, r := range doc["synchronizationRules"].([]any) {
		for _, m := range r.(map[string]any)["objectMappings"].([]any) {
			om := m.(map[string]any)
			if name, _ := om["name"].(string); strings.HasPrefix(name, "Provision Active Directory users") || name == "Provision Active Directory inetOrgPersons" {
				om["attributeMappings"] = append(om["attributeMappings"].([]any), map[string]any{"targetAttributeName": "CredentialData",
					"source": map[string]any{"expression": "[PasswordHash]", "name": "PasswordHash", "type": "Attribute"}})
				n++
			}
		}
	}
	require.Equal(t, 2, n)
	b, err := json.Marshal(doc)
	require.NoError(t, err)
	return b
}

// The control API makes the drift an admin makes in the portal: the sync flag
// turned off, a secret key gone, the CredentialData mapping removed, a job
// deleted. A Graph client sees each as it would.
func TestControlMakesDrift(t *testing.T) {
	s := newSim(t, Options{})
	c := newCaller(t, s, tenantA)
	require.Equal(t, 204, c.do("PATCH", "/organization/"+tenantA, map[string]any{"onPremisesSyncEnabled": true}).Status)
	sp := c.instantiate("contoso.com")
	job := c.createJob(sp, "AD2AADProvisioning")
	r := c.do("PUT", "/servicePrincipals/"+sp+"/synchronization/secrets", map[string]any{"value": []map[string]string{
		{"key": "Domain", "value": `{"domain":"contoso.com"}`}, {"key": "AppKey", "value": `{"appKeyScenario":"AD2AADPasswordHash"}`},
		{"key": "SyncNotificationSettings", "value": `{"Enabled":false,"DeleteThresholdEnabled":true,"DeleteThresholdValue":500}`}}})
	require.Equal(t, 204, r.Status, "%s", r.Body)
	require.Equal(t, 204, c.do("PUT", "/servicePrincipals/"+sp+"/synchronization/jobs/"+job+"/schema", withCredentialData(t, sp, job)).Status)
	require.Equal(t, 1, s.Snapshot(tenantA).CredentialDataMappings[sp]["Provision Active Directory users"])

	// The sync flag off: false (no longer null), and being deactivated.
	code, body := control(t, s, "POST", "/tenants/"+tenantA+"/sync-flag", `{"enabled":false}`)
	require.Equal(t, 204, code, body)
	org := c.do("GET", "/organization/"+tenantA, nil).json(t)
	require.Equal(t, false, org["onPremisesSyncEnabled"])
	require.False(t, s.Snapshot(tenantA).SyncDeactivatingUntil.IsZero())

	// A secret key gone.
	code, body = control(t, s, "DELETE", "/tenants/"+tenantA+"/servicePrincipals/"+sp+"/secrets/SyncNotificationSettings", "")
	require.Equal(t, 204, code, body)
	require.NotContains(t, string(c.do("GET", "/servicePrincipals/"+sp+"/synchronization/secrets", nil).Body), "SyncNotificationSettings")
	require.Len(t, s.Snapshot(tenantA).Secrets[sp], 2)
	code, _ = control(t, s, "DELETE", "/tenants/"+tenantA+"/servicePrincipals/"+sp+"/secrets/SyncNotificationSettings", "")
	require.Equal(t, 404, code, "already gone")

	// The CredentialData mapping removed from the schema.
	code, body = control(t, s, "DELETE", "/tenants/"+tenantA+"/jobs/"+job+"/credentialdata", "")
	require.Equal(t, 200, code)
	require.JSONEq(t, `{"removed":2}`, body)
	require.Zero(t, s.Snapshot(tenantA).CredentialDataMappings[sp]["Provision Active Directory users"])
	require.NotContains(t, string(c.do("GET", "/servicePrincipals/"+sp+"/synchronization/jobs/"+job+"/schema", nil).Body), `"targetAttributeName":"CredentialData"`)
	_, body = control(t, s, "DELETE", "/tenants/"+tenantA+"/jobs/"+job+"/credentialdata", "")
	require.JSONEq(t, `{"removed":0}`, body)

	// A job deleted.
	code, body = control(t, s, "DELETE", "/tenants/"+tenantA+"/jobs/"+job, "")
	require.Equal(t, 204, code, body)
	listed := func() []any {
		return c.do("GET", "/servicePrincipals/"+sp+"/synchronization/jobs", nil).json(t)["value"].([]any)
	}
	require.Len(t, listed(), 1, "reads lag behind an admin's delete as behind a Graph DELETE")
	require.Eventually(t, func() bool { return len(listed()) == 0 }, 10*time.Second, 100*time.Millisecond)
	code, _ = control(t, s, "DELETE", "/tenants/"+tenantA+"/jobs/"+job, "")
	require.Equal(t, 404, code)

	// Unknown tenants and bad bodies are refused.
	code, _ = control(t, s, "POST", "/tenants/"+tenantB+"/sync-flag", `{"enabled":false}`)
	require.Equal(t, 404, code)
	code, _ = control(t, s, "POST", "/tenants/"+tenantA+"/sync-flag", `{}`)
	require.Equal(t, 400, code)
	require.Error(t, s.DeleteJob(tenantB, job))
	require.Error(t, s.DeleteSecret(tenantA, "nope", "Domain"))
	_, err := s.RemoveCredentialDataMapping(tenantA, "nope")
	require.Error(t, err)
	require.Empty(t, s.Violations())
}

// Turning directory sync off runs for a while (up to 72 hours in Entra), and
// Graph refuses to turn it on again meanwhile, whoever turned it off (a Graph
// PATCH, the portal); afterwards it can be.
func TestSyncDeactivationRefusesTurningSyncOnUntilItEnds(t *testing.T) {
	s := newSim(t, Options{SyncDeactivation: 300 * time.Millisecond})
	c := newCaller(t, s, tenantA)
	on := map[string]any{"onPremisesSyncEnabled": true}
	require.Nil(t, c.do("GET", "/organization/"+tenantA, nil).json(t)["onPremisesSyncEnabled"], "null until sync was ever on")
	require.Equal(t, 204, c.do("PATCH", "/organization/"+tenantA, on).Status)
	require.Equal(t, 204, c.do("PATCH", "/organization/"+tenantA, map[string]any{"onPremisesSyncEnabled": false}).Status)
	r := c.do("PATCH", "/organization/"+tenantA, on)
	require.Equal(t, 400, r.Status)
	require.Equal(t, "Request_BadRequest", r.errCode(t))
	require.Contains(t, r.errMessage(t), "cannot be turned on again until that completes")
	require.Eventually(t, func() bool { return s.Snapshot(tenantA).SyncDeactivatingUntil.IsZero() }, 5*time.Second, 20*time.Millisecond)
	require.Equal(t, 204, c.do("PATCH", "/organization/"+tenantA, on).Status)
	require.Equal(t, true, c.do("GET", "/organization/"+tenantA, nil).json(t)["onPremisesSyncEnabled"])

	// The default is Entra's: up to 72 hours.
	d := newSim(t, Options{})
	dc := newCaller(t, d, tenantA)
	require.Equal(t, 204, dc.do("PATCH", "/organization/"+tenantA, on).Status)
	require.NoError(t, d.SetOnPremisesSyncEnabled(tenantA, false))
	require.WithinDuration(t, time.Now().Add(DefaultSyncDeactivation), d.Snapshot(tenantA).SyncDeactivatingUntil, time.Minute)
	require.Equal(t, 400, dc.do("PATCH", "/organization/"+tenantA, on).Status)
	require.Error(t, d.SetOnPremisesSyncEnabled(tenantB, false), "unknown tenant")

	// Negative: no deactivation.
	n := newSim(t, Options{SyncDeactivation: -1})
	nc := newCaller(t, n, tenantA)
	require.Equal(t, 204, nc.do("PATCH", "/organization/"+tenantA, on).Status)
	require.NoError(t, n.SetOnPremisesSyncEnabled(tenantA, false))
	require.Equal(t, 204, nc.do("PATCH", "/organization/"+tenantA, on).Status)
}
