package graphsim

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

// serveControl implements the unauthenticated /_sim API:
//
//	GET  /_sim/state?tenant=T
//	GET  /_sim/stats
//	GET  /_sim/violations
//	GET  /_sim/requests
//	GET  /_sim/faults
//	POST /_sim/faults                              body: Faults JSON (replaces all knobs)
//	POST /_sim/tenants/{t}/options                 body: TenantOptions JSON
//	POST /_sim/tenants/{t}/configurations          body: ConfigurationSeed JSON
//	POST /_sim/tenants/{t}/jobs/{jobId}/deletions  body: {"count":N}
//	POST /_sim/tenants/{t}/jobs/{jobId}/quarantine body: {"reason":..,"errorCode":..}
//	POST /_sim/tenants/{t}/jobs/{jobId}/pause      (an admin pauses the job)
//	and the drift endpoints of drift.go (sync flag, a secret key, a job, the CredentialData mapping)
func (s *Server) serveControl(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/_sim"), "/"), "/")
	bad := func(status int, msg string) { writeJSON(w, status, map[string]string{"error": msg}) }
	decode := func(v any) bool {
		b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err == nil {
			err = json.Unmarshal(b, v)
		}
		if err != nil {
			bad(400, "invalid JSON body: "+err.Error())
			return false
		}
		return true
	}
	switch {
	case r.Method == http.MethodGet && len(parts) == 1 && parts[0] == "state":
		t := r.URL.Query().Get("tenant")
		if t == "" {
			bad(400, "tenant query parameter required")
			return
		}
		writeJSON(w, 200, s.Snapshot(t))
	case r.Method == http.MethodGet && len(parts) == 1 && parts[0] == "stats":
		writeJSON(w, 200, s.Stats())
	case r.Method == http.MethodGet && len(parts) == 1 && parts[0] == "violations":
		writeJSON(w, 200, s.Violations())
	case r.Method == http.MethodGet && len(parts) == 1 && parts[0] == "requests":
		writeJSON(w, 200, s.RequestLog())
	case r.Method == http.MethodGet && len(parts) == 1 && parts[0] == "faults":
		writeJSON(w, 200, s.CurrentFaults())
	case r.Method == http.MethodPost && len(parts) == 1 && parts[0] == "faults":
		var f Faults
		if !decode(&f) {
			return
		}
		s.SetFaults(f)
		writeJSON(w, 200, s.CurrentFaults())
	case r.Method == http.MethodPost && len(parts) == 3 && parts[0] == "tenants" && parts[2] == "options":
		var o TenantOptions
		if !decode(&o) {
			return
		}
		s.SetTenantOptions(parts[1], o)
		writeJSON(w, 200, o)
	case r.Method == http.MethodPost && len(parts) == 3 && parts[0] == "tenants" && parts[2] == "configurations":
		var c ConfigurationSeed
		if !decode(&c) {
			return
		}
		out, err := s.SeedConfiguration(parts[1], c)
		if err != nil {
			bad(400, err.Error())
			return
		}
		writeJSON(w, 201, out)
	case r.Method == http.MethodPost && len(parts) == 5 && parts[0] == "tenants" && parts[2] == "jobs" && parts[4] == "deletions":
		var b struct {
			Count int `json:"count"`
		}
		if !decode(&b) {
			return
		}
		if err := s.StageDeletions(parts[1], parts[3], b.Count); err != nil {
			bad(404, err.Error())
			return
		}
		w.WriteHeader(204)
	case r.Method == http.MethodPost && len(parts) == 5 && parts[0] == "tenants" && parts[2] == "jobs" && parts[4] == "quarantine":
		var b struct {
			Reason    string `json:"reason"`
			ErrorCode string `json:"errorCode"`
		}
		if !decode(&b) {
			return
		}
		if b.Reason == "" {
			bad(400, "reason required")
			return
		}
		if err := s.Quarantine(parts[1], parts[3], b.Reason, b.ErrorCode); err != nil {
			bad(404, err.Error())
			return
		}
		w.WriteHeader(204)
	case r.Method == http.MethodPost && len(parts) == 5 && parts[0] == "tenants" && parts[2] == "jobs" && parts[4] == "pause":
		if err := s.PauseJob(parts[1], parts[3]); err != nil {
			bad(404, err.Error())
			return
		}
		w.WriteHeader(204)
	case s.serveDriftControl(w, r, parts, decode):
		// sync-flag, secrets, jobs and CredentialData changed as an admin does (drift.go)
	default:
		bad(404, "graphsim: no control endpoint "+r.Method+" "+r.URL.Path)
	}
}
