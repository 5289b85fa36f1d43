package graphsim

import (
	"fmt"
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
	t.onPremSync = true
	now := time.Now().UTC()
	out := make([]SeededJob, 0, sps*jobsPerSP)
	for i := 0; i < sps; i++ {
		name := fmt.Sprintf("seeded-%d.%s", len(t.sps), "example.com")
		app := &application{objectID: s.newIDLocked(), appID: s.newIDLocked(), displayName: name, templateID: AD2AADTemplateID, created: now}
		sp := &servicePrincipal{id: s.newIDLocked(), appID: app.appID, displayName: name, templateID: AD2AADTemplateID, created: now, visibleAt: now, listedAt: now}
		for j := 0; j < jobsPerSP; j++ {
			jb := &job{
				id:            fmt.Sprintf("AD2AADProvisioning.%s.%s", s.newHexLocked(), s.newIDLocked()),
				templateID:    "AD2AADProvisioning",
				spID:          sp.id,
				created:       now,
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
