package graphsim

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

type tenant struct {
	id            string
	onPremSync    bool
	syncEverOn    bool      // Graph reports null until sync was ever on, false after
	deactivating  time.Time // turning sync off runs until then; it cannot be turned on meanwhile
	apps          []*application
	sps           []*servicePrincipal
	discoverCalls int
	opts          TenantOptions
	// goneApps and goneSPs were deleted: reads still show them for the
	// delete lag (gctx.lingering). deleted lists the soft-deleted directory
	// objects, as Graph's deletedItems keeps them (restorable for 30 days).
	goneApps []*application
	goneSPs  []*servicePrincipal
	deleted  []DeletedItem
}

type application struct {
	objectID, appID, displayName, templateID string
	created, deletedAt                       time.Time
}

type secret struct{ Key, Value string }

type servicePrincipal struct {
	id, appID, displayName, templateID string
	created, visibleAt                 time.Time
	listedAt                           time.Time // hidden from $filter lists until then
	settleAnswers                      int       // 403/409 answers given while it settles (SyncSettle)
	secrets                            []secret
	jobs                               []*job
	goneJobs                           []*job    // deleted: read for the delete lag
	deletedAt                          time.Time // when it was deleted (it is then in tenant.goneSPs)
}

type quarantine struct {
	Reason       string
	ErrorCode    string
	ErrorMessage string
	CurrentBegan time.Time
	SeriesBegan  time.Time
	NextAttempt  time.Time
	SeriesCount  int
}

type execution struct {
	TimeBegan, TimeEnded time.Time
	State                string
	CountExported        int
	CountImported        int
	ErrorCode, ErrorMsg  string
	ActivityID           string
}

type job struct {
	id, templateID, spID string
	created, deletedAt   time.Time
	scheduleState        string // Active | Disabled | Paused
	code                 string // NotConfigured | NotRun | Active | Paused | Quarantine
	quarantine           *quarantine
	lastExecution        *execution
	lastSuccess          *execution
	lastSuccessExports   *execution
	steadyFirst          time.Time
	steadyLast           time.Time
	pendingDeletions     int
	appliedDeletions     int
	cycles               int
	entries              int
	schema               []byte
}

// tenantLocked returns (creating) the tenant with the given id. Caller holds s.mu.
func (s *Server) tenantLocked(id string) *tenant {
	key := strings.ToLower(id)
	t := s.tenants[key]
	if t == nil {
		t = &tenant{id: key}
		s.tenants[key] = t
	}
	return t
}

func (t *tenant) findSP(id string) *servicePrincipal {
	for _, sp := range t.sps {
		if strings.EqualFold(sp.id, id) {
			return sp
		}
	}
	return nil
}

func (t *tenant) findJob(jobID string) *job {
	for _, sp := range t.sps {
		if j := sp.findJob(jobID); j != nil {
			return j
		}
	}
	return nil
}

func (sp *servicePrincipal) findJob(id string) *job {
	for _, j := range sp.jobs {
		if j.id == id {
			return j
		}
	}
	return nil
}

// DeletedItem is a soft-deleted directory object (an application or a
// service principal), as Graph's deletedItems keeps it for 30 days. Sync jobs
// are deleted for good ("permanently delete all the state associated with it").
type DeletedItem struct {
	Type        string    `json:"type"` // application | servicePrincipal
	ID          string    `json:"id"`
	AppID       string    `json:"appId"`
	DisplayName string    `json:"displayName"`
	DeletedAt   time.Time `json:"deletedAt"`
}

// deleteSPLocked soft-deletes a service principal (its jobs and secrets go
// with it). Caller holds s.mu.
func (t *tenant) deleteSPLocked(sp *servicePrincipal, now time.Time) {
	t.sps = without(t.sps, sp)
	sp.deletedAt = now
	t.goneSPs = append(t.goneSPs, sp)
	t.deleted = append(t.deleted, DeletedItem{Type: "servicePrincipal", ID: sp.id, AppID: sp.appID, DisplayName: sp.displayName, DeletedAt: now})
}

// deleteAppLocked soft-deletes an application and, as Graph does, its
// service principal in its home tenant. Caller holds s.mu.
func (t *tenant) deleteAppLocked(app *application, now time.Time) {
	t.apps = without(t.apps, app)
	app.deletedAt = now
	t.goneApps = append(t.goneApps, app)
	t.deleted = append(t.deleted, DeletedItem{Type: "application", ID: app.objectID, AppID: app.appID, DisplayName: app.displayName, DeletedAt: now})
	for _, sp := range append([]*servicePrincipal(nil), t.sps...) {
		if strings.EqualFold(sp.appID, app.appID) {
			t.deleteSPLocked(sp, now)
		}
	}
}

// deleteJobLocked deletes a job for good. Caller holds s.mu.
func (sp *servicePrincipal) deleteJobLocked(j *job, now time.Time) {
	sp.jobs = without(sp.jobs, j)
	j.deletedAt = now
	sp.goneJobs = append(sp.goneJobs, j)
}

// findApp finds a live application by object id or, byAppID, by appId.
func (t *tenant) findApp(key string, byAppID bool) *application {
	return findAppIn(t.apps, key, byAppID)
}

func findAppIn(apps []*application, key string, byAppID bool) *application {
	for _, a := range apps {
		if (byAppID && strings.EqualFold(a.appID, key)) || (!byAppID && strings.EqualFold(a.objectID, key)) {
			return a
		}
	}
	return nil
}

// domainOf returns the normalised domain of the SP's Domain secret ("" if none).
func (sp *servicePrincipal) domainOf() string {
	for _, sec := range sp.secrets {
		if !strings.EqualFold(sec.Key, "Domain") {
			continue
		}
		var v struct {
			Domain string `json:"domain"`
		}
		if json.Unmarshal([]byte(sec.Value), &v) == nil {
			return normalizeDomain(v.Domain)
		}
	}
	return ""
}

func normalizeDomain(d string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
}

// isUnconfiguredCloudSync reports whether an app is a cloud sync
// configuration (made from the AD2AAD template, or holding a provisioning
// job) that syncs no domain yet (no Domain secret).
func (t *tenant) isUnconfiguredCloudSync(app *application) bool {
	cloudSync := app.templateID == AD2AADTemplateID
	for _, sp := range t.sps {
		if !strings.EqualFold(sp.appID, app.appID) {
			continue
		}
		if sp.domainOf() != "" {
			return false
		}
		for _, j := range sp.jobs {
			cloudSync = cloudSync || j.templateID == "AD2AADProvisioning"
		}
	}
	return cloudSync
}

// otherTenantHoldingSP reports which other tenant (if any) holds an SP with this id. Caller holds s.mu.
func (s *Server) otherTenantHoldingSP(caller, spID string) string {
	for id, t := range s.tenants {
		if id != caller && t.findSP(spID) != nil {
			return id
		}
	}
	return ""
}

// deleteThreshold is derived from the SP's SyncNotificationSettings secret.
func (sp *servicePrincipal) deleteThreshold() (enabled bool, value int) {
	enabled, value = true, 500
	for _, sec := range sp.secrets {
		if sec.Key != "SyncNotificationSettings" {
			continue
		}
		var n struct {
			DeleteThresholdEnabled *bool `json:"DeleteThresholdEnabled"`
			DeleteThresholdValue   *int  `json:"DeleteThresholdValue"`
		}
		if json.Unmarshal([]byte(sec.Value), &n) != nil {
			continue
		}
		if n.DeleteThresholdEnabled != nil {
			enabled = *n.DeleteThresholdEnabled
		}
		if n.DeleteThresholdValue != nil {
			value = *n.DeleteThresholdValue
		}
	}
	return enabled, value
}

// ---- snapshots ----

// TenantState is a deep copy of one tenant's state.
type TenantState struct {
	TenantID              string `json:"tenantId"`
	OnPremisesSyncEnabled bool   `json:"onPremisesSyncEnabled"`
	// SyncDeactivatingUntil: directory sync was turned off and its
	// deactivation runs until then (zero when none runs).
	SyncDeactivatingUntil time.Time                    `json:"syncDeactivatingUntil,omitzero"`
	Applications          []ApplicationState           `json:"applications"`
	ServicePrincipals     []ServicePrincipalState      `json:"servicePrincipals"`
	Jobs                  []JobState                   `json:"jobs"`
	Secrets               map[string]map[string]string `json:"secrets"` // spId -> key -> value (unmasked)
	Schemas               map[string]json.RawMessage   `json:"schemas"` // jobId -> raw schema JSON as stored
	// CredentialDataMappings: spId -> object mapping name -> number of
	// attribute mappings targeting CredentialData, for the (first)
	// AD2AADProvisioning job of each SP. A mapping whose name is null is keyed "".
	CredentialDataMappings map[string]map[string]int `json:"credentialDataMappings"`
	DiscoverCalls          int                       `json:"discoverCalls"`
	Options                TenantOptions             `json:"options"`
	// DeletedItems are the soft-deleted applications and service principals
	// (not in Applications and ServicePrincipals, whatever the delete lag).
	DeletedItems []DeletedItem `json:"deletedItems"`
}

// ApplicationState describes an application.
type ApplicationState struct {
	ObjectID              string    `json:"objectId"`
	AppID                 string    `json:"appId"`
	DisplayName           string    `json:"displayName"`
	ApplicationTemplateID string    `json:"applicationTemplateId"`
	Created               time.Time `json:"created"`
}

// ServicePrincipalState describes a service principal.
type ServicePrincipalState struct {
	ID                    string    `json:"id"`
	AppID                 string    `json:"appId"`
	DisplayName           string    `json:"displayName"`
	ApplicationTemplateID string    `json:"applicationTemplateId"`
	Created               time.Time `json:"created"`
	VisibleAt             time.Time `json:"visibleAt"` // end of the replication lag
}

// JobState describes a synchronization job.
type JobState struct {
	ID                  string    `json:"id"`
	TemplateID          string    `json:"templateId"`
	ServicePrincipalID  string    `json:"servicePrincipalId"`
	ScheduleState       string    `json:"scheduleState"`
	StatusCode          string    `json:"statusCode"`
	QuarantineReason    string    `json:"quarantineReason,omitempty"`
	QuarantineErrorCode string    `json:"quarantineErrorCode,omitempty"`
	PendingDeletions    int       `json:"pendingDeletions"`
	AppliedDeletions    int       `json:"appliedDeletions"`
	Cycles              int       `json:"cycles"`
	DeleteThreshold     int       `json:"deleteThreshold"` // 0 when disabled
	Created             time.Time `json:"created"`
	// The quarantine's times (zero when there is none): an episode is (job
	// id, SeriesBegan); CurrentBegan moves at each re-evaluation.
	QuarantineSeriesBegan  time.Time `json:"quarantineSeriesBegan,omitzero"`
	QuarantineCurrentBegan time.Time `json:"quarantineCurrentBegan,omitzero"`
	QuarantineNextAttempt  time.Time `json:"quarantineNextAttempt,omitzero"`
	QuarantineSeriesCount  int       `json:"quarantineSeriesCount,omitempty"`
}

// Snapshot returns a deep copy of a tenant's state (empty if unknown).
func (s *Server) Snapshot(tenantID string) TenantState {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := strings.ToLower(tenantID)
	st := TenantState{
		TenantID:               key,
		Applications:           []ApplicationState{},
		ServicePrincipals:      []ServicePrincipalState{},
		Jobs:                   []JobState{},
		Secrets:                map[string]map[string]string{},
		Schemas:                map[string]json.RawMessage{},
		CredentialDataMappings: map[string]map[string]int{},
		DeletedItems:           []DeletedItem{},
	}
	t := s.tenants[key]
	if t == nil {
		return st
	}
	st.DeletedItems = append(st.DeletedItems, t.deleted...)
	st.OnPremisesSyncEnabled = t.onPremSync
	if time.Now().Before(t.deactivating) {
		st.SyncDeactivatingUntil = t.deactivating
	}
	st.DiscoverCalls = t.discoverCalls
	st.Options = t.opts
	for _, a := range t.apps {
		st.Applications = append(st.Applications, ApplicationState{a.objectID, a.appID, a.displayName, a.templateID, a.created})
	}
	for _, sp := range t.sps {
		st.ServicePrincipals = append(st.ServicePrincipals, ServicePrincipalState{sp.id, sp.appID, sp.displayName, sp.templateID, sp.created, sp.visibleAt})
		sec := map[string]string{}
		for _, kv := range sp.secrets {
			sec[kv.Key] = kv.Value
		}
		st.Secrets[sp.id] = sec
		enabled, thr := sp.deleteThreshold()
		if !enabled {
			thr = 0
		}
		credDone := false
		for _, j := range sp.jobs {
			js := JobState{ID: j.id, TemplateID: j.templateID, ServicePrincipalID: sp.id, ScheduleState: j.scheduleState,
				StatusCode: j.code, PendingDeletions: j.pendingDeletions, AppliedDeletions: j.appliedDeletions,
				Cycles: j.cycles, DeleteThreshold: thr, Created: j.created}
			if q := j.quarantine; q != nil {
				js.QuarantineReason, js.QuarantineErrorCode = q.Reason, q.ErrorCode
				js.QuarantineSeriesBegan, js.QuarantineCurrentBegan, js.QuarantineNextAttempt = q.SeriesBegan, q.CurrentBegan, q.NextAttempt
				js.QuarantineSeriesCount = q.SeriesCount
			}
			st.Jobs = append(st.Jobs, js)
			st.Schemas[j.id] = append(json.RawMessage(nil), j.schema...)
			if j.templateID == "AD2AADProvisioning" && !credDone {
				credDone = true
				counts, _ := countCredentialData(j.schema)
				st.CredentialDataMappings[sp.id] = counts
			}
		}
	}
	return st
}

// countCredentialData counts, per object mapping, the attribute mappings
// whose targetAttributeName is CredentialData.
func countCredentialData(schema []byte) (map[string]int, error) {
	var doc struct {
		SynchronizationRules []struct {
			ObjectMappings []struct {
				Name              *string `json:"name"`
				AttributeMappings []struct {
					TargetAttributeName string `json:"targetAttributeName"`
				} `json:"attributeMappings"`
			} `json:"objectMappings"`
		} `json:"synchronizationRules"`
	}
	out := map[string]int{}
	if err := json.Unmarshal(schema, &doc); err != nil {
		return out, err
	}
	for _, rule := range doc.SynchronizationRules {
		for _, om := range rule.ObjectMappings {
			name := ""
			if om.Name != nil {
				name = *om.Name
			}
			n := 0
			for _, am := range om.AttributeMappings {
				if strings.EqualFold(am.TargetAttributeName, "CredentialData") {
					n++
				}
			}
			out[name] += n
		}
	}
	return out, nil
}

// StageDeletions adds n pending deletions to a job (as if n objects vanished
// on-premises). The next sync cycle applies them or quarantines the job.
func (s *Server) StageDeletions(tenantID, jobID string, n int) error {
	if n < 0 {
		return fmt.Errorf("negative count %d", n)
	}
	return s.changeJob(tenantID, jobID, func(j *job) error {
		j.pendingDeletions += n
		return nil
	})
}

// changeTenant runs change on a known tenant under s.mu, for the control
// API: an admin's change, or drift made from the outside.
func (s *Server) changeTenant(tenantID string, change func(*tenant) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenants[strings.ToLower(tenantID)]
	if t == nil {
		return fmt.Errorf("unknown tenant %q", tenantID)
	}
	return change(t)
}

// changeJob runs change on a tenant's job under s.mu, for the control API.
func (s *Server) changeJob(tenantID, jobID string, change func(*job) error) error {
	return s.changeTenant(tenantID, func(t *tenant) error {
		j := t.findJob(jobID)
		if j == nil {
			return fmt.Errorf("unknown job %q in tenant %q", jobID, tenantID)
		}
		return change(j)
	})
}

// Quarantine forces a job into quarantine with any reason and error code
// (e.g. EncounteredQuarantineException / AzureActiveDirectoryInvalidCredential).
func (s *Server) Quarantine(tenantID, jobID, reason, errorCode string) error {
	if reason == "" {
		return fmt.Errorf("empty reason")
	}
	return s.changeJob(tenantID, jobID, func(j *job) error {
		j.quarantineLocked(time.Now().UTC(), s.faults.quarantineReevaluation(), reason, errorCode, quarantineMessage(errorCode))
		return nil
	})
}

// PauseJob pauses a job as an admin does in the portal (the same effect as
// POST …/jobs/{jobId}/pause): schedule and status Paused; a quarantine stays.
func (s *Server) PauseJob(tenantID, jobID string) error {
	return s.changeJob(tenantID, jobID, func(j *job) error {
		j.pauseLocked()
		return nil
	})
}

// LiftQuarantine clears a job's quarantine as an admin's restart in the
// portal would; pending deletions at or above the threshold quarantine it
// again at its next cycle, as a new series.
func (s *Server) LiftQuarantine(tenantID, jobID string) error {
	return s.changeJob(tenantID, jobID, func(j *job) error {
		j.quarantine = nil
		j.scheduleState, j.code = "Active", "Active"
		return nil
	})
}

func quarantineMessage(code string) string {
	switch code {
	case "AzureActiveDirectoryInvalidCredential":
		return "The credentials used by the provisioning agent to access Microsoft Entra ID are invalid or have expired. Re-enter the credentials and restart the job."
	case "HybridIdentityServiceNoActiveAgents":
		return "There are no active provisioning agents for this configuration. Install or restart an agent, then restart the job."
	case "":
		return "The job was quarantined."
	default:
		return fmt.Sprintf("The job was quarantined because of error %s.", code)
	}
}

// quarantineLocked imposes a quarantine, or imposes the current one again (a
// re-evaluation: same series, seriesCount+1) when the reason is the same. The
// next evaluation is due after reevaluation.
func (j *job) quarantineLocked(now time.Time, reevaluation time.Duration, reason, code, msg string) {
	if j.quarantine != nil && j.quarantine.Reason == reason {
		j.quarantine.SeriesCount++
		j.quarantine.CurrentBegan = now
	} else {
		j.quarantine = &quarantine{Reason: reason, SeriesBegan: now, CurrentBegan: now, SeriesCount: 1}
	}
	j.quarantine.ErrorCode, j.quarantine.ErrorMessage = code, msg
	j.quarantine.NextAttempt = now.Add(reevaluation)
	j.code = "Quarantine"
}

// without returns s less its first element equal to x, never writing to the
// old array (callers may be iterating over it).
func without[T comparable](s []T, x T) []T {
	for i, y := range s {
		if y == x {
			return append(s[:i:i], s[i+1:]...)
		}
	}
	return s
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
