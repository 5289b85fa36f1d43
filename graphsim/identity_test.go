package graphsim

import (
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Renaming a configuration: PATCH the service principal and the application
// (by object id, or by appId as an alternate key); only displayName is
// modelled.
func TestRenameServicePrincipalAndApplication(t *testing.T) {
	s := newSim(t, Options{})
	c := newCaller(t, s, tenantA)
	sp := c.instantiate("old name")
	st := s.Snapshot(tenantA)
	appID, objectID := st.Applications[0].AppID, st.Applications[0].ObjectID

	require.Equal(t, 204, c.do("PATCH", "/servicePrincipals/"+sp, map[string]any{"displayName": "new name"}).Status)
	r := c.do("PATCH", "/applications(appId='"+appID+"')", map[string]any{"displayName": "new name"})
	require.Equal(t, 204, r.Status, "%s", r.Body)
	st = s.Snapshot(tenantA)
	require.Equal(t, "new name", st.ServicePrincipals[0].DisplayName)
	require.Equal(t, "new name", st.Applications[0].DisplayName)
	require.Equal(t, 204, c.do("PATCH", "/applications/"+objectID, map[string]any{"displayName": "third"}).Status)
	require.Equal(t, "third", s.Snapshot(tenantA).Applications[0].DisplayName)
	require.Equal(t, 204, c.do("PATCH", "/applications(appId=%27"+appID+"%27)", map[string]any{"displayName": "fourth"}).Status, "quotes percent-encoded")

	r = c.do("PATCH", "/servicePrincipals/"+sp, map[string]any{"tags": []string{"x"}})
	require.Equal(t, 400, r.Status)
	require.Equal(t, "Request_BadRequest", r.errCode(t))
	require.Equal(t, 400, c.do("PATCH", "/servicePrincipals/"+sp, map[string]any{"displayName": " "}).Status)
	require.Equal(t, 404, c.do("PATCH", "/servicePrincipals/00000000-0000-4000-8000-000000000000", map[string]any{"displayName": "x"}).Status)
	require.Equal(t, 404, c.do("PATCH", "/applications(appId='00000000-0000-4000-8000-000000000000')", map[string]any{"displayName": "x"}).Status)

	// Another tenant's application is not found, and the attempt recorded.
	b := newCaller(t, s, tenantB)
	require.Equal(t, 404, b.do("PATCH", "/applications(appId='"+appID+"')", map[string]any{"displayName": "x"}).Status)
	require.Len(t, violationsOf(s, ViolationCrossTenantToken), 1)
	require.Equal(t, "fourth", s.Snapshot(tenantA).Applications[0].DisplayName)
}

// Two service principals of one tenant with one Domain secret are two
// configurations syncing one domain: recorded. A configuration of another
// domain under the same name is not a duplicate application.
func TestSecondConfigurationOfADomainIsAViolation(t *testing.T) {
	s := newSim(t, Options{})
	c := newCaller(t, s, tenantA)
	b := newCaller(t, s, tenantB)
	putAs := func(c *caller, sp, domain string) {
		t.Helper()
		r := c.do("PUT", "/servicePrincipals/"+sp+"/synchronization/secrets", map[string]any{"value": []map[string]string{{"key": "Domain", "value": `{"domain":"` + domain + `"}`}}})
		require.Equal(t, 204, r.Status, "%s", r.Body)
	}
	put := func(sp, domain string) { t.Helper(); putAs(c, sp, domain) }
	first := c.instantiate("contoso")
	put(first, "contoso.com")
	put(first, "contoso.com") // the same configuration again: fine
	other := c.instantiate("contoso")
	require.Empty(t, violationsOf(s, ViolationDuplicateApplication), "the first is a configured domain's: another may share its name")
	put(other, "eu.contoso.com")
	require.Empty(t, s.Violations())

	third := c.instantiate("elsewhere")
	put(third, "Contoso.COM")
	v := violationsOf(s, ViolationDuplicateDomain)
	require.Len(t, v, 1)
	require.Contains(t, v[0].Detail, "contoso.com is already synced by service principal "+first)
	put(c.instantiate("fabrikam"), "fabrikam.com")
	putAs(b, b.instantiate("contoso"), "contoso.com") // another tenant's configuration of its own
	require.Len(t, violationsOf(s, ViolationDuplicateDomain), 1)
}

// A configuration made by the portal may have applicationTemplateId null: a
// lookup by template id misses it, a lookup by name finds it.
func TestSeededPortalConfiguration(t *testing.T) {
	s := newSim(t, Options{})
	c := newCaller(t, s, tenantA)
	ctl := &caller{t: t, s: s, c: httpClient(s)}
	r := ctl.do("POST", s.ControlURL()+"/tenants/"+tenantA+"/configurations", map[string]any{"displayName": "Portal sync", "noTemplateId": true, "domain": "contoso.com", "jobs": []string{"AD2AADProvisioning"}})
	require.Equal(t, 201, r.Status, "%s", r.Body)
	seeded := r.json(t)
	sp := seeded["servicePrincipalId"].(string)
	require.True(t, strings.HasPrefix(seeded["jobs"].(map[string]any)["AD2AADProvisioning"].(string), "AD2AADProvisioning."))
	require.Equal(t, 400, ctl.do("POST", s.ControlURL()+"/tenants/"+tenantA+"/configurations", map[string]any{"displayName": "x", "jobs": []string{"Nope"}}).Status)

	list := func(filter string) []any {
		r := c.do("GET", "/servicePrincipals?%24filter="+strings.ReplaceAll(url.QueryEscape(filter), "+", "%20"), nil)
		require.Equal(t, 200, r.Status, "%s", r.Body)
		return r.json(t)["value"].([]any)
	}
	require.Empty(t, list("applicationTemplateId eq '"+AD2AADTemplateID+"'"))
	named := list("displayName eq 'portal sync'")
	require.Len(t, named, 1)
	require.Nil(t, named[0].(map[string]any)["applicationTemplateId"], "null, as the portal leaves it")
	r = c.do("GET", "/servicePrincipals/"+sp+"/synchronization/secrets", nil)
	require.Equal(t, 200, r.Status)
	require.Contains(t, string(r.Body), `{\"domain\":\"contoso.com\"}`)
	require.Len(t, c.do("GET", "/servicePrincipals/"+sp+"/synchronization/jobs", nil).json(t)["value"], 1)
	require.Empty(t, s.Violations())
}
