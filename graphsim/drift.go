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
	return s.changeTenant(tenantID, func(t *tenant) error {
		s.setSyncLocked(t, on, time.Now().UTC())
		return nil
	})
}

// DeleteSecret removes one key from a service principal's synchronization
// secrets (as a PUT of the set without it would).
func (s *Server) DeleteSecret(tenantID, spID, key string) error {
	return s.changeTenant(tenantID, func(t *tenant) error {
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
	})
}

// DeleteJob deletes a job (as DELETE …/jobs/{jobId} does).
func (s *Server) DeleteJob(tenantID, jobID string) error {
	return s.changeTenant(tenantID, func(t *tenant) error {
		for _, sp := range t.sps {
			if j := sp.findJob(jobID); j != nil {
				// Reads lag behind an admin's delete as behind any other.
				sp.deleteJobLocked(j, time.Now().UTC())
				return nil
			}
		}
		return fmt.Errorf("unknown job %q in tenant %q", jobID, tenantID)
	})
}

// RemoveCredentialDataMapping removes every attribute mapping targeting
// CredentialData from a job's schema, as an admin editing the mappings in
// the portal does (the portal writes the schema back in its own formatting).
// It returns how many it removed.
func (s *Server) RemoveCredentialDataMapping(tenantID, jobID string) (removed int, err error) {
	err = s.changeJob(tenantID, jobID, func(j *job) error {
		schema, n, err := withoutCredentialDataMappings(j.schema)
		if err != nil {
			return fmt.Errorf("job %q: schema: %w", jobID, err)
		}
		j.schema, removed = schema, n
		return nil
	})
	return removed, err
}

// withoutCredentialDataMappings removes the attribute mappings targeting
// CredentialData from a schema; with none, it returns the schema as it was.
func withoutCredentialDataMappings(schema []byte) ([]byte, int, error) {
	dec := json.NewDecoder(bytes.NewReader(schema))
	dec.UseNumber() // numbers as written
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, 0, err
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
		return schema, 0, nil
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, 0, err
	}
	return b, removed, nil
}

// The control endpoints that make drift (routed in controlMux).

func (s *Server) ctlSyncFlag(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Enabled *bool `json:"enabled"`
	}
	if !ctlDecode(w, r, &b) {
		return
	}
	if b.Enabled == nil {
		ctlError(w, 400, "enabled required")
		return
	}
	ctlDone(w, s.SetOnPremisesSyncEnabled(r.PathValue("t"), *b.Enabled))
}

func (s *Server) ctlDeleteSecret(w http.ResponseWriter, r *http.Request) {
	ctlDone(w, s.DeleteSecret(r.PathValue("t"), r.PathValue("sp"), r.PathValue("key")))
}

func (s *Server) ctlDeleteJob(w http.ResponseWriter, r *http.Request) {
	ctlDone(w, s.DeleteJob(r.PathValue("t"), r.PathValue("jobId")))
}

func (s *Server) ctlRemoveCredentialData(w http.ResponseWriter, r *http.Request) {
	n, err := s.RemoveCredentialDataMapping(r.PathValue("t"), r.PathValue("jobId"))
	if err != nil {
		ctlError(w, 404, err.Error())
		return
	}
	writeJSON(w, 200, map[string]int{"removed": n})
}
