package graphsim

import (
	"encoding/json"
	"testing"
	"time"

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

// Faults read durations as Go duration strings or integer nanoseconds, and
// name the knob a bad one was given for.
func TestFaultsJSONDurations(t *testing.T) {
	var f Faults
	require.NoError(t, json.Unmarshal([]byte(`{"throttleRate":0.5,"latency":"2s","jobReadLag":7,"deleteLag":null}`), &f))
	require.Equal(t, Faults{ThrottleRate: 0.5, Latency: 2 * time.Second, JobReadLag: 7}, f)
	b, err := json.Marshal(f)
	require.NoError(t, err)
	require.JSONEq(t, `{"throttleRate":0.5,"unavailableRate":0,"retryAfterSeconds":0,"discoverFailures":0,"tokenEndpointDown":false,
		"latency":"2s","replicationLag":"0s","jobReadLag":"7ns","quarantineReevaluation":"24h0m0s","deleteLag":"0s"}`, string(b))

	// A bad knob is named as a caller spells it, with why.
	for body, want := range map[string]string{
		`{"latency":"3x"}`:        `latency: "3x" (time: unknown unit "x" in duration "3x") is not a duration (a string such as "250ms", or integer nanoseconds)`,
		`{"deleteLag":1.5}`:       `deleteLag: 1.5 is not a duration`,
		`{"replicationLag":true}`: `replicationLag: true is not a duration`,
		`{"throttleRate":"half"}`: `throttleRate: string is not a float64`,
	} {
		err := json.Unmarshal([]byte(body), &f)
		require.ErrorContains(t, err, want, body)
		require.NotContains(t, err.Error(), "faults", body)
	}
}
