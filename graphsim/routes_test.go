package graphsim

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Graph matches its segment names case-insensitively and keeps ids as sent;
// graphsim routes the same request the same way, whatever its case.
func TestRoutingIgnoresTheCaseOfSegmentNames(t *testing.T) {
	s := newSim(t, Options{JobReadLag: -1})
	c := newCaller(t, s, tenantA)
	sp := c.instantiate("routing")
	job := c.createJob(sp, "AD2AADProvisioning")
	appID := s.Snapshot(tenantA).Applications[0].AppID

	for _, tc := range []struct{ method, path, route string }{
		{"GET", "/SERVICEPRINCIPALS/" + sp + "/Synchronization/JOBS/" + job, "GET /servicePrincipals/{id}/synchronization/jobs/{jobId}"},
		{"GET", "/servicePrincipals/" + strings.ToUpper(sp) + "/synchronization/jobs/" + job, "GET /servicePrincipals/{id}/synchronization/jobs/{jobId}"},
		{"GET", "/serviceprincipals/" + sp + "/synchronization/jobs/" + job + "/SCHEMA", "GET /servicePrincipals/{id}/synchronization/jobs/{jobId}/schema"},
		{"GET", "/Organization/" + tenantA, "GET /organization/{id}"},
		{"GET", "/APPLICATIONS(APPID='" + appID + "')", "GET /applications(appId='{appId}')"},
		{"GET", "/applications(appId=%27" + appID + "%27)", "GET /applications(appId='{appId}')"},
		{"GET", "/servicePrincipals/" + sp + "/", "GET /servicePrincipals/{id}"}, // a trailing slash is ignored
		{"POST", "/servicePrincipals/" + sp + "/synchronization/jobs/" + job + "/Pause", "POST /servicePrincipals/{id}/synchronization/jobs/{jobId}/pause"},
	} {
		r := c.do(tc.method, tc.path, nil)
		require.Less(t, r.Status, 300, "%s %s: %s", tc.method, tc.path, r.Body)
		last := s.RequestLog()[len(s.RequestLog())-1]
		require.Equal(t, tc.route, last.Route, tc.path)
		require.Equal(t, "/beta"+strings.ReplaceAll(tc.path, "%27", "'"), last.Path, "the log keeps the path as sent")
	}
	require.Equal(t, 2, s.Stats().Requests["GET /servicePrincipals/{id}/synchronization/jobs/{jobId} 200"])

	// A job id is case-sensitive: it is kept as sent, never folded.
	r := c.do("GET", "/servicePrincipals/"+sp+"/synchronization/jobs/"+strings.ToUpper(job), nil)
	require.Equal(t, 404, r.Status, "%s", r.Body)

	// The query string is read as before, whatever the path's case.
	r = c.do("GET", "/SERVICEPRINCIPALS?%24filter=displayName%20eq%20'routing'", nil)
	require.Equal(t, 200, r.Status, "%s", r.Body)
	require.Len(t, r.json(t)["value"], 1)
}

func TestRoutingAnswersUnknownPathsAndMethodsAsGraph(t *testing.T) {
	s := newSim(t, Options{JobReadLag: -1})
	c := newCaller(t, s, tenantA)
	sp := c.instantiate("routing")
	job := c.createJob(sp, "AD2AADProvisioning")
	jobURL := "/servicePrincipals/" + sp + "/synchronization/jobs/" + job

	// A path Graph does not know: 400, naming the last segment.
	for path, seg := range map[string]string{
		"/nothing/here":                                "here",
		"/servicePrincipals/" + sp + "/owners":         "owners",
		"/servicePrincipals//synchronization/jobs":     "jobs",
		"/servicePrincipals/" + sp + "/./":             ".",
		"/applications(appId='')":                      "applications(appId='')",
		"/applications(appId='')/" + sp:                sp,
		jobURL + "/schema/directories/adds/DISCOVER/x": "x",
		"": "",
	} {
		r := c.do("GET", path, nil)
		require.Equal(t, 400, r.Status, "%s: %s", path, r.Body)
		require.Equal(t, "BadRequest", r.errCode(t), path)
		require.Equal(t, "Resource not found for the segment '"+seg+"'.", r.errMessage(t), path)
		require.Equal(t, "GET (unmatched)", s.RequestLog()[len(s.RequestLog())-1].Route, path)
	}

	// A known path, another method: 405 from the directory...
	for _, tc := range []struct{ method, path, route string }{
		{"PATCH", "/Organization", "PATCH /organization"},
		{"POST", "/servicePrincipals/" + sp, "POST /servicePrincipals/{id}"},
		{"PUT", "/applications(appId='x')", "PUT /applications(appId='{appId}')"},
		{"HEAD", "/organization", "HEAD /organization"},
	} {
		r := c.do(tc.method, tc.path, nil)
		require.Equal(t, 405, r.Status, "%s %s: %s", tc.method, tc.path, r.Body)
		if tc.method != "HEAD" {
			require.Equal(t, "Request_BadRequest", r.errCode(t))
			require.Equal(t, "Specified HTTP method is not allowed for the request target.", r.errMessage(t))
		}
		require.Equal(t, tc.route, s.RequestLog()[len(s.RequestLog())-1].Route)
	}
	// ...and the sync back end's 404 under /synchronization/.
	r := c.do("PATCH", "/SERVICEPRINCIPALS/"+sp+"/synchronization/jobs/"+job+"/Schema", map[string]any{})
	require.Equal(t, 404, r.Status, "%s", r.Body)
	require.Equal(t, "UnknownError", r.errCode(t))
	require.Contains(t, r.errMessage(t), "No HTTP resource was found")
	require.Equal(t, 1, s.Stats().Requests["PATCH /servicePrincipals/{id}/synchronization/jobs/{jobId}/schema 404"])

	// Routing comes after authentication, as on Graph.
	anon := &caller{t: t, s: s, c: httpClient(s)}
	require.Equal(t, http.StatusUnauthorized, anon.do("GET", "/nothing", nil).Status)
	require.Equal(t, http.StatusUnauthorized, anon.do("PATCH", "/organization", nil).Status)
}

func TestControlRoutes(t *testing.T) {
	s := newSim(t, Options{})
	ctl := &caller{t: t, s: s, c: httpClient(s)}
	for _, tc := range []struct{ method, path string }{
		{"GET", "/nothing"},
		{"POST", "/stats"}, // the control API answers 404 for a wrong method too
		{"GET", ""},
		{"DELETE", "/tenants/" + tenantA + "/jobs"},
	} {
		r := ctl.do(tc.method, s.ControlURL()+tc.path, nil)
		require.Equal(t, 404, r.Status, "%s %s", tc.method, tc.path)
		var body map[string]string
		require.NoError(t, json.Unmarshal(r.Body, &body))
		require.Equal(t, "graphsim: no control endpoint "+tc.method+" /_sim"+tc.path, body["error"])
	}
	r := ctl.do("POST", s.ControlURL()+"/tenants/"+tenantA+"/sync-flag", map[string]any{"enabled": true})
	require.Equal(t, 404, r.Status, "an unknown tenant: %s", r.Body)
	require.Contains(t, string(r.Body), "unknown tenant")
}
