package graphsim

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var jobIDRE = regexp.MustCompile(`^(AD2AADProvisioning|AD2AADPasswordHash|AAD2ADExchangeHybridWriteback)\.[0-9a-f]{32}\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func TestJobsLifecycle(t *testing.T) {
	s := newSim(t, Options{SyncInterval: time.Hour, JobReadLag: -1})
	c := newCaller(t, s, tenantA)
	sp := c.instantiate("jobs")
	base := "/servicePrincipals/" + sp + "/synchronization/jobs"

	r := c.do("POST", base, map[string]any{"templateId": "AD2AADProvisioning"})
	require.Equal(t, 201, r.Status, "%s", r.Body)
	j := r.json(t)
	prov := j["id"].(string)
	require.Regexp(t, jobIDRE, prov)
	require.Len(t, strings.Split(prov, "."), 3)
	require.Equal(t, "ADDCInPassthrough", j["templateId"], "the documented create answer's label (reads name it right)")
	require.Equal(t, map[string]any{"expiration": nil, "interval": "PT2M", "state": "Disabled"}, j["schedule"])
	st := j["status"].(map[string]any)
	require.Equal(t, "Paused", st["code"])
	require.Nil(t, st["quarantine"])
	require.Nil(t, st["lastExecution"])
	require.Equal(t, "0001-01-01T00:00:00Z", st["steadyStateFirstAchievedTime"])
	require.Equal(t, []any{}, st["progress"])
	require.Equal(t, []any{}, st["synchronizedEntryCountByType"])
	require.Contains(t, j, "synchronizationJobSettings")

	phs := c.createJob(sp, "AD2AADPasswordHash")
	exch := c.createJob(sp, "AAD2ADExchangeHybridWriteback")
	require.Regexp(t, jobIDRE, phs)
	require.Regexp(t, jobIDRE, exch)
	require.Empty(t, violationsOf(s, ViolationDuplicateJob))

	r = c.do("POST", base, map[string]any{"templateId": "BoxOutDelta"})
	require.Equal(t, 400, r.Status)
	require.Equal(t, "UnknownError", r.errCode(t))

	// Duplicates are created, and recorded.
	dup := c.createJob(sp, "AD2AADProvisioning")
	require.NotEqual(t, prov, dup)
	require.Len(t, violationsOf(s, ViolationDuplicateJob), 1)
	require.Len(t, c.do("GET", base, nil).json(t)["value"], 4)
	require.Equal(t, 204, c.do("DELETE", base+"/"+dup, nil).Status)
	require.Len(t, c.do("GET", base+"/", nil).json(t)["value"], 4, "reads still show a deleted job for the delete lag")
	require.Equal(t, 404, c.do("DELETE", base+"/"+dup, nil).Status, "writes see it gone at once")
	require.Len(t, s.Snapshot(tenantA).Jobs, 3)

	r = c.do("GET", base+"/AD2AADProvisioning.nope", nil)
	require.Equal(t, 404, r.Status)
	require.Equal(t, "UnknownError", r.errCode(t))

	// start / start again / pause
	require.Equal(t, 204, c.do("POST", base+"/"+prov+"/start", nil).Status)
	j = c.job(sp, prov)
	require.Equal(t, "Active", j["schedule"].(map[string]any)["state"])
	require.Equal(t, "Active", jobCode(j))
	require.Empty(t, violationsOf(s, ViolationStartOnRunningJob))
	require.Equal(t, 204, c.do("POST", base+"/"+prov+"/start", nil).Status)
	require.Len(t, violationsOf(s, ViolationStartOnRunningJob), 1)
	require.Equal(t, 204, c.do("POST", base+"/"+prov+"/pause", nil).Status)
	j = c.job(sp, prov)
	require.Equal(t, "Paused", jobCode(j))
	require.Equal(t, "Paused", j["schedule"].(map[string]any)["state"])
	require.Equal(t, 204, c.do("POST", base+"/"+prov+"/start", nil).Status)
	require.Len(t, violationsOf(s, ViolationStartOnRunningJob), 1)

	// Start on a quarantined job clears the quarantine, whatever its reason
	// (only TooManyDeletes is recorded: see TestStartLiftsAnyQuarantine).
	require.NoError(t, s.Quarantine(tenantA, phs, "EncounteredQuarantineException", "AzureActiveDirectoryInvalidCredential"))
	j = c.job(sp, phs)
	require.Equal(t, "Quarantine", jobCode(j))
	q := j["status"].(map[string]any)["quarantine"].(map[string]any)
	require.Equal(t, "EncounteredQuarantineException", q["reason"])
	require.Equal(t, "AzureActiveDirectoryInvalidCredential", q["error"].(map[string]any)["code"])
	require.Equal(t, true, q["error"].(map[string]any)["tenantActionable"])
	require.Equal(t, 204, c.do("POST", base+"/"+phs+"/start", nil).Status)
	j = c.job(sp, phs)
	require.Equal(t, "Active", jobCode(j))
	require.Nil(t, j["status"].(map[string]any)["quarantine"])
	require.Len(t, violationsOf(s, ViolationStartOnRunningJob), 1)
	require.NoError(t, s.Quarantine(tenantA, exch, "QuarantinedOnDemand", ""))
	require.Equal(t, 204, c.do("POST", base+"/"+exch+"/start", nil).Status)
	require.Equal(t, "Active", jobCode(c.job(sp, exch)))
	require.Empty(t, violationsOf(s, ViolationStartLiftedQuarantine))

	// Start and restart bodies are logged with their route.
	var starts int
	for _, l := range s.RequestLog() {
		if l.Route == "POST /servicePrincipals/{id}/synchronization/jobs/{jobId}/start" {
			starts++
			require.Equal(t, tenantA, l.Tenant)
		}
	}
	require.Equal(t, 5, starts)
}

func TestSchema(t *testing.T) {
	s := newSim(t, Options{})
	c := newCaller(t, s, tenantA)
	sp := c.instantiate("schema")
	prov := c.createJob(sp, "AD2AADProvisioning")
	phs := c.createJob(sp, "AD2AADPasswordHash")
	path := "/servicePrincipals/" + sp + "/synchronization/jobs/" + prov + "/schema"

	r := c.do("GET", path, nil)
	require.Equal(t, 200, r.Status)
	raw := r.Body
	require.Contains(t, string(raw), `"flowTypes": "Add, Update, Delete"`)
	require.Contains(t, string(raw), `"futureField"`)
	require.Contains(t, string(raw), `{"key": "Secret", "value": "true"}`)
	var doc struct {
		Version     string `json:"version"`
		Directories []struct {
			ID, Name string
		} `json:"directories"`
		SynchronizationRules []struct {
			Name           string `json:"name"`
			ObjectMappings []struct {
				Name *string `json:"name"`
			} `json:"objectMappings"`
		} `json:"synchronizationRules"`
	}
	require.NoError(t, json.Unmarshal(raw, &doc))
	require.Equal(t, "2.0", doc.Version)
	require.Equal(t, ADDirectoryID, doc.Directories[0].ID)
	require.Equal(t, "Active Directory", doc.Directories[0].Name)
	require.Equal(t, "AD2AADProvisioning", doc.SynchronizationRules[0].Name)
	oms := doc.SynchronizationRules[0].ObjectMappings
	require.Len(t, oms, 5)
	require.Nil(t, oms[4].Name)
	require.Equal(t, "Provision Active Directory users", *oms[3].Name)
	require.Equal(t, map[string]int{
		"Provision Active Directory contacts": 0, "Provision Active Directory groups": 0,
		"Provision Active Directory inetOrgPersons": 0, "Provision Active Directory users": 0, "": 0,
	}, s.Snapshot(tenantA).CredentialDataMappings[sp])

	// The PHS job has a smaller schema of its own.
	small := c.do("GET", "/servicePrincipals/"+sp+"/synchronization/jobs/"+phs+"/schema", nil)
	require.Equal(t, 200, small.Status)
	require.Less(t, len(small.Body), len(raw))

	// PATCH does not exist on the back end.
	r = c.do("PATCH", path, raw)
	require.Equal(t, 404, r.Status)
	require.Equal(t, "UnknownError", r.errCode(t))
	var inner map[string]string
	require.NoError(t, json.Unmarshal([]byte(r.errMessage(t)), &inner))
	require.Equal(t, "No HTTP resource was found that matches the request URI 'https://syncfabric.windowsazure.com/api/servicePrincipals('"+sp+"')/synchronization/jobs('"+prov+"')/schema?api-version=2.0'.", inner["Message"])

	// PUT stores the bytes as sent.
	cred := `{"defaultValue":null,"exportMissingReferences":false,"flowBehavior":"FlowWhenChanged","flowType":"Always","matchingPriority":0,"targetAttributeName":"CredentialData","source":{"expression":"[PasswordHash]","name":"PasswordHash","type":"Attribute","parameters":[]}}`
	anchor := `"attributeMappings": [`
	usersAt := strings.Index(string(raw), `"name": "Provision Active Directory users"`)
	require.Positive(t, usersAt)
	i := usersAt + strings.Index(string(raw[usersAt:]), anchor) + len(anchor)
	edited := string(raw[:i]) + cred + "," + string(raw[i:])
	r = c.do("PUT", path, edited)
	require.Equal(t, 204, r.Status, "%s", r.Body)
	require.Equal(t, edited, string(c.do("GET", path, nil).Body))
	require.Equal(t, 1, s.Snapshot(tenantA).CredentialDataMappings[sp]["Provision Active Directory users"])
	require.Equal(t, edited, string(s.Snapshot(tenantA).Schemas[prov]))
	require.Empty(t, violationsOf(s, ViolationDuplicateCredentialData))

	// Adding it again is accepted, and recorded.
	i = usersAt + strings.Index(edited[usersAt:], anchor) + len(anchor)
	twice := edited[:i] + cred + "," + edited[i:]
	require.Equal(t, 204, c.do("PUT", path, twice).Status)
	require.Equal(t, 2, s.Snapshot(tenantA).CredentialDataMappings[sp]["Provision Active Directory users"])
	require.Len(t, violationsOf(s, ViolationDuplicateCredentialData), 1)

	// Invalid bodies are refused and change nothing.
	require.Equal(t, 400, c.do("PUT", path, `{"directories": [}`).Status)
	require.Equal(t, 400, c.do("PUT", path, `[1,2]`).Status)
	require.Equal(t, 400, c.do("PUT", path, `{}`).Status)
	require.Equal(t, twice, string(c.do("GET", path, nil).Body))
}

func TestDiscover(t *testing.T) {
	s := newSim(t, Options{DiscoverFailures: 2})
	c := newCaller(t, s, tenantA)
	sp := c.instantiate("discover")
	prov := c.createJob(sp, "AD2AADProvisioning")
	path := "/servicePrincipals/" + sp + "/synchronization/jobs/" + prov + "/schema/directories/" + ADDirectoryID + "/discover"

	for i := 0; i < 2; i++ {
		r := c.do("POST", path, nil)
		require.Equal(t, 500, r.Status)
		require.Equal(t, "UnknownError", r.errCode(t))
		require.Equal(t, "An error has occurred.", r.errMessage(t))
	}
	hasMailNickname := func(r resp) bool {
		require.Equal(t, 200, r.Status, "%s", r.Body)
		for _, o := range r.json(t)["objects"].([]any) {
			obj := o.(map[string]any)
			if obj["name"] != "user" {
				continue
			}
			for _, a := range obj["attributes"].([]any) {
				if a.(map[string]any)["name"] == "mailNickname" {
					return true
				}
			}
		}
		return false
	}
	r := c.do("POST", path, nil)
	require.True(t, hasMailNickname(r))
	m := r.json(t)
	require.Equal(t, ADDirectoryID, m["id"])
	require.Equal(t, "Active Directory", m["name"])
	_, err := time.Parse(time.RFC3339Nano, m["discoveryDateTime"].(string))
	require.NoError(t, err)

	r = c.do("POST", "/servicePrincipals/"+sp+"/synchronization/jobs/"+prov+"/schema/directories/00000000-0000-0000-0000-000000000000/discover", nil)
	require.Equal(t, 404, r.Status)

	s.SetTenantOptions(tenantA, TenantOptions{NoExchangeSchema: true})
	require.False(t, hasMailNickname(c.do("POST", path, nil)))

	// Another tenant has its own failure budget.
	b := newCaller(t, s, tenantB)
	spB := b.instantiate("discover-b")
	provB := b.createJob(spB, "AD2AADProvisioning")
	require.Equal(t, 500, b.do("POST", "/servicePrincipals/"+spB+"/synchronization/jobs/"+provB+"/schema/directories/"+ADDirectoryID+"/discover", nil).Status)
	require.Equal(t, 4, s.Snapshot(tenantA).DiscoverCalls)
}

func TestSyncEngineDeleteThreshold(t *testing.T) {
	s := newSim(t, Options{SyncInterval: 20 * time.Millisecond, JobReadLag: -1})
	c := newCaller(t, s, tenantA)
	sp := c.instantiate("engine")
	prov := c.createJob(sp, "AD2AADProvisioning")
	base := "/servicePrincipals/" + sp + "/synchronization/jobs/" + prov
	r := c.do("PUT", "/servicePrincipals/"+sp+"/synchronization/secrets", map[string]any{"value": []any{
		map[string]any{"key": "SyncNotificationSettings", "value": `{"Enabled":true,"Recipients":"ops@contoso.com","DeleteThresholdEnabled":true,"DeleteThresholdValue":5}`},
	}})
	require.Equal(t, 204, r.Status, "%s", r.Body)

	jobState := func() JobState {
		for _, j := range s.Snapshot(tenantA).Jobs {
			if j.ID == prov {
				return j
			}
		}
		t.Fatalf("job %s not found", prov)
		return JobState{}
	}
	// A disabled job does not run.
	require.NoError(t, s.StageDeletions(tenantA, prov, 4))
	waitTicks(t, s, 3)
	require.Equal(t, 0, jobState().Cycles)
	require.Equal(t, 4, jobState().PendingDeletions)

	// Below the threshold: applied.
	require.Equal(t, 204, c.do("POST", base+"/start", nil).Status)
	require.Eventually(t, func() bool { return jobState().AppliedDeletions == 4 }, 3*time.Second, 10*time.Millisecond)
	j := c.job(sp, prov)
	st := j["status"].(map[string]any)
	require.Equal(t, "Active", st["code"])
	require.Equal(t, "Succeeded", st["lastExecution"].(map[string]any)["state"])
	require.NotEqual(t, "0001-01-01T00:00:00Z", st["steadyStateLastAchievedTime"])
	require.Equal(t, "user to User", st["synchronizedEntryCountByType"].([]any)[0].(map[string]any)["key"])
	require.Equal(t, []any{map[string]any{"name": "QuarantineTooManyDeletesThreshold", "value": "5"}}, j["synchronizationJobSettings"])

	// At the threshold: quarantined, deletions stay pending.
	require.NoError(t, s.StageDeletions(tenantA, prov, 5))
	require.Eventually(t, func() bool { return jobState().StatusCode == "Quarantine" }, 3*time.Second, 10*time.Millisecond)
	js := jobState()
	require.Equal(t, "TooManyDeletes", js.QuarantineReason)
	require.Equal(t, 5, js.PendingDeletions)
	require.Equal(t, 4, js.AppliedDeletions)
	q := c.job(sp, prov)["status"].(map[string]any)["quarantine"].(map[string]any)
	require.Equal(t, "TooManyDeletes", q["reason"])
	require.EqualValues(t, 1, q["seriesCount"])
	require.Equal(t, "DeleteThresholdExceeded", q["error"].(map[string]any)["code"])

	// Restart without ForceDeletes: still quarantined.
	require.Equal(t, 204, c.do("POST", base+"/restart", map[string]any{"criteria": map[string]any{"resetScope": "Watermark, Escrows"}}).Status)
	require.Equal(t, 204, c.do("POST", base+"/restart", nil).Status)
	require.Equal(t, 204, c.do("POST", base+"/restart", map[string]any{"criteria": nil}).Status)
	waitTicks(t, s, 3)
	require.Equal(t, "Quarantine", jobState().StatusCode)
	// QuarantineState clears it, but the pending deletions re-quarantine it.
	cycles := jobState().Cycles
	require.Equal(t, 204, c.do("POST", base+"/restart", map[string]any{"criteria": map[string]any{"resetScope": "QuarantineState"}}).Status)
	require.Eventually(t, func() bool { js := jobState(); return js.Cycles > cycles && js.StatusCode == "Quarantine" }, 3*time.Second, 10*time.Millisecond)
	require.Equal(t, 5, jobState().PendingDeletions)

	r = c.do("POST", base+"/restart", map[string]any{"criteria": map[string]any{"resetScope": "Bogus"}})
	require.Equal(t, 400, r.Status)

	// ForceDeletes applies them and clears the quarantine.
	require.Equal(t, 204, c.do("POST", base+"/restart", map[string]any{"criteria": map[string]any{"resetScope": "ForceDeletes"}}).Status)
	js = jobState()
	require.Equal(t, "Active", js.StatusCode)
	require.Equal(t, 0, js.PendingDeletions)
	require.Equal(t, 9, js.AppliedDeletions)
	require.Nil(t, c.job(sp, prov)["status"].(map[string]any)["quarantine"])
	waitTicks(t, s, 3)
	require.Equal(t, "Active", jobState().StatusCode)

	var bodies []string
	for _, l := range s.RequestLog() {
		if strings.HasSuffix(l.Route, "/restart") {
			bodies = append(bodies, l.Body)
		}
	}
	require.Equal(t, []string{
		`{"criteria":{"resetScope":"Watermark, Escrows"}}`, ``, `{"criteria":null}`,
		`{"criteria":{"resetScope":"QuarantineState"}}`, `{"criteria":{"resetScope":"Bogus"}}`, `{"criteria":{"resetScope":"ForceDeletes"}}`,
	}, bodies)

	// Other quarantines: ForceDeletes does not clear them, QuarantineState/Full does.
	require.NoError(t, s.Quarantine(tenantA, prov, "EncounteredQuarantineException", "AzureActiveDirectoryInvalidCredential"))
	require.Equal(t, 204, c.do("POST", base+"/restart", map[string]any{"criteria": map[string]any{"resetScope": "ForceDeletes"}}).Status)
	waitTicks(t, s, 3)
	require.Equal(t, "Quarantine", jobState().StatusCode)
	require.Equal(t, 204, c.do("POST", base+"/restart", map[string]any{"criteria": map[string]any{"resetScope": "Full"}}).Status)
	require.Equal(t, "Active", jobState().StatusCode)

	// Threshold disabled: any number of deletions flows.
	r = c.do("PUT", "/servicePrincipals/"+sp+"/synchronization/secrets", map[string]any{"value": []any{
		map[string]any{"key": "SyncNotificationSettings", "value": `{"Enabled":false,"DeleteThresholdEnabled":false}`},
	}})
	require.Equal(t, 204, r.Status)
	require.NoError(t, s.StageDeletions(tenantA, prov, 1000))
	require.Eventually(t, func() bool { return jobState().AppliedDeletions == 1009 }, 3*time.Second, 10*time.Millisecond)
}

func TestDefaultDeleteThreshold(t *testing.T) {
	s := newSim(t, Options{SyncInterval: 20 * time.Millisecond})
	c := newCaller(t, s, tenantA)
	sp := c.instantiate("default-threshold")
	prov := c.createJob(sp, "AD2AADProvisioning")
	require.Equal(t, 204, c.do("POST", "/servicePrincipals/"+sp+"/synchronization/jobs/"+prov+"/start", nil).Status)
	require.NoError(t, s.StageDeletions(tenantA, prov, 499))
	require.Eventually(t, func() bool { return s.Snapshot(tenantA).Jobs[0].AppliedDeletions == 499 }, 3*time.Second, 10*time.Millisecond)
	require.NoError(t, s.StageDeletions(tenantA, prov, 500))
	require.Eventually(t, func() bool { return s.Snapshot(tenantA).Jobs[0].QuarantineReason == "TooManyDeletes" }, 3*time.Second, 10*time.Millisecond)
	require.Equal(t, 500, s.Snapshot(tenantA).Jobs[0].DeleteThreshold)
}

// A fresh service principal's synchronization calls answer 403 and 409 in
// turn until it has settled; then they work. The create answer of a
// provisioning job shows the documented "ADDCInPassthrough" template.
func TestSyncSettleAndCreateAnswer(t *testing.T) {
	s := newSim(t, Options{SyncSettle: 400 * time.Millisecond, JobReadLag: -1})
	c := newCaller(t, s, "0b7f4c3e-1d2a-4e5f-8a9b-0c1d2e3f4a77")
	sp := c.instantiate("settle.contoso.com")
	jobs := "/servicePrincipals/" + sp + "/synchronization/jobs"
	var codes []int
	for range 2 {
		codes = append(codes, c.do("GET", jobs, nil).Status)
	}
	require.Equal(t, []int{403, 409}, codes)
	require.Eventually(t, func() bool { return c.do("GET", jobs, nil).Status == 200 }, 3*time.Second, 20*time.Millisecond, "settled")
	r := c.do("POST", jobs, map[string]any{"templateId": "AD2AADProvisioning"})
	require.Equal(t, 201, r.Status, "%s", r.Body)
	created := r.json(t)
	require.Equal(t, "ADDCInPassthrough", created["templateId"])
	require.True(t, strings.HasPrefix(created["id"].(string), "AD2AADProvisioning."))
	require.Equal(t, "AD2AADProvisioning", c.job(sp, created["id"].(string))["templateId"], "a read names it right")
}
