package graphsim

import (
	crand "crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"
)

const graphScope = "https://graph.microsoft.com/.default"

type tokenInfo struct {
	tenant, clientID string
	expires          time.Time
}

var (
	guidRE   = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	domainRE = regexp.MustCompile(`^(?i)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$`)
)

func validTenantSyntax(t string) bool { return guidRE.MatchString(t) || domainRE.MatchString(t) }

// serveAuth implements the bits of the Entra ID v2 endpoints that MSAL for Go
// needs for the client-credentials flow with DisableInstanceDiscovery:
//
//	GET  /{tenant}/v2.0/.well-known/openid-configuration
//	POST /{tenant}/oauth2/v2.0/token
func (s *Server) serveAuth(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	w.Header().Set("x-ms-request-id", randomGUID())
	if crid := r.Header.Get("client-request-id"); crid != "" {
		w.Header().Set("client-request-id", crid)
	}
	switch {
	case len(parts) == 4 && parts[1] == "v2.0" && parts[2] == ".well-known" && parts[3] == "openid-configuration" && r.Method == http.MethodGet:
		s.serveOpenIDConfig(w, r, parts[0])
	case len(parts) == 4 && parts[1] == "oauth2" && parts[2] == "v2.0" && parts[3] == "token" && r.Method == http.MethodPost:
		s.serveToken(w, r, parts[0])
	default:
		s.countAuth(r.Method+" (unmatched)", http.StatusNotFound)
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "not_found", "error_description": "graphsim: no such endpoint " + r.Method + " " + r.URL.Path})
	}
}

func (s *Server) countAuth(route string, status int) {
	s.mu.Lock()
	s.stats.Requests[fmt.Sprintf("%s %d", route, status)]++
	s.mu.Unlock()
}

// tenantError checks tenant syntax and KnownTenants; returns a non-empty AADSTS error description if refused.
func (s *Server) tenantError(t string) (code int, errCode, desc string) {
	if !validTenantSyntax(t) {
		return 900023, "invalid_request", fmt.Sprintf("AADSTS900023: Specified tenant identifier '%s' is neither a valid DNS name, nor a valid external domain.", t)
	}
	if len(s.opts.KnownTenants) > 0 {
		for _, k := range s.opts.KnownTenants {
			if strings.EqualFold(k, t) {
				return 0, "", ""
			}
		}
		return 90002, "invalid_request", fmt.Sprintf("AADSTS90002: Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.", t)
	}
	return 0, "", ""
}

func (s *Server) aadError(w http.ResponseWriter, r *http.Request, status int, code int, errName, desc string) {
	traceID, corrID := randomGUID(), r.Header.Get("client-request-id")
	if corrID == "" {
		corrID = randomGUID()
	}
	now := time.Now().UTC()
	writeJSON(w, status, map[string]any{
		"error":             errName,
		"error_description": fmt.Sprintf("%s Trace ID: %s Correlation ID: %s Timestamp: %s", desc, traceID, corrID, now.Format("2006-01-02 15:04:05Z")),
		"error_codes":       []int{code},
		"timestamp":         now.Format("2006-01-02 15:04:05Z"),
		"trace_id":          traceID,
		"correlation_id":    corrID,
		"error_uri":         s.baseURL + "/error?code=" + fmt.Sprint(code),
	})
}

func (s *Server) serveOpenIDConfig(w http.ResponseWriter, r *http.Request, tenantID string) {
	const route = "GET /{tenant}/v2.0/.well-known/openid-configuration"
	if code, e, desc := s.tenantError(tenantID); code != 0 {
		s.countAuth(route, 400)
		s.aadError(w, r, 400, code, e, desc)
		return
	}
	base := s.baseURL + "/" + tenantID
	s.countAuth(route, 200)
	writeJSON(w, 200, map[string]any{
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"jwks_uri":                              base + "/discovery/v2.0/keys",
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"issuer":                                base + "/v2.0",
		"request_uri_parameter_supported":       false,
		"userinfo_endpoint":                     s.baseURL + "/oidc/userinfo",
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"device_authorization_endpoint":         base + "/oauth2/v2.0/devicecode",
		"http_logout_supported":                 true,
		"frontchannel_logout_supported":         true,
		"end_session_endpoint":                  base + "/oauth2/v2.0/logout",
		"claims_supported":                      []string{"sub", "iss", "aud", "exp", "iat", "tid"},
		"kerberos_endpoint":                     base + "/kerberos",
		"tenant_region_scope":                   "EU",
		"cloud_instance_name":                   "microsoftonline.com",
		"cloud_graph_host_name":                 "graph.windows.net",
		"msgraph_host":                          "graph.microsoft.com",
		"rbac_url":                              "https://pas.windows.net",
	})
}

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request, tenantID string) {
	const route = "POST /{tenant}/oauth2/v2.0/token"
	fail := func(status, code int, e, desc string) {
		s.countAuth(route, status)
		s.aadError(w, r, status, code, e, desc)
	}
	s.mu.Lock()
	down := s.faults.TokenEndpointDown
	s.mu.Unlock()
	if down {
		fail(503, 90033, "temporarily_unavailable", "AADSTS90033: A transient error has occurred. Please try again.")
		return
	}
	if code, e, desc := s.tenantError(tenantID); code != 0 {
		fail(400, code, e, desc)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		fail(400, 900144, "invalid_request", "AADSTS900144: The request body must contain the following parameter: 'grant_type'.")
		return
	}
	f := r.PostForm
	grant, clientID, secretValue := f.Get("grant_type"), f.Get("client_id"), f.Get("client_secret")
	switch {
	case grant == "":
		fail(400, 900144, "invalid_request", "AADSTS900144: The request body must contain the following parameter: 'grant_type'.")
		return
	case grant != "client_credentials":
		fail(400, 70003, "unsupported_grant_type", fmt.Sprintf("AADSTS70003: The app requested an unsupported grant type '%s'.", grant))
		return
	case clientID == "":
		fail(400, 900144, "invalid_request", "AADSTS900144: The request body must contain the following parameter: 'client_id'.")
		return
	}
	want, ok := s.opts.Clients[clientID]
	if !ok {
		fail(400, 700016, "unauthorized_client", fmt.Sprintf("AADSTS700016: Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", clientID, tenantID))
		return
	}
	if secretValue == "" {
		fail(401, 7000216, "invalid_client", "AADSTS7000216: 'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.")
		return
	}
	if secretValue != want {
		fail(401, 7000215, "invalid_client", fmt.Sprintf("AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", clientID))
		return
	}
	var resource []string
	for _, sc := range strings.Fields(f.Get("scope")) {
		switch strings.ToLower(sc) {
		case "openid", "profile", "offline_access":
			continue
		}
		resource = append(resource, sc)
	}
	if len(resource) != 1 || !(strings.EqualFold(resource[0], graphScope) || strings.EqualFold(resource[0], "00000003-0000-0000-c000-000000000000/.default")) {
		name := strings.Join(resource, " ")
		if len(resource) == 1 && !strings.HasSuffix(resource[0], "/.default") {
			fail(400, 1002012, "invalid_scope", fmt.Sprintf("AADSTS1002012: The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", name))
			return
		}
		fail(400, 500011, "invalid_resource", fmt.Sprintf("AADSTS500011: The resource principal named %s was not found in the tenant named %s. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.", strings.TrimSuffix(name, "/.default"), tenantID))
		return
	}
	var b [32]byte
	_, _ = crand.Read(b[:])
	tok := "gsim." + base64.RawURLEncoding.EncodeToString(b[:])
	s.mu.Lock()
	s.tenantLocked(tenantID)
	s.tokens[tok] = tokenInfo{tenant: strings.ToLower(tenantID), clientID: clientID, expires: time.Now().Add(3599 * time.Second)}
	s.stats.TokensIssued++
	s.stats.Requests[route+" 200"]++
	s.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store, no-cache")
	writeJSON(w, 200, map[string]any{
		"token_type":     "Bearer",
		"expires_in":     3599,
		"ext_expires_in": 3599,
		"access_token":   tok,
	})
}
