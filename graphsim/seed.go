package graphsim

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// SeededJob names one job made by SeedRunningJobs.
type SeededJob struct {
	ServicePrincipalID string `json:"servicePrincipalId"`
	JobID              string `json:"jobId"`
}

// SeedRunningJobs gives a tenant sps AD2AAD applications (visible and listed
// at once) with jobsPerSP running AD2AADProvisioning jobs each, as if they had
// been onboarded and started, without any Graph request: benchmarks that
// watch thousands of jobs need them in place. Seeded jobs carry no schema
// (the watchers only read their status).
func (s *Server) SeedRunningJobs(tenantID string, sps, jobsPerSP int) []SeededJob {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenantLocked(tenantID)
	t.onPremSync, t.syncEverOn = true, true
	now := time.Now().UTC()
	// Onboarded a while ago: past every replication and read lag.
	created := now.Add(-time.Hour)
	out := make([]SeededJob, 0, sps*jobsPerSP)
	for i := 0; i < sps; i++ {
		name := fmt.Sprintf("seeded-%d.%s", len(t.sps), "example.com")
		app := &application{objectID: s.newIDLocked(), appID: s.newIDLocked(), displayName: name, templateID: AD2AADTemplateID, created: now}
		sp := &servicePrincipal{id: s.newIDLocked(), appID: app.appID, displayName: name, templateID: AD2AADTemplateID, created: created, visibleAt: now, listedAt: now}
		for j := 0; j < jobsPerSP; j++ {
			jb := &job{
				id:            fmt.Sprintf("AD2AADProvisioning.%s.%s", s.newHexLocked(), s.newIDLocked()),
				templateID:    "AD2AADProvisioning",
				spID:          sp.id,
				created:       created,
				scheduleState: "Active",
				code:          "Active",
				cycles:        1,
				entries:       3,
				steadyFirst:   now,
				steadyLast:    now,
			}
			// As after a first successful cycle, so watchers see a settled job.
			exec := &execution{TimeBegan: now, TimeEnded: now, State: "Succeeded", ActivityID: s.newIDLocked(), CountImported: 3}
			jb.lastExecution, jb.lastSuccess = exec, exec
			sp.jobs = append(sp.jobs, jb)
			out = append(out, SeededJob{ServicePrincipalID: sp.id, JobID: jb.id})
		}
		t.apps = append(t.apps, app)
		t.sps = append(t.sps, sp)
	}
	return out
}

// ConfigurationSeed describes a cloud sync configuration made outside
// cloudsync (the Entra portal, a script), for SeedConfiguration.
type ConfigurationSeed struct {
	DisplayName string `json:"displayName"`
	// NoTemplateID leaves applicationTemplateId null on the application and
	// service principal, as the Entra portal may: a lookup by template id
	// alone does not find it.
	NoTemplateID bool `json:"noTemplateId"`
	// Domain, when set, is written as the Domain secret ({"domain": …}).
	Domain string `json:"domain"`
	// Jobs are the templates of the (disabled) jobs to create, e.g.
	// "AD2AADProvisioning".
	Jobs []string `json:"jobs"`
}

// SeededConfiguration names what SeedConfiguration made.
type SeededConfiguration struct {
	ApplicationObjectID string            `json:"applicationObjectId"`
	AppID               string            `json:"appId"`
	ServicePrincipalID  string            `json:"servicePrincipalId"`
	Jobs                map[string]string `json:"jobs"` // template -> job id
}

// SeedConfiguration makes an application and service principal (visible and
// listed at once) with jobs and a Domain secret, without any Graph request and
// without recording violations.
func (s *Server) SeedConfiguration(tenantID string, c ConfigurationSeed) (SeededConfiguration, error) {
	if strings.TrimSpace(c.DisplayName) == "" {
		return SeededConfiguration{}, fmt.Errorf("displayName required")
	}
	for _, tid := range c.Jobs {
		if !jobTemplates[tid] {
			return SeededConfiguration{}, fmt.Errorf("unknown job template %q", tid)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenantLocked(tenantID)
	// Made elsewhere, a while ago: past every replication and settling lag.
	now := time.Now().UTC().Add(-time.Hour)
	template := AD2AADTemplateID
	if c.NoTemplateID {
		template = ""
	}
	app := &application{objectID: s.newIDLocked(), appID: s.newIDLocked(), displayName: c.DisplayName, templateID: template, created: now}
	sp := &servicePrincipal{id: s.newIDLocked(), appID: app.appID, displayName: c.DisplayName, templateID: template, created: now, visibleAt: now, listedAt: now}
	out := SeededConfiguration{ApplicationObjectID: app.objectID, AppID: app.appID, ServicePrincipalID: sp.id, Jobs: map[string]string{}}
	for _, tid := range c.Jobs {
		j := &job{id: fmt.Sprintf("%s.%s.%s", tid, s.newHexLocked(), s.newIDLocked()), templateID: tid, spID: sp.id, created: now, scheduleState: "Disabled", code: "Paused"}
		j.schema = s.initialSchema(tid, sp.id, j.id)
		sp.jobs = append(sp.jobs, j)
		out.Jobs[tid] = j.id
	}
	if c.Domain != "" {
		b, _ := json.Marshal(map[string]string{"domain": c.Domain})
		sp.secrets = []secret{{Key: "Domain", Value: string(b)}}
	}
	t.apps = append(t.apps, app)
	t.sps = append(t.sps, sp)
	return out, nil
}
