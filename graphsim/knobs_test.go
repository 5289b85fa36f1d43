package graphsim

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// RejectNotificationSettings answers a secrets PUT carrying
// SyncNotificationSettings like the sync back end refusing them (400
// UnknownError wrapping InvalidNotificationSettings), and changes nothing.
func TestRejectNotificationSettings(t *testing.T) {
	s := newSim(t, Options{})
	c := newCaller(t, s, tenantA)
	sp := c.instantiate("rejected")
	path := "/servicePrincipals/" + sp + "/synchronization/secrets"
	kv := func(k, v string) map[string]any { return map[string]any{"key": k, "value": v} }
	body := map[string]any{"value": []any{
		kv("Domain", `{"domain":"contoso.com"}`),
		kv("SyncNotificationSettings", `{"Enabled":false,"DeleteThresholdEnabled":true,"DeleteThresholdValue":50}`),
	}}
	s.SetTenantOptions(tenantA, TenantOptions{RejectNotificationSettings: true})
	r := c.do("PUT", path, body)
	require.Equal(t, 400, r.Status)
	require.Equal(t, "UnknownError", r.errCode(t))
	require.Contains(t, r.errMessage(t), `"code":"InvalidNotificationSettings"`)
	require.Empty(t, s.Snapshot(tenantA).Secrets[sp])

	s.SetTenantOptions(tenantA, TenantOptions{})
	require.Equal(t, 204, c.do("PUT", path, body).Status)
}

// IssuedTokens and Tenants list what the simulator handed out and knows.
func TestIssuedTokensAndTenants(t *testing.T) {
	s := newSim(t, Options{})
	ta, tb := token(t, s, tenantA), token(t, s, tenantB)
	require.ElementsMatch(t, []string{ta, tb}, s.IssuedTokens())
	require.Equal(t, []string{tenantA, tenantB}, s.Tenants())
}
