package graphsim

import (
	"encoding/json"
	"io"
	"net/http"
)

// controlMux routes the unauthenticated /_sim API. Any other method or path
// answers 404 with a JSON error.
func (s *Server) controlMux() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("GET /_sim/state", s.ctlState)
	m.HandleFunc("GET /_sim/stats", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, s.Stats()) })
	m.HandleFunc("GET /_sim/violations", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, s.Violations()) })
	m.HandleFunc("GET /_sim/requests", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, s.RequestLog()) })
	m.HandleFunc("GET /_sim/faults", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, s.CurrentFaults()) })
	m.HandleFunc("POST /_sim/faults", s.ctlSetFaults)                                  // body: Faults JSON (replaces all knobs)
	m.HandleFunc("POST /_sim/tenants/{t}/options", s.ctlTenantOptions)                 // body: TenantOptions JSON
	m.HandleFunc("POST /_sim/tenants/{t}/configurations", s.ctlSeed)                   // body: ConfigurationSeed JSON
	m.HandleFunc("POST /_sim/tenants/{t}/jobs/{jobId}/deletions", s.ctlStageDeletions) // body: {"count":N}
	m.HandleFunc("POST /_sim/tenants/{t}/jobs/{jobId}/quarantine", s.ctlQuarantine)    // body: {"reason":..,"errorCode":..}
	m.HandleFunc("POST /_sim/tenants/{t}/jobs/{jobId}/pause", s.ctlPauseJob)           // an admin pauses the job
	// Drift made as an admin makes it (drift.go).
	m.HandleFunc("POST /_sim/tenants/{t}/sync-flag", s.ctlSyncFlag) // body: {"enabled":false}
	m.HandleFunc("DELETE /_sim/tenants/{t}/servicePrincipals/{sp}/secrets/{key}", s.ctlDeleteSecret)
	m.HandleFunc("DELETE /_sim/tenants/{t}/jobs/{jobId}", s.ctlDeleteJob)
	m.HandleFunc("DELETE /_sim/tenants/{t}/jobs/{jobId}/credentialdata", s.ctlRemoveCredentialData) // answers {"removed":N}
	notFound := func(w http.ResponseWriter, r *http.Request) {
		ctlError(w, 404, "graphsim: no control endpoint "+r.Method+" "+r.URL.Path)
	}
	m.HandleFunc("/_sim/", notFound)
	m.HandleFunc("/_sim", notFound)
	return m
}

func ctlError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// ctlDecode reads a JSON body into v, answering 400 when it cannot.
func ctlDecode(w http.ResponseWriter, r *http.Request, v any) bool {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err == nil {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		ctlError(w, 400, "invalid JSON body: "+err.Error())
		return false
	}
	return true
}

// ctlDone answers 204, or 404 with err (the tenant, job or object is unknown).
func ctlDone(w http.ResponseWriter, err error) {
	if err != nil {
		ctlError(w, 404, err.Error())
		return
	}
	w.WriteHeader(204)
}

func (s *Server) ctlState(w http.ResponseWriter, r *http.Request) {
	t := r.URL.Query().Get("tenant")
	if t == "" {
		ctlError(w, 400, "tenant query parameter required")
		return
	}
	writeJSON(w, 200, s.Snapshot(t))
}

func (s *Server) ctlSetFaults(w http.ResponseWriter, r *http.Request) {
	var f Faults
	if ctlDecode(w, r, &f) {
		s.SetFaults(f)
		writeJSON(w, 200, s.CurrentFaults())
	}
}

func (s *Server) ctlTenantOptions(w http.ResponseWriter, r *http.Request) {
	var o TenantOptions
	if ctlDecode(w, r, &o) {
		s.SetTenantOptions(r.PathValue("t"), o)
		writeJSON(w, 200, o)
	}
}

func (s *Server) ctlSeed(w http.ResponseWriter, r *http.Request) {
	var c ConfigurationSeed
	if !ctlDecode(w, r, &c) {
		return
	}
	out, err := s.SeedConfiguration(r.PathValue("t"), c)
	if err != nil {
		ctlError(w, 400, err.Error())
		return
	}
	writeJSON(w, 201, out)
}

func (s *Server) ctlStageDeletions(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Count int `json:"count"`
	}
	if ctlDecode(w, r, &b) {
		ctlDone(w, s.StageDeletions(r.PathValue("t"), r.PathValue("jobId"), b.Count))
	}
}

func (s *Server) ctlQuarantine(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Reason    string `json:"reason"`
		ErrorCode string `json:"errorCode"`
	}
	if !ctlDecode(w, r, &b) {
		return
	}
	if b.Reason == "" {
		ctlError(w, 400, "reason required")
		return
	}
	ctlDone(w, s.Quarantine(r.PathValue("t"), r.PathValue("jobId"), b.Reason, b.ErrorCode))
}

func (s *Server) ctlPauseJob(w http.ResponseWriter, r *http.Request) {
	ctlDone(w, s.PauseJob(r.PathValue("t"), r.PathValue("jobId")))
}
