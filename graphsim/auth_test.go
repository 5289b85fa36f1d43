package graphsim

import (
	"context"
	"net/url"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/stretchr/testify/require"
)

func TestAzidentityClientSecretCredential(t *testing.T) {
	s := newSim(t, Options{})
	tok := token(t, s, tenantA)
	require.NotEmpty(t, tok)
	require.Equal(t, 1, s.Stats().TokensIssued)

	// The token works against Graph.
	c := &caller{t: t, s: s, c: httpClient(s), tok: tok}
	r := c.do("GET", "/organization/"+tenantA, nil)
	require.Equal(t, 200, r.Status, "%s", r.Body)
	require.Equal(t, tenantA, r.json(t)["id"])

	// Domain-name tenants are accepted.
	require.NotEmpty(t, token(t, s, "contoso.onmicrosoft.com"))

	// Wrong secret: the real credential reports AADSTS7000215.
	_, err := credential(t, s, tenantA, "wrong").GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{graphScope}})
	require.Error(t, err)
	require.Contains(t, err.Error(), "AADSTS7000215")
	require.Equal(t, 2, s.Stats().TokensIssued)
}

func TestTokenEndpointErrors(t *testing.T) {
	s := newSim(t, Options{KnownTenants: []string{tenantA}})
	form := func(client, secret, scope string) url.Values {
		return url.Values{"grant_type": {"client_credentials"}, "client_id": {client}, "client_secret": {secret}, "scope": {scope}}
	}
	r := postForm(t, s, tenantA, form(testClient, testSecret, graphScope))
	require.Equal(t, 200, r.Status, "%s", r.Body)
	m := r.json(t)
	require.Equal(t, "Bearer", m["token_type"])
	require.EqualValues(t, 3599, m["expires_in"])
	require.EqualValues(t, 3599, m["ext_expires_in"])

	r = postForm(t, s, tenantA, form(testClient, "nope", graphScope))
	require.Equal(t, 401, r.Status)
	require.Equal(t, "invalid_client", r.json(t)["error"])
	require.Contains(t, r.json(t)["error_description"], "AADSTS7000215")
	require.Contains(t, r.json(t)["error_description"], testClient)
	require.EqualValues(t, []any{float64(7000215)}, r.json(t)["error_codes"])

	r = postForm(t, s, tenantA, form("99999999-2222-4333-8444-555555555555", testSecret, graphScope))
	require.Equal(t, 400, r.Status)
	require.Contains(t, r.json(t)["error_description"], "AADSTS700016")

	r = postForm(t, s, tenantB, form(testClient, testSecret, graphScope))
	require.Equal(t, 400, r.Status)
	require.Equal(t, "invalid_request", r.json(t)["error"])
	require.Contains(t, r.json(t)["error_description"], "AADSTS90002: Tenant '"+tenantB+"' not found")

	r = postForm(t, s, tenantA, form(testClient, testSecret, "https://management.azure.com/.default"))
	require.Equal(t, 400, r.Status)
	require.Contains(t, r.json(t)["error_description"], "AADSTS500011")

	// Through azidentity too: unknown tenant fails.
	_, err := credential(t, s, tenantB, testSecret).GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{graphScope}})
	require.ErrorContains(t, err, "AADSTS90002")

	s.SetFaults(Faults{TokenEndpointDown: true})
	r = postForm(t, s, tenantA, form(testClient, testSecret, graphScope))
	require.Equal(t, 503, r.Status)
	s.SetFaults(Faults{})
	require.Equal(t, 1, s.Stats().TokensIssued)
	require.Equal(t, 1, s.Stats().Requests["POST /{tenant}/oauth2/v2.0/token 503"])
}

func TestGraphRequiresBearer(t *testing.T) {
	s := newSim(t, Options{})
	c := &caller{t: t, s: s, c: httpClient(s)}
	r := c.do("GET", "/servicePrincipals", nil, "client-request-id", "my-crid")
	require.Equal(t, 401, r.Status)
	require.Equal(t, "InvalidAuthenticationToken", r.errCode(t))
	require.Equal(t, "my-crid", r.Header.Get("client-request-id"))
	require.NotEmpty(t, r.Header.Get("request-id"))
	inner := r.json(t)["error"].(map[string]any)["innerError"].(map[string]any)
	require.Equal(t, r.Header.Get("request-id"), inner["request-id"])
	require.Equal(t, "my-crid", inner["client-request-id"])
	require.NotEmpty(t, inner["date"])

	c.tok = "made-up"
	r = c.do("GET", "/servicePrincipals", nil)
	require.Equal(t, 401, r.Status)
	require.Equal(t, "InvalidAuthenticationToken", r.errCode(t))
	require.Equal(t, 2, s.Stats().Requests["GET /servicePrincipals 401"])
}

func TestCrossTenantAccess(t *testing.T) {
	s := newSim(t, Options{})
	a, b := newCaller(t, s, tenantA), newCaller(t, s, tenantB)
	sp := a.instantiate("cloudsync-a")

	r := b.do("GET", "/servicePrincipals/"+sp, nil)
	require.Equal(t, 404, r.Status)
	require.Equal(t, "Request_ResourceNotFound", r.errCode(t))
	r = b.do("GET", "/servicePrincipals/"+sp+"/synchronization/jobs", nil)
	require.Equal(t, 404, r.Status)
	v := violationsOf(s, ViolationCrossTenantToken)
	require.Len(t, v, 2)
	require.Equal(t, tenantB, v[0].Tenant)

	// Listing is scoped to the token's tenant.
	r = b.do("GET", "/servicePrincipals", nil)
	require.Empty(t, r.json(t)["value"])

	r = b.do("PATCH", "/organization/"+tenantA, map[string]any{"onPremisesSyncEnabled": true})
	require.Equal(t, 403, r.Status)
	require.Equal(t, "Authorization_RequestDenied", r.errCode(t))
	require.Len(t, violationsOf(s, ViolationCrossTenantToken), 3)
	require.False(t, s.Snapshot(tenantA).OnPremisesSyncEnabled)

	r = a.do("PATCH", "/organization/"+tenantA, map[string]any{"onPremisesSyncEnabled": true})
	require.Equal(t, 204, r.Status, "%s", r.Body)
	require.True(t, s.Snapshot(tenantA).OnPremisesSyncEnabled)
	require.Equal(t, true, a.do("GET", "/organization/"+tenantA, nil).json(t)["onPremisesSyncEnabled"])
	require.Len(t, violationsOf(s, ViolationCrossTenantToken), 3)
}
