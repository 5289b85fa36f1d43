package graphsim

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestInstantiateAndFilter(t *testing.T) {
	s := newSim(t, Options{})
	c := newCaller(t, s, tenantA)

	r := c.do("POST", "/applicationTemplates/"+AD2AADTemplateID+"/instantiate", map[string]any{"displayName": "CloudSync contoso"})
	require.Equal(t, 201, r.Status, "%s", r.Body)
	m := r.json(t)
	require.Equal(t, "https://graph.microsoft.com/beta/$metadata#microsoft.graph.applicationServicePrincipal", m["@odata.context"])
	app, sp := m["application"].(map[string]any), m["servicePrincipal"].(map[string]any)
	require.NotEmpty(t, app["objectId"])
	require.NotContains(t, app, "id")
	require.NotContains(t, sp, "id")
	require.Equal(t, AD2AADTemplateID, sp["applicationTemplateId"])
	require.Equal(t, app["appId"], sp["appId"])
	require.Equal(t, true, sp["accountEnabled"])
	spID := sp["objectId"].(string)
	require.Empty(t, s.Violations())

	// A retry creates a second app and SP, and is recorded.
	sp2 := c.instantiate("cloudsync CONTOSO")
	require.NotEqual(t, spID, sp2)
	st := s.Snapshot(tenantA)
	require.Len(t, st.Applications, 2)
	require.Len(t, st.ServicePrincipals, 2)
	require.Len(t, violationsOf(s, ViolationDuplicateApplication), 1)
	c.instantiate("other")

	r = c.do("POST", "/applicationTemplates/8adf8e6e-67b2-4cf2-a259-e3dc5476c621/instantiate", map[string]any{"displayName": "x"})
	require.Equal(t, 404, r.Status)
	require.Equal(t, "Request_ResourceNotFound", r.errCode(t))
	require.Contains(t, r.errMessage(t), "Resource '8adf8e6e-67b2-4cf2-a259-e3dc5476c621' does not exist")
	r = c.do("POST", "/applicationTemplates/"+AD2AADTemplateID+"/instantiate", map[string]any{})
	require.Equal(t, 400, r.Status)
	require.Equal(t, "Request_BadRequest", r.errCode(t))
	r = c.do("POST", "/applicationTemplates/"+AD2AADTemplateID+"/instantiate", "{displayName: [your app name here]}")
	require.Equal(t, 400, r.Status)
	require.Len(t, s.Snapshot(tenantA).Applications, 3)

	list := func(filter string) resp {
		// Encoded the way the SDK does it (%24filter, %20).
		q := "%24filter=" + strings.ReplaceAll(url.QueryEscape(filter), "+", "%20")
		return c.do("GET", "/servicePrincipals?"+q, nil)
	}
	ids := func(r resp) []string {
		require.Equal(t, 200, r.Status, "%s", r.Body)
		var out []string
		for _, v := range r.json(t)["value"].([]any) {
			e := v.(map[string]any)
			require.NotContains(t, e, "objectId")
			out = append(out, e["id"].(string))
		}
		return out
	}
	require.Equal(t, []string{spID, sp2}, ids(list("applicationTemplateId eq '"+AD2AADTemplateID+"' and displayName eq 'cloudsync contoso'")))
	require.Equal(t, []string{spID, sp2}, ids(list("startswith(DisplayName, 'CloudSync')")))
	require.Len(t, ids(list("ApplicationTemplateId eq '"+AD2AADTemplateID+"'")), 3)
	require.Empty(t, ids(list("displayName eq 'it''s'")))
	require.Len(t, ids(c.do("GET", "/servicePrincipals", nil)), 3)

	r = list("tags/any(t:t eq 'x')")
	require.Equal(t, 400, r.Status)
	require.Equal(t, "Request_UnsupportedQuery", r.errCode(t))
	r = list("displayName ne 'x'")
	require.Equal(t, 400, r.Status)
	require.Equal(t, "Request_UnsupportedQuery", r.errCode(t))
	r = list("displayName eq 'unterminated")
	require.Equal(t, 400, r.Status)
}

func TestReplicationLag(t *testing.T) {
	s := newSim(t, Options{ReplicationLag: 400 * time.Millisecond})
	c := newCaller(t, s, tenantA)
	sp := c.instantiate("lagged")
	r := c.do("GET", "/servicePrincipals/"+sp, nil)
	require.Equal(t, 404, r.Status)
	require.Equal(t, "Request_ResourceNotFound", r.errCode(t))
	r = c.do("POST", "/servicePrincipals/"+sp+"/synchronization/jobs", map[string]any{"templateId": "AD2AADProvisioning"})
	require.Equal(t, 404, r.Status)
	require.Empty(t, s.Snapshot(tenantA).Jobs)
	// Known leniency: the list shows it already.
	require.Len(t, c.do("GET", "/servicePrincipals", nil).json(t)["value"], 1)

	require.Eventually(t, func() bool { return c.do("GET", "/servicePrincipals/"+sp, nil).Status == 200 }, 3*time.Second, 50*time.Millisecond)
	require.Equal(t, sp, c.do("GET", "/servicePrincipals/"+sp, nil).json(t)["id"])
	c.createJob(sp, "AD2AADProvisioning")
	require.Empty(t, violationsOf(s, ViolationCrossTenantToken))
}

func TestThrottlingLeavesStateUnchanged(t *testing.T) {
	s := newSim(t, Options{Seed: 7})
	c := newCaller(t, s, tenantA)
	sp := c.instantiate("before")
	writes := s.Stats().GraphWrites

	s.SetFaults(Faults{ThrottleRate: 1.0})
	for i := 0; i < 5; i++ {
		r := c.do("POST", "/applicationTemplates/"+AD2AADTemplateID+"/instantiate", map[string]any{"displayName": "throttled"})
		require.Equal(t, 429, r.Status)
		require.Equal(t, "TooManyRequests", r.errCode(t))
		ra := r.Header.Get("Retry-After")
		require.Contains(t, ra, ".", "Retry-After %q should be decimal", ra)
		v, err := strconv.ParseFloat(ra, 64)
		require.NoError(t, err)
		require.True(t, v >= 0.2 && v < 1.0, "%v", v)
		require.LessOrEqual(t, len(ra)-strings.Index(ra, ".")-1, 3)
	}
	r := c.do("PUT", "/servicePrincipals/"+sp+"/synchronization/secrets", map[string]any{"value": []any{}})
	require.Equal(t, 429, r.Status)
	require.Len(t, s.Snapshot(tenantA).Applications, 1)
	require.Equal(t, writes, s.Stats().GraphWrites)
	require.Equal(t, 5, s.Stats().Requests["POST /applicationTemplates/{id}/instantiate 429"])

	s.SetFaults(Faults{ThrottleRate: 1.0, RetryAfterSeconds: 2.128})
	r = c.do("GET", "/servicePrincipals", nil)
	require.Equal(t, "2.128", r.Header.Get("Retry-After"))

	s.SetFaults(Faults{UnavailableRate: 1.0})
	withRA := 0
	for i := 0; i < 20; i++ {
		r := c.do("GET", "/servicePrincipals/"+sp, nil)
		require.Equal(t, 503, r.Status)
		require.Equal(t, "ServiceUnavailable", r.errCode(t))
		if r.Header.Get("Retry-After") != "" {
			withRA++
		}
	}
	require.True(t, withRA > 0 && withRA < 20, "some but not all 503s carry Retry-After: %d", withRA)

	s.SetFaults(Faults{})
	require.Equal(t, 201, c.do("POST", "/applicationTemplates/"+AD2AADTemplateID+"/instantiate", map[string]any{"displayName": "after"}).Status)
}

func TestSecrets(t *testing.T) {
	s := newSim(t, Options{})
	c := newCaller(t, s, tenantA)
	sp := c.instantiate("secrets")
	path := "/servicePrincipals/" + sp + "/synchronization/secrets"

	r := c.do("GET", path, nil)
	require.Equal(t, 200, r.Status)
	require.Equal(t, []any{}, r.json(t)["value"])

	kv := func(k, v string) map[string]any { return map[string]any{"key": k, "value": v} }
	notif := `{"Enabled":true,"Recipients":"a@b.com; ops@contoso.com","DeleteThresholdEnabled":true,"DeleteThresholdValue":50}`
	r = c.do("PUT", path, map[string]any{"value": []any{
		kv("Domain", `{"domain":"contoso.com"}`),
		kv("AppKey", `{"appKeyScenario":"AD2AADPasswordHash"}`),
		kv("SyncNotificationSettings", notif),
		kv("SecretToken", "tok"),
	}})
	require.Equal(t, 204, r.Status, "%s", r.Body)

	got := map[string]string{}
	for _, v := range c.do("GET", path, nil).json(t)["value"].([]any) {
		e := v.(map[string]any)
		got[e["key"].(string)] = e["value"].(string)
	}
	require.Equal(t, map[string]string{"Domain": `{"domain":"contoso.com"}`, "AppKey": "*", "SyncNotificationSettings": notif, "SecretToken": "*"}, got)
	require.Equal(t, `{"appKeyScenario":"AD2AADPasswordHash"}`, s.Snapshot(tenantA).Secrets[sp]["AppKey"])

	// PUT replaces the whole set.
	r = c.do("PUT", path, map[string]any{"value": []any{kv("Domain", `{"domain":"fabrikam.com"}`)}})
	require.Equal(t, 204, r.Status)
	require.Equal(t, map[string]string{"Domain": `{"domain":"fabrikam.com"}`}, s.Snapshot(tenantA).Secrets[sp])

	// Writing back a masked value is stored and recorded.
	require.Empty(t, violationsOf(s, ViolationMaskedSecretWritten))
	r = c.do("PUT", path, map[string]any{"value": []any{kv("Domain", `{"domain":"fabrikam.com"}`), kv("AppKey", "*")}})
	require.Equal(t, 204, r.Status)
	require.Equal(t, "*", s.Snapshot(tenantA).Secrets[sp]["AppKey"])
	require.Len(t, violationsOf(s, ViolationMaskedSecretWritten), 1)

	before := s.Snapshot(tenantA).Secrets[sp]
	for _, bad := range []string{
		"",
		`{"Enabled":true}`,
		`{"Enabled":true,"Recipients":"not-an-email"}`,
		`{"Enabled":"yes"}`,
		`{"Enabled":false,"DeleteThresholdEnabled":true,"DeleteThresholdValue":0}`,
		`{"Enabled":false,"DeleteThresholdValue":"50"}`,
	} {
		r = c.do("PUT", path, map[string]any{"value": []any{kv("SyncNotificationSettings", bad)}})
		require.Equal(t, 400, r.Status, "value %q", bad)
		require.Equal(t, "UnknownError", r.errCode(t))
		var inner struct {
			Error struct {
				Code    string `json:"code"`
				Message any    `json:"message"`
				Details []any  `json:"details"`
			} `json:"error"`
		}
		require.NoError(t, json.Unmarshal([]byte(r.errMessage(t)), &inner), "message must be a JSON string")
		require.Equal(t, "InvalidNotificationSettings", inner.Error.Code)
		require.Nil(t, inner.Error.Message)
	}
	require.Equal(t, before, s.Snapshot(tenantA).Secrets[sp], "a refused PUT changes nothing")

	r = c.do("PUT", path, map[string]any{"value": []any{kv("AppKey", `{"appKeyScenario":"PHS"}`)}})
	require.Equal(t, 400, r.Status)
	r = c.do("PUT", path, map[string]any{"value": []any{kv("Domain", `contoso.com`)}})
	require.Equal(t, 400, r.Status)

	// Disabled notifications need no recipients; threshold defaults.
	r = c.do("PUT", path, map[string]any{"value": []any{kv("SyncNotificationSettings", `{"Enabled":false,"DeleteThresholdEnabled":false}`)}})
	require.Equal(t, 204, r.Status, "%s", r.Body)
	// Secret values never reach the request log.
	for _, l := range s.RequestLog() {
		require.NotContains(t, l.Body, "contoso")
	}
}

func TestGzipRequestBodies(t *testing.T) {
	s := newSim(t, Options{})
	c := newCaller(t, s, tenantA)
	sp := c.instantiate("gzip")
	path := "/servicePrincipals/" + sp + "/synchronization/secrets"
	body := []byte(`{"value":[{"key":"Domain","value":"{\"domain\":\"gz.example.com\"}"}]}`)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(body)
	require.NoError(t, zw.Close())

	r := c.do("PUT", path, buf.Bytes(), "Content-Encoding", "gzip")
	require.Equal(t, 204, r.Status, "%s", r.Body)
	require.Equal(t, `{"domain":"gz.example.com"}`, s.Snapshot(tenantA).Secrets[sp]["Domain"])

	// kiota-http-go #183: a retried body sent uncompressed but labelled gzip.
	plain := []byte(`{"value":[]}`)
	r = c.do("PUT", path, plain, "Content-Encoding", "gzip")
	require.Equal(t, 400, r.Status)
	require.Equal(t, "BadRequest", r.errCode(t))
	require.Equal(t, `{"domain":"gz.example.com"}`, s.Snapshot(tenantA).Secrets[sp]["Domain"])
}

func TestSeedDeterminism(t *testing.T) {
	run := func(seed int64) (ids []string, statuses []int) {
		s := newSim(t, Options{Seed: seed})
		c := newCaller(t, s, tenantA)
		sp := c.instantiate("det")
		ids = append(ids, sp, c.createJob(sp, "AD2AADProvisioning"))
		st := s.Snapshot(tenantA)
		ids = append(ids, st.Applications[0].ObjectID, st.Applications[0].AppID)
		s.SetFaults(Faults{ThrottleRate: 0.3, UnavailableRate: 0.2})
		for i := 0; i < 30; i++ {
			r := c.do("GET", "/servicePrincipals", nil)
			statuses = append(statuses, r.Status)
			if r.Status == 429 {
				ids = append(ids, r.Header.Get("Retry-After"))
			}
		}
		return ids, statuses
	}
	ids1, st1 := run(42)
	ids2, st2 := run(42)
	ids3, st3 := run(43)
	require.Equal(t, ids1, ids2)
	require.Equal(t, st1, st2)
	require.NotEqual(t, ids1[0], ids3[0])
	require.NotEqual(t, st1, st3)
	require.Contains(t, st1, 429)
	require.Contains(t, st1, 503)
	require.Contains(t, st1, 200)
}

func TestControlAPI(t *testing.T) {
	s := newSim(t, Options{})
	c := newCaller(t, s, tenantA)
	sp := c.instantiate("control")
	job := c.createJob(sp, "AD2AADProvisioning")
	ctl := &caller{t: t, s: s, c: httpClient(s)}

	r := ctl.do("POST", s.ControlURL()+"/faults", map[string]any{"throttleRate": 1, "replicationLag": "2s", "latency": 1000})
	require.Equal(t, 200, r.Status, "%s", r.Body)
	require.Equal(t, Faults{ThrottleRate: 1, ReplicationLag: 2 * time.Second, Latency: time.Microsecond}, s.CurrentFaults())
	require.Equal(t, 429, c.do("GET", "/servicePrincipals", nil).Status)
	require.Equal(t, 200, ctl.do("POST", s.ControlURL()+"/faults", map[string]any{}).Status)

	r = ctl.do("POST", s.ControlURL()+"/tenants/"+tenantA+"/jobs/"+job+"/deletions", map[string]any{"count": 7})
	require.Equal(t, 204, r.Status, "%s", r.Body)
	r = ctl.do("POST", s.ControlURL()+"/tenants/"+tenantA+"/jobs/"+job+"/quarantine", map[string]any{"reason": "EncounteredQuarantineException", "errorCode": "AzureActiveDirectoryInvalidCredential"})
	require.Equal(t, 204, r.Status, "%s", r.Body)
	r = ctl.do("POST", s.ControlURL()+"/tenants/"+tenantA+"/options", map[string]any{"missingPermission": "Synchronization.ReadWrite.All"})
	require.Equal(t, 200, r.Status)

	var st TenantState
	r = ctl.do("GET", s.ControlURL()+"/state?tenant="+tenantA, nil)
	require.NoError(t, json.Unmarshal(r.Body, &st))
	require.Equal(t, 7, st.Jobs[0].PendingDeletions)
	require.Equal(t, "Quarantine", st.Jobs[0].StatusCode)
	require.Equal(t, "EncounteredQuarantineException", st.Jobs[0].QuarantineReason)
	require.Equal(t, "Synchronization.ReadWrite.All", st.Options.MissingPermission)

	// Missing permission: every write is refused, reads work.
	r = c.do("POST", "/servicePrincipals/"+sp+"/synchronization/jobs/"+job+"/start", nil)
	require.Equal(t, 403, r.Status)
	require.Equal(t, "Authorization_RequestDenied", r.errCode(t))
	require.Equal(t, "Insufficient privileges to complete the operation.", r.errMessage(t))
	require.Equal(t, 200, c.do("GET", "/servicePrincipals/"+sp+"/synchronization/jobs", nil).Status)

	var stats Stats
	require.NoError(t, json.Unmarshal(ctl.do("GET", s.ControlURL()+"/stats", nil).Body, &stats))
	require.Equal(t, 1, stats.Requests["POST /servicePrincipals/{id}/synchronization/jobs/{jobId}/start 403"])
	require.Equal(t, s.Stats().TotalGraphRequests, stats.TotalGraphRequests)
	var log []Request
	require.NoError(t, json.Unmarshal(ctl.do("GET", s.ControlURL()+"/requests", nil).Body, &log))
	require.Equal(t, len(s.RequestLog()), len(log))
	require.Equal(t, 404, ctl.do("POST", s.ControlURL()+"/tenants/"+tenantA+"/jobs/nope/deletions", map[string]any{"count": 1}).Status)
}

func TestListLagHidesNewServicePrincipalsFromFilters(t *testing.T) {
	s := newSim(t, Options{ListLag: 300 * time.Millisecond})
	c := newCaller(t, s, tenantA)
	c.instantiate("lagged")
	count := func() int {
		r := c.do("GET", "/servicePrincipals?%24filter="+url.QueryEscape("displayName eq 'lagged'"), nil)
		require.Equal(t, 200, r.Status, "%s", r.Body)
		return len(r.json(t)["value"].([]any))
	}
	require.Equal(t, 0, count(), "not listed during the list lag")
	require.Eventually(t, func() bool { return count() == 1 }, 3*time.Second, 20*time.Millisecond, "listed after the list lag")
}

func TestSeedRunningJobsAreReadable(t *testing.T) {
	s := newSim(t, Options{})
	jobs := s.SeedRunningJobs(tenantA, 2, 3)
	require.Len(t, jobs, 6)
	st := s.Snapshot(tenantA)
	require.Len(t, st.ServicePrincipals, 2)
	require.Len(t, st.Jobs, 6)
	for _, j := range st.Jobs {
		require.Equal(t, "Active", j.StatusCode)
	}
}
