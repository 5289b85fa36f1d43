package graphsim

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"time"
)

// Directory ids used in the synchronization schemas.
const (
	ADDirectoryID    = "ba5b00eb-4c24-41a7-9d57-cd305d47d540"
	EntraDirectoryID = "66e4a8cc-1b7b-435e-95f8-f06cea133828"
)

//go:embed assets/ad2aad-schema.json
var ad2aadSchema string

//go:embed assets/small-schema.json
var smallSchema string

var jobTemplates = map[string]bool{"AD2AADProvisioning": true, "AD2AADPasswordHash": true, "AAD2ADExchangeHybridWriteback": true}

var zeroTime = "0001-01-01T00:00:00Z"

func fmtTime(t time.Time) any {
	if t.IsZero() {
		return zeroTime
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// InitialProvisioningSchema is the schema a new AD2AADProvisioning job starts
// with, so tests can check that nothing but the CredentialData mappings changed.
func InitialProvisioningSchema(spID, jobID string) []byte {
	return []byte(strings.NewReplacer("{{SP_ID}}", spID, "{{JOB_ID}}", jobID).Replace(ad2aadSchema))
}

func (s *Server) initialSchema(templateID, spID, jobID string) []byte {
	if templateID == "AD2AADProvisioning" {
		return InitialProvisioningSchema(spID, jobID)
	}
	src, dst, srcObj, dstObj, mname := "Active Directory", "Microsoft Entra ID", "user", "User", "Synchronize Active Directory password hashes"
	if templateID == "AAD2ADExchangeHybridWriteback" {
		src, dst, srcObj, dstObj, mname = "Microsoft Entra ID", "Active Directory", "User", "user", "Provision Microsoft Entra ID users to Active Directory"
	}
	r2 := strings.NewReplacer("{{SP_ID}}", spID, "{{JOB_ID}}", jobID, "{{TEMPLATE_ID}}", templateID,
		"{{RULE_ID}}", s.newIDLocked(), "{{SOURCE_DIR}}", src, "{{TARGET_DIR}}", dst,
		"{{SOURCE_OBJECT}}", srcObj, "{{TARGET_OBJECT}}", dstObj, "{{MAPPING_NAME}}", mname)
	return []byte(r2.Replace(smallSchema))
}

// ---- job JSON ----

func execJSON(e *execution) any {
	if e == nil {
		return nil
	}
	var errv any
	if e.ErrorCode != "" {
		errv = map[string]any{"code": e.ErrorCode, "message": e.ErrorMsg, "tenantActionable": true}
	}
	return map[string]any{
		"activityIdentifier":           e.ActivityID,
		"countEntitled":                0,
		"countEntitledForProvisioning": 0,
		"countEscrowed":                0,
		"countEscrowedRaw":             0,
		"countExported":                e.CountExported,
		"countExports":                 e.CountExported,
		"countImported":                e.CountImported,
		"countImportedDeltas":          e.CountImported,
		"countImportedReferenceDeltas": 0,
		"state":                        e.State,
		"error":                        errv,
		"timeBegan":                    fmtTime(e.TimeBegan),
		"timeEnded":                    fmtTime(e.TimeEnded),
	}
}

func (g *gctx) jobJSON(sp *servicePrincipal, j *job) map[string]any {
	var q any
	if j.quarantine != nil {
		q = map[string]any{
			"currentBegan": fmtTime(j.quarantine.CurrentBegan),
			"nextAttempt":  fmtTime(j.quarantine.NextAttempt),
			"reason":       j.quarantine.Reason,
			"seriesBegan":  fmtTime(j.quarantine.SeriesBegan),
			"seriesCount":  j.quarantine.SeriesCount,
			"error":        map[string]any{"code": j.quarantine.ErrorCode, "message": j.quarantine.ErrorMessage, "tenantActionable": true},
		}
	}
	counts := []any{}
	if j.cycles > 0 {
		counts = append(counts, map[string]any{"key": "user to User", "value": j.entries})
	}
	settings := []any{}
	if j.templateID == "AD2AADProvisioning" {
		_, thr := sp.deleteThreshold()
		settings = append(settings, map[string]any{"name": "QuarantineTooManyDeletesThreshold", "value": strconv.Itoa(thr)})
	}
	var troubleshooting any
	if j.cycles > 0 {
		troubleshooting = ""
	}
	return map[string]any{
		"id":         j.id,
		"templateId": j.templateID,
		"schedule":   map[string]any{"expiration": nil, "interval": "PT2M", "state": j.scheduleState},
		"status": map[string]any{
			"code":                               j.code,
			"countSuccessiveCompleteFailures":    0,
			"escrowsPruned":                      false,
			"lastExecution":                      execJSON(j.lastExecution),
			"lastSuccessfulExecution":            execJSON(j.lastSuccess),
			"lastSuccessfulExecutionWithExports": execJSON(j.lastSuccessExports),
			"quarantine":                         q,
			"steadyStateFirstAchievedTime":       fmtTime(j.steadyFirst),
			"steadyStateLastAchievedTime":        fmtTime(j.steadyLast),
			"troubleshootingUrl":                 troubleshooting,
			"progress":                           []any{},
			"synchronizedEntryCountByType":       counts,
		},
		"synchronizationJobSettings": settings,
	}
}

func jobsContext(spID string) string {
	return fmt.Sprintf("%s#servicePrincipals('%s')/synchronization/jobs", graphMeta, spID)
}

// ---- job routes ----

func (g *gctx) jobList(sp *servicePrincipal) {
	out := []any{}
	for _, j := range sp.jobs {
		out = append(out, g.jobJSON(sp, j))
	}
	for _, j := range sp.goneJobs {
		if g.lingering(j.deletedAt) {
			out = append(out, g.jobJSON(sp, j))
		}
	}
	g.json(200, map[string]any{"@odata.context": jobsContext(sp.id), "value": out})
}

func (g *gctx) jobCreate(sp *servicePrincipal) {
	m, ok := g.decodeObject()
	if !ok {
		return
	}
	var tid string
	if raw, ok := m["templateId"]; ok {
		_ = json.Unmarshal(raw, &tid)
	}
	if !jobTemplates[tid] {
		g.syncErr(400, "TemplateNotFound", fmt.Sprintf("The synchronization template '%s' was not found for the application of service principal '%s'.", tid, sp.id))
		return
	}
	for _, j := range sp.jobs {
		if j.templateID == tid {
			g.s.violationLocked(ViolationDuplicateJob, g.tenant, "second %s job created on service principal %s (existing %s)", tid, sp.id, j.id)
			break
		}
	}
	s := g.s
	j := &job{
		id:            fmt.Sprintf("%s.%s.%s", tid, s.newHexLocked(), s.newIDLocked()),
		templateID:    tid,
		spID:          sp.id,
		created:       g.now,
		scheduleState: "Disabled",
		code:          "Paused",
	}
	j.schema = s.initialSchema(tid, sp.id, j.id)
	sp.jobs = append(sp.jobs, j)
	o := g.jobJSON(sp, j)
	o["@odata.context"] = jobsContext(sp.id) + "/$entity"
	if tid == "AD2AADProvisioning" && !s.opts.ExactJobCreateAnswer {
		o["templateId"] = "ADDCInPassthrough" // as the documented create answer shows
	}
	g.json(201, o)
}

func (g *gctx) jobGet(sp *servicePrincipal, j *job) {
	if g.now.Before(j.created.Add(g.s.faults.JobReadLag)) {
		// A new job is listed at once but not yet readable by id everywhere.
		g.jobNotFound(sp, j.id)
		return
	}
	o := g.jobJSON(sp, j)
	o["@odata.context"] = jobsContext(sp.id) + "/$entity"
	g.json(200, o)
}

func (g *gctx) jobDelete(sp *servicePrincipal, j *job) {
	sp.deleteJobLocked(j, g.now)
	g.noContent()
}

func (g *gctx) jobStart(_ *servicePrincipal, j *job) {
	if j.scheduleState == "Active" && j.code == "Active" {
		g.s.violationLocked(ViolationStartOnRunningJob, g.tenant, "start on running job %s", j.id)
	}
	// "If the job is in quarantine, the quarantine status is cleared." A
	// TooManyDeletes cause still pending quarantines the job again at its next
	// cycle, in a new series.
	if q := j.quarantine; q != nil {
		if q.Reason == "TooManyDeletes" {
			g.s.violationLocked(ViolationStartLiftedQuarantine, g.tenant, "start on quarantined job %s (reason %s): the quarantine was lifted", j.id, q.Reason)
		}
		j.quarantine = nil
	}
	j.scheduleState = "Active"
	j.code = "Active"
	g.noContent()
}

func (g *gctx) jobPause(_ *servicePrincipal, j *job) {
	j.pauseLocked()
	g.noContent()
}

// pauseLocked pauses a job's schedule; a quarantine stays on record.
func (j *job) pauseLocked() {
	j.scheduleState = "Paused"
	j.code = "Paused"
}

var restartScopes = map[string]string{
	"none": "None", "connectordatastore": "ConnectorDataStore", "escrows": "Escrows", "watermark": "Watermark",
	"quarantinestate": "QuarantineState", "full": "Full", "forcedeletes": "ForceDeletes",
}

func (g *gctx) jobRestart(_ *servicePrincipal, j *job) {
	scopes := map[string]bool{}
	if len(bytes.TrimSpace(g.body)) > 0 {
		var body struct {
			Criteria *struct {
				ResetScope *string `json:"resetScope"`
			} `json:"criteria"`
		}
		if err := json.Unmarshal(g.body, &body); err != nil {
			g.err(400, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.")
			return
		}
		if body.Criteria != nil && body.Criteria.ResetScope != nil {
			for _, p := range strings.Split(*body.Criteria.ResetScope, ",") {
				p = strings.TrimSpace(p)
				if p == "" {
					continue
				}
				canon, ok := restartScopes[strings.ToLower(p)]
				if !ok {
					g.err(400, "BadRequest", fmt.Sprintf("The value '%s' is not valid for SynchronizationJobRestartScope.", p))
					return
				}
				scopes[canon] = true
			}
		}
	}
	if scopes["ForceDeletes"] {
		j.appliedDeletions += j.pendingDeletions
		j.pendingDeletions = 0
		if j.quarantine != nil && j.quarantine.Reason == "TooManyDeletes" {
			j.quarantine = nil
		}
	}
	if scopes["QuarantineState"] || scopes["Full"] {
		// Clears any quarantine; a TooManyDeletes cause that is still
		// pending re-quarantines the job at its next cycle.
		j.quarantine = nil
	}
	j.scheduleState = "Active"
	if j.quarantine != nil {
		j.code = "Quarantine"
	} else {
		j.code = "Active"
	}
	g.noContent()
}

// ---- schema ----

func (g *gctx) schemaGet(_ *servicePrincipal, j *job) {
	g.raw(200, j.schema)
}

func (g *gctx) schemaPut(_ *servicePrincipal, j *job) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(g.body, &m); err != nil || m == nil {
		g.err(400, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.")
		return
	}
	for _, k := range []string{"directories", "synchronizationRules"} {
		var arr []json.RawMessage
		if raw, ok := m[k]; !ok || json.Unmarshal(raw, &arr) != nil || len(arr) == 0 {
			g.syncErr(400, "InvalidSchema", fmt.Sprintf("The synchronization schema must contain a non-empty '%s' collection.", k))
			return
		}
	}
	counts, err := countCredentialData(g.body)
	if err != nil {
		g.syncErr(400, "InvalidSchema", "The synchronization schema could not be parsed: "+err.Error())
		return
	}
	j.schema = append([]byte(nil), g.body...)
	for _, name := range sortedKeys(counts) {
		if counts[name] > 1 {
			g.s.violationLocked(ViolationDuplicateCredentialData, g.tenant, "job %s: object mapping %q has %d CredentialData mappings", j.id, name, counts[name])
		}
	}
	g.noContent()
}

type attrDef struct{ name, typ string }

var adDiscoverObjects = []struct {
	name  string
	attrs []attrDef
}{
	{"user", []attrDef{{"cn", "String"}, {"displayName", "String"}, {"givenName", "String"}, {"mail", "String"}, {"mailNickname", "String"},
		{"msExchHideFromAddressLists", "Boolean"}, {"objectGUID", "Binary"}, {"proxyAddresses", "String"}, {"sAMAccountName", "String"},
		{"sn", "String"}, {"userPrincipalName", "String"}, {"PasswordHash", "String"}}},
	{"inetOrgPerson", []attrDef{{"displayName", "String"}, {"mailNickname", "String"}, {"objectGUID", "Binary"}, {"sAMAccountName", "String"}, {"userPrincipalName", "String"}}},
	{"group", []attrDef{{"cn", "String"}, {"displayName", "String"}, {"mailNickname", "String"}, {"member", "Reference"}, {"objectGUID", "Binary"}}},
	{"contact", []attrDef{{"cn", "String"}, {"displayName", "String"}, {"mail", "String"}, {"mailNickname", "String"}, {"objectGUID", "Binary"}}},
}

var entraDiscoverObjects = []struct {
	name  string
	attrs []attrDef
}{
	{"User", []attrDef{{"CredentialData", "String"}, {"displayName", "String"}, {"mailNickname", "String"}, {"OnPremisesObjectIdentifier", "String"}, {"userPrincipalName", "String"}}},
	{"Group", []attrDef{{"displayName", "String"}, {"member", "Reference"}}},
}

func (g *gctx) discover(_ *servicePrincipal, j *job) {
	dir := strings.ToLower(g.params["directoryId"])
	if dir != ADDirectoryID && dir != EntraDirectoryID {
		g.syncErr(404, "DirectoryDefinitionNotFound", fmt.Sprintf("The directory definition '%s' was not found in the schema of job '%s'.", g.params["directoryId"], j.id))
		return
	}
	g.t.discoverCalls++
	if g.t.discoverCalls <= g.s.faults.DiscoverFailures {
		g.err(500, "UnknownError", "An error has occurred.")
		return
	}
	noExchange := g.t.opts.NoExchangeSchema
	objs := adDiscoverObjects
	name, disc, readOnly, version := "Active Directory", "AttributeNames, AttributeDataTypes, AttributeReadOnly", false, "1.0"
	if dir == EntraDirectoryID {
		objs = entraDiscoverObjects
		name, disc, readOnly, version = "Microsoft Entra ID", "AttributeNames, AttributeDataTypes", true, "2.0"
	}
	outObjs := []any{}
	for _, o := range objs {
		attrs := []any{}
		for _, a := range o.attrs {
			if noExchange && dir == ADDirectoryID && (strings.EqualFold(a.name, "mailNickname") || strings.HasPrefix(a.name, "msExch") || a.name == "proxyAddresses") {
				continue
			}
			meta := []any{}
			if a.name == "PasswordHash" {
				meta = append(meta, map[string]any{"key": "Secret", "value": "true"})
			}
			attrs = append(attrs, map[string]any{
				"anchor": a.name == "objectGUID", "caseExact": false, "defaultValue": nil, "flowNullValues": false,
				"multivalued": a.name == "member" || a.name == "proxyAddresses", "mutability": "ReadWrite", "name": a.name,
				"required": false, "type": a.typ, "apiExpressions": []any{}, "metadata": meta, "referencedObjects": []any{},
			})
		}
		outObjs = append(outObjs, map[string]any{"name": o.name, "attributes": attrs, "metadata": []any{}, "supportedApis": []any{}})
	}
	g.json(200, map[string]any{
		"@odata.context":    graphMeta + "#microsoft.graph.directoryDefinition",
		"id":                dir,
		"name":              name,
		"discoverabilities": disc,
		"discoveryDateTime": g.now.Format(time.RFC3339Nano),
		"readOnly":          readOnly,
		"version":           version,
		"objects":           outObjs,
	})
}

// ---- secrets ----

func isSensitiveKey(k string) bool {
	switch k {
	case "AppKey", "SecretToken", "Password", "ClientSecret":
		return true
	}
	lk := strings.ToLower(k)
	return strings.Contains(lk, "secret") || strings.Contains(lk, "password")
}

func (g *gctx) secretsGet(sp *servicePrincipal) {
	out := []any{}
	for _, kv := range sp.secrets {
		v := kv.Value
		if isSensitiveKey(kv.Key) {
			v = "*"
		}
		out = append(out, map[string]any{"key": kv.Key, "value": v})
	}
	g.json(200, map[string]any{"@odata.context": fmt.Sprintf("%s#servicePrincipals('%s')/synchronization/secrets", graphMeta, sp.id), "value": out})
}

func (g *gctx) secretsPut(sp *servicePrincipal) {
	var body struct {
		Value *[]struct {
			Key   *string `json:"key"`
			Value *string `json:"value"`
		} `json:"value"`
	}
	if err := json.Unmarshal(g.body, &body); err != nil || body.Value == nil {
		g.err(400, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.")
		return
	}
	var next []secret
	var masked []string
	for _, kv := range *body.Value {
		if kv.Key == nil || *kv.Key == "" {
			g.syncErr(400, "InvalidSecretKey", "A secret key must not be empty.")
			return
		}
		val := ""
		if kv.Value != nil {
			val = *kv.Value
		}
		if val == "*" {
			masked = append(masked, *kv.Key)
		} else if *kv.Key == "SyncNotificationSettings" && g.t.opts.RejectNotificationSettings {
			g.syncErr(400, "InvalidNotificationSettings", "")
			return
		} else if code := validateSecret(*kv.Key, val); code != "" {
			g.syncErr(400, code, "")
			return
		}
		next = append(next, secret{Key: *kv.Key, Value: val})
	}
	for _, k := range masked {
		g.s.violationLocked(ViolationMaskedSecretWritten, g.tenant, "service principal %s: secret %s written as \"*\" (a masked value read back)", sp.id, k)
	}
	sp.secrets = next
	if d := sp.domainOf(); d != "" {
		for _, other := range g.t.sps {
			if other != sp && other.domainOf() == d {
				g.s.violationLocked(ViolationDuplicateDomain, g.tenant, "service principal %s: Domain %s is already synced by service principal %s (%q): a second configuration for one domain", sp.id, d, other.id, other.displayName)
				break
			}
		}
	}
	g.noContent()
}

// validateSecret returns the inner error code for an invalid value, or "".
func validateSecret(key, val string) string {
	switch key {
	case "SyncNotificationSettings":
		var m map[string]json.RawMessage
		if json.Unmarshal([]byte(val), &m) != nil || m == nil {
			return "InvalidNotificationSettings"
		}
		var enabled bool
		raw, ok := m["Enabled"]
		if !ok || json.Unmarshal(raw, &enabled) != nil {
			return "InvalidNotificationSettings"
		}
		recipients := ""
		if raw, ok := m["Recipients"]; ok && string(raw) != "null" {
			if json.Unmarshal(raw, &recipients) != nil {
				return "InvalidNotificationSettings"
			}
		}
		if enabled && strings.TrimSpace(recipients) == "" {
			return "InvalidNotificationSettings"
		}
		if strings.TrimSpace(recipients) != "" {
			for _, addr := range strings.FieldsFunc(recipients, func(r rune) bool { return r == ',' || r == ';' }) {
				addr = strings.TrimSpace(addr)
				if addr == "" {
					continue
				}
				a, err := mail.ParseAddress(addr)
				if err != nil || a.Address != addr || !strings.Contains(addr[strings.Index(addr, "@")+1:], ".") {
					return "InvalidNotificationSettings"
				}
			}
		}
		if raw, ok := m["DeleteThresholdEnabled"]; ok {
			var b bool
			if json.Unmarshal(raw, &b) != nil {
				return "InvalidNotificationSettings"
			}
		}
		if raw, ok := m["DeleteThresholdValue"]; ok {
			var n int
			if json.Unmarshal(raw, &n) != nil || n < 1 {
				return "InvalidNotificationSettings"
			}
		}
	case "Domain":
		var d struct {
			Domain *string `json:"domain"`
		}
		if json.Unmarshal([]byte(val), &d) != nil || d.Domain == nil || !domainRE.MatchString(*d.Domain) {
			return "InvalidDomainSettings"
		}
	case "AppKey":
		var a struct {
			AppKeyScenario *string `json:"appKeyScenario"`
		}
		if json.Unmarshal([]byte(val), &a) != nil || a.AppKeyScenario == nil ||
			(*a.AppKeyScenario != "AD2AADProvisioning" && *a.AppKeyScenario != "AD2AADPasswordHash") {
			return "InvalidAppKey"
		}
	}
	return ""
}

// ---- sync engine ----

func (s *Server) runEngine() {
	defer s.engineWG.Done()
	tk := time.NewTicker(s.opts.SyncInterval)
	defer tk.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tk.C:
			s.tick()
		}
	}
}

// tick runs one sync cycle for every running (schedule Active, status
// Active) job, and re-evaluates every quarantined job (schedule Active) whose
// next attempt is due.
func (s *Server) tick() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now().UTC()
	for _, tk := range sortedKeys(s.tenants) {
		t := s.tenants[tk]
		for _, sp := range t.sps {
			for _, j := range sp.jobs {
				switch {
				case j.scheduleState != "Active":
				case j.code == "Active":
					s.cycleLocked(now, sp, j)
				case j.code == "Quarantine" && j.quarantine != nil && !now.Before(j.quarantine.NextAttempt):
					s.reevaluateLocked(now, sp, j)
				}
			}
		}
	}
	s.stats.EngineTicks++ // under mu with the tick's changes: seen together
}

// reevaluateLocked is Graph's periodic look at a quarantined job. A
// TooManyDeletes quarantine is checked by a cycle: deletions still at the
// threshold impose it again (same series), otherwise the cycle runs and the
// quarantine is lifted. Other causes (credentials, agents, escrows) are outside
// the simulator, so they persist: the quarantine is imposed again.
func (s *Server) reevaluateLocked(now time.Time, sp *servicePrincipal, j *job) {
	q := j.quarantine
	if q.Reason != "TooManyDeletes" {
		j.quarantineLocked(now, s.faults.quarantineReevaluation(), q.Reason, q.ErrorCode, q.ErrorMessage)
		return
	}
	s.cycleLocked(now, sp, j)
	if j.lastExecution != nil && j.lastExecution.State == "Succeeded" {
		j.quarantine = nil
		j.code = "Active"
	}
}

func (s *Server) cycleLocked(now time.Time, sp *servicePrincipal, j *job) {
	j.cycles++
	exec := &execution{TimeBegan: now, TimeEnded: now.Add(time.Millisecond), ActivityID: s.newIDLocked(), CountImported: 3}
	enabled, thr := sp.deleteThreshold()
	if j.pendingDeletions > 0 && enabled && j.pendingDeletions >= thr {
		msg := fmt.Sprintf("The number of pending deletions (%d) meets or exceeds the accidental-deletion threshold (%d). Review the deletions, then restart the job with ForceDeletes to allow them.", j.pendingDeletions, thr)
		exec.State, exec.ErrorCode, exec.ErrorMsg = "Failed", "DeleteThresholdExceeded", msg
		j.lastExecution = exec
		j.quarantineLocked(now, s.faults.quarantineReevaluation(), "TooManyDeletes", "DeleteThresholdExceeded", msg)
		return
	}
	exec.State = "Succeeded"
	exec.CountExported = j.pendingDeletions
	j.appliedDeletions += j.pendingDeletions
	j.pendingDeletions = 0
	if j.entries == 0 {
		j.entries = 3
	}
	j.lastExecution = exec
	j.lastSuccess = exec
	if exec.CountExported > 0 {
		j.lastSuccessExports = exec
	}
	if j.steadyFirst.IsZero() {
		j.steadyFirst = exec.TimeEnded
	}
	j.steadyLast = exec.TimeEnded
}
