package graphsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Drift: what an admin changes in a configuration outside cloudsync (the
// portal, PowerShell). These make drift from the outside for tests and demos;
// a Graph client sees the result as it would see the portal's.

// setSyncLocked sets a tenant's directory sync flag. Turning it off starts a
// deactivation (Options.SyncDeactivation) during which it cannot be turned
// on. Caller holds s.mu.
func (s *Server) setSyncLocked(t *tenant, on bool, now time.Time) {
	if !on && t.onPremSync && s.opts.SyncDeactivation > 0 {
		t.deactivating = now.Add(s.opts.SyncDeactivation)
	}
	t.onPremSync = on
	t.syncEverOn = t.syncEverOn || on
}

// SetOnPremisesSyncEnabled sets a tenant's directory sync flag as an admin
// does (turning it off starts its deactivation, Options.SyncDeactivation).
func (s *Server) SetOnPremisesSyncEnabled(tenantID string, on bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenants[strings.ToLower(tenantID)]
	if t == nil {
		return fmt.Errorf("unknown tenant %q", tenantID)
	}
	s.setSyncLocked(t, on, time.Now().UTC())
	return nil
}

// DeleteSecret removes one key from a service principal's synchronization
// secrets (as a PUT of the set without it would).
func (s *Server) DeleteSecret(tenantID, spID, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenants[strings.ToLower(tenantID)]
	if t == nil {
		return fmt.Errorf("unknown tenant %q", tenantID)
	}
	sp := t.findSP(spID)
	if sp == nil {
		return fmt.Errorf("unknown service principal %q in tenant %q", spID, tenantID)
	}
	for i, kv := range sp.secrets {
		if strings.EqualFold(kv.Key, key) {
			sp.secrets = append(sp.secrets[:i:i], sp.secrets[i+1:]...)
			return nil
		}
	}
	return fmt.Errorf("service principal %q has no secret %q", spID, key)
}

// DeleteJob deletes a job (as DELETE …/jobs/{jobId} does).
func (s *Server) DeleteJob(tenantID, jobID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenants[strings.ToLower(tenantID)]
	if t == nil {
		return fmt.Errorf("unknown tenant %q", tenantID)
	}
	for _, sp := range t.sps {
		for i, j := range sp.jobs {
			if j.id == jobID {
				sp.jobs = append(sp.jobs[:i:i], sp.jobs[i+1:]...)
				return nil
			}
		}
	}
	return fmt.Errorf("unknown job %q in tenant %q", jobID, tenantID)
}

// RemoveCredentialDataMapping removes every attribute mapping targeting
// CredentialData from a job's schema, as an admin editing the mappings in
// the portal does (the portal writes the schema back in its own formatting).
// It returns how many it removed.
func (s *Server) RemoveCredentialDataMapping(tenantID, jobID string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, err := s.jobLocked(tenantID, jobID)
	if err != nil {
		return 0, err
	}
	dec := json.NewDecoder(bytes.NewReader(j.schema))
	dec.UseNumber() // numbers as written
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return 0, fmt.Errorf("job %q: schema: %w", jobID, err)
	}
	removed := 0
	rules, _ := doc["synchronizationRules"].([]any)
	for _, r := range rules {
		rule, _ := r.(map[string]any)
		mappings, _ := rule["objectMappings"].([]any)
		for _, m := range mappings {
			om, _ := m.(map[string]any)
			attrs, ok := om["attributeMappings"].([]any)
			if !ok {
				continue
			}
			kept := make([]any, 0, len(attrs))
			for _, a := range attrs {
				if am, _ := a.(map[string]any); am != nil {
					if target, _ := am["targetAttributeName"].(string); strings.EqualFold(target, "CredentialData") {
						removed++
						continue
					}
				}
				kept = append(kept, a)
			}
			om["attributeMappings"] = kept
		}
	}
	if removed == 0 {
		return 0, nil
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return 0, err
	}
	j.schema = b
	return removed, nil
}

// serveDriftControl implements the control endpoints that make drift:
//
//	POST   /_sim/tenants/{t}/sync-flag                               body: {"enabled":false}
//	DELETE /_sim/tenants/{t}/servicePrincipals/{sp}/secrets/{key}
//	DELETE /_sim/tenants/{t}/jobs/{jobId}
//	DELETE /_sim/tenants/{t}/jobs/{jobId}/credentialdata           answers {"removed":N}
//
// It reports whether the request was one of them.
func (s *Server) serveDriftControl(w http.ResponseWriter, r *http.Request, parts []string, decode func(any) bool) bool {
	bad := func(status int, msg string) { writeJSON(w, status, map[string]string{"error": msg}) }
	if len(parts) < 3 || parts[0] != "tenants" {
		return false
	}
	t := parts[1]
	switch {
	case r.Method == http.MethodPost && len(parts) == 3 && parts[2] == "sync-flag":
		var b struct {
			Enabled *bool `json:"enabled"`
		}
		if !decode(&b) {
			return true
		}
		if b.Enabled == nil {
			bad(400, "enabled required")
			return true
		}
		if err := s.SetOnPremisesSyncEnabled(t, *b.Enabled); err != nil {
			bad(404, err.Error())
			return true
		}
		w.WriteHeader(204)
	case r.Method == http.MethodDelete && len(parts) == 6 && parts[2] == "servicePrincipals" && parts[4] == "secrets":
		if err := s.DeleteSecret(t, parts[3], parts[5]); err != nil {
			bad(404, err.Error())
			return true
		}
		w.WriteHeader(204)
	case r.Method == http.MethodDelete && len(parts) == 4 && parts[2] == "jobs":
		if err := s.DeleteJob(t, parts[3]); err != nil {
			bad(404, err.Error())
			return true
		}
		w.WriteHeader(204)
	case r.Method == http.MethodDelete && len(parts) == 5 && parts[2] == "jobs" && parts[4] == "credentialdata":
		n, err := s.RemoveCredentialDataMapping(t, parts[3])
		if err != nil {
			bad(404, err.Error())
			return true
		}
		writeJSON(w, 200, map[string]int{"removed": n})
	default:
		return false
	}
	return true
}
