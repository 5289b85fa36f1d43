package graphsim

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

const graphMeta = "https://graph.microsoft.com/beta/$metadata"

// gctx is the per-request context of a Graph call.
type gctx struct {
	s           *Server
	w           http.ResponseWriter
	r           *http.Request
	tenant      string // token tenant (lower-case)
	t           *tenant
	route       string // "METHOD /pattern"
	params      map[string]string
	body        []byte
	reqID       string
	clientReqID string
	status      int
	logBody     string
	now         time.Time
}

// serveGraph answers a Graph request (below /beta).
func (s *Server) serveGraph(w http.ResponseWriter, r *http.Request) {
	g := &gctx{s: s, w: w, r: r, reqID: randomGUID(), clientReqID: r.Header.Get("client-request-id"), now: time.Now().UTC()}
	if g.clientReqID == "" {
		g.clientReqID = randomGUID()
	}
	h := w.Header()
	h.Set("request-id", g.reqID)
	h.Set("client-request-id", g.clientReqID)
	h.Set("x-ms-ags-diagnostic", `{"ServerInfo":{"DataCenter":"Simulated","Slice":"E","Ring":"5","ScaleUnit":"000","RoleInstance":"GRAPHSIM"}}`)
	h.Set("Strict-Transport-Security", "max-age=31536000")
	routeGraph(g)
}

// serve answers the request with route rd, which pattern names; rd is nil
// when the method is not served at pattern, both are empty when the path is
// unknown. Authentication and faults come first, as on Graph.
func (g *gctx) serve(rd *graphRoute, pattern string) {
	s, r, h := g.s, g.r, g.w.Header()
	if pattern == "" {
		g.route = r.Method + " (unmatched)"
	} else {
		g.route = r.Method + " " + pattern
	}
	defer g.finish()

	s.mu.Lock()
	f := s.faults
	s.mu.Unlock()
	if f.Latency > 0 {
		select {
		case <-time.After(f.Latency):
		case <-r.Context().Done():
			g.status = 499
			return
		}
	}

	// Authentication.
	auth := r.Header.Get("Authorization")
	tok, hasBearer := strings.CutPrefix(auth, "Bearer ")
	if !hasBearer || strings.TrimSpace(tok) == "" {
		h.Set("WWW-Authenticate", `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`)
		g.err(401, "InvalidAuthenticationToken", "Access token is empty.")
		return
	}
	s.mu.Lock()
	ti, ok := s.tokens[strings.TrimSpace(tok)]
	s.mu.Unlock()
	if !ok {
		g.err(401, "InvalidAuthenticationToken", "IDX14100: JWT is not well formed, there are no dots (.).\nThe token needs to be in JWS or JWE Compact Serialization Format. (JWS): 'EncodedHeader.EndcodedPayload.EncodedSignature'. (JWE): 'EncodedProtectedHeader.EncodedEncryptedKey.EncodedInitializationVector.EncodedCiphertext.EncodedAuthenticationTag'.")
		return
	}
	if time.Now().After(ti.expires) {
		g.err(401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.")
		return
	}
	g.tenant = ti.tenant

	// Faults: drawn before anything changes state.
	if g.fault(f) {
		return
	}

	if rd == nil {
		if pattern != "" {
			if strings.Contains(strings.ToLower(pattern), "/synchronization/") {
				g.countWrite()
				g.noHTTPResource()
				return
			}
			g.err(405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
			return
		}
		segs := g.segments()
		g.err(400, "BadRequest", fmt.Sprintf("Resource not found for the segment '%s'.", segs[len(segs)-1]))
		return
	}
	if rd.write() {
		g.countWrite()
	}

	// Body (gzip-aware).
	if !g.readBody() {
		return
	}
	if rd.logBody {
		g.logBody = string(g.body)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	g.t = s.tenantLocked(g.tenant)
	if g.t.opts.ConsentRevoked {
		g.err(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
		return
	}
	if g.settling(rd) {
		return
	}
	if rd.write() && g.t.opts.MissingPermission != "" {
		g.err(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
		return
	}
	rd.h(g)
}

// settling answers a synchronization call on a service principal created
// less than SyncSettle ago with 403 or 409, in turn. Caller holds s.mu.
func (g *gctx) settling(rd *graphRoute) bool {
	if g.s.opts.SyncSettle <= 0 || !strings.Contains(rd.pattern, "/synchronization/") {
		return false
	}
	sp := g.t.findSP(g.params["id"])
	if sp == nil || !g.now.Before(sp.created.Add(g.s.opts.SyncSettle)) {
		return false
	}
	sp.settleAnswers++
	if sp.settleAnswers%2 == 1 {
		g.err(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
	} else {
		g.err(409, "Conflict", "The service principal is being provisioned. Try again later.")
	}
	return true
}

func (g *gctx) countWrite() {
	g.s.mu.Lock()
	g.s.stats.GraphWrites++
	g.s.mu.Unlock()
}

// fault draws the throttling/unavailability faults; true when it answered.
func (g *gctx) fault(f Faults) bool {
	if f.ThrottleRate <= 0 && f.UnavailableRate <= 0 {
		return false
	}
	s := g.s
	s.mu.Lock()
	u := s.faultRNG.Float64()
	ra := f.RetryAfterSeconds
	if ra <= 0 {
		ra = 0.2 + 0.8*s.faultRNG.Float64()
	}
	with503RetryAfter := s.faultRNG.IntN(2) == 0
	s.mu.Unlock()
	switch {
	case u < f.ThrottleRate:
		g.w.Header().Set("Retry-After", formatRetryAfter(ra))
		s.mu.Lock()
		s.stats.Throttled++
		s.mu.Unlock()
		g.errInner(429, "TooManyRequests", "Please retry again later.", map[string]any{"code": "429", "message": "Please retry after", "status": "429"})
		return true
	case u < f.ThrottleRate+f.UnavailableRate:
		if with503RetryAfter {
			g.w.Header().Set("Retry-After", formatRetryAfter(ra))
		}
		s.mu.Lock()
		s.stats.Unavailable++
		s.mu.Unlock()
		g.err(503, "ServiceUnavailable", "Service is unavailable. Please try again later.")
		return true
	}
	return false
}

func (g *gctx) readBody() bool {
	r := g.r
	raw, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	if err != nil {
		g.err(400, "BadRequest", "Unable to read the request body.")
		return false
	}
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
		g.body = raw
	case "gzip":
		if len(raw) == 0 {
			g.body = raw
			break
		}
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			g.err(400, "BadRequest", "The request body could not be decompressed: Content-Encoding is gzip but the body is not a gzip stream.")
			return false
		}
		b, err := io.ReadAll(io.LimitReader(zr, 64<<20))
		if err != nil {
			g.err(400, "BadRequest", "The request body could not be decompressed: corrupt gzip stream.")
			return false
		}
		g.body = b
	default:
		g.err(415, "UnsupportedMediaType", fmt.Sprintf("Content-Encoding '%s' is not supported.", enc))
		return false
	}
	return true
}

// finish records stats and the request log.
func (g *gctx) finish() {
	s := g.s
	if g.status == 0 {
		g.status = 200
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.TotalGraphRequests++
	s.stats.Requests[fmt.Sprintf("%s %d", g.route, g.status)]++
	q := g.r.URL.RawQuery
	if dq, err := url.QueryUnescape(q); err == nil {
		q = dq
	}
	s.log = append(s.log, Request{Time: g.now, Method: g.r.Method, Path: g.r.URL.Path, Query: q, Route: g.route,
		Status: g.status, Tenant: g.tenant, Body: g.logBody, RequestID: g.reqID})
}

// ---- responses ----

func (g *gctx) innerError(extra map[string]any) map[string]any {
	ie := map[string]any{"date": g.now.Format("2006-01-02T15:04:05"), "request-id": g.reqID, "client-request-id": g.clientReqID}
	for k, v := range extra {
		ie[k] = v
	}
	return ie
}

func (g *gctx) errInner(status int, code, msg string, extra map[string]any) {
	g.status = status
	writeJSON(g.w, status, map[string]any{"error": map[string]any{"code": code, "message": msg, "innerError": g.innerError(extra)}})
}

func (g *gctx) err(status int, code, msg string) { g.errInner(status, code, msg, nil) }

// syncErr answers like the synchronization back end: outer code
// UnknownError and the real error JSON-encoded inside message.
func (g *gctx) syncErr(status int, innerCode, innerMsg string) {
	var m any
	if innerMsg != "" {
		m = innerMsg
	}
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"code": innerCode, "message": m, "target": nil, "details": []any{}, "innerError": nil}})
	g.err(status, "UnknownError", string(b))
}

// segments are the request's path segments below /beta, as sent.
func (g *gctx) segments() []string {
	return strings.Split(strings.Trim(strings.TrimPrefix(g.r.URL.Path, "/beta"), "/"), "/")
}

// noHTTPResource is syncfabric's answer to an unsupported method/route.
func (g *gctx) noHTTPResource() {
	segs := g.segments()
	var out []string
	for i := 0; i < len(segs); i++ {
		name := segs[i]
		switch strings.ToLower(name) {
		case "serviceprincipals", "jobs", "directories", "templates":
			if i+1 < len(segs) {
				out = append(out, fmt.Sprintf("%s('%s')", name, segs[i+1]))
				i++
				continue
			}
		}
		out = append(out, name)
	}
	b, _ := json.Marshal(map[string]string{"Message": fmt.Sprintf("No HTTP resource was found that matches the request URI 'https://syncfabric.windowsazure.com/api/%s?api-version=2.0'.", strings.Join(out, "/"))})
	g.err(404, "UnknownError", string(b))
}

func (g *gctx) json(status int, v any) {
	g.status = status
	writeJSON(g.w, status, v)
}

func (g *gctx) raw(status int, b []byte) {
	g.status = status
	g.w.Header().Set("Content-Type", "application/json; charset=utf-8")
	g.w.WriteHeader(status)
	_, _ = g.w.Write(b)
}

func (g *gctx) noContent() {
	g.status = 204
	g.w.WriteHeader(204)
}

func (g *gctx) notFoundResource(id string) {
	g.err(404, "Request_ResourceNotFound", fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", id))
}

// decodeObject parses the body as a JSON object.
func (g *gctx) decodeObject() (map[string]json.RawMessage, bool) {
	var m map[string]json.RawMessage
	if len(bytes.TrimSpace(g.body)) == 0 {
		g.err(400, "BadRequest", "Empty Payload. JSON content expected.")
		return nil, false
	}
	if err := json.Unmarshal(g.body, &m); err != nil || m == nil {
		g.err(400, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.")
		return nil, false
	}
	return m, true
}

// ---- lookups ----

// lingering reports whether an object deleted at deletedAt still shows in
// reads (the delete lag: Graph's replicas catch up after the delete).
func (g *gctx) lingering(deletedAt time.Time) bool {
	return g.r.Method == http.MethodGet && g.now.Before(deletedAt.Add(g.s.faults.DeleteLag))
}

// sp resolves {id} to a visible service principal of the caller's tenant
// (for a read, also one deleted within the delete lag), answering 404 (and
// recording cross-tenant access) otherwise.
func (g *gctx) sp() *servicePrincipal {
	id := g.params["id"]
	sp := g.t.findSP(id)
	if sp == nil {
		for _, gone := range g.t.goneSPs {
			if strings.EqualFold(gone.id, id) && g.lingering(gone.deletedAt) {
				return gone
			}
		}
	}
	if sp == nil {
		if other := g.s.otherTenantHoldingSP(g.tenant, id); other != "" {
			g.s.violationLocked(ViolationCrossTenantToken, g.tenant, "%s: service principal %s belongs to tenant %s, token is for tenant %s", g.route, id, other, g.tenant)
		}
		g.notFoundResource(id)
		return nil
	}
	if g.now.Before(sp.visibleAt) {
		g.notFoundResource(id)
		return nil
	}
	return sp
}

func (g *gctx) job() (*servicePrincipal, *job) {
	sp := g.sp()
	if sp == nil {
		return nil, nil
	}
	id := g.params["jobId"]
	j := sp.findJob(id)
	if j == nil {
		for _, gone := range sp.goneJobs {
			if gone.id == id && g.lingering(gone.deletedAt) {
				return sp, gone
			}
		}
		g.jobNotFound(sp, id)
		return nil, nil
	}
	return sp, j
}

// jobNotFound is the sync back end's 404 for a job id.
func (g *gctx) jobNotFound(sp *servicePrincipal, id string) {
	g.syncErr(404, "SynchronizationJobNotFound", fmt.Sprintf("The synchronization job '%s' was not found for service principal '%s'.", id, sp.id))
}
