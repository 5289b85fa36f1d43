package graphsim

import (
	"context"
	"net/http"
	"net/url"
	"strings"
)

// graphRoute is one Graph API operation graphsim serves.
type graphRoute struct {
	method string
	// pattern is the path below /beta as Graph documents it; it names the
	// route in Stats and the request log, e.g. "/servicePrincipals/{id}".
	pattern string
	h       func(*gctx)
	logBody bool // keep the body in the request log (start, restart)
}

func (rd *graphRoute) write() bool { return rd.method != http.MethodGet }

const (
	spPath  = "/servicePrincipals/{id}"
	jobPath = spPath + "/synchronization/jobs/{jobId}"
)

// graphRoutes is the Graph API graphsim serves, below /beta. Graph matches
// the literal segments case-insensitively; canonicalGraphPath gives them
// this table's spelling before http.ServeMux routes the request.
var graphRoutes = []*graphRoute{
	{method: "GET", pattern: "/organization", h: (*gctx).orgList},
	{method: "GET", pattern: "/organization/{id}", h: (*gctx).orgGet},
	{method: "PATCH", pattern: "/organization/{id}", h: (*gctx).orgPatch},
	{method: "POST", pattern: "/applicationTemplates/{id}/instantiate", h: (*gctx).instantiate},
	{method: "GET", pattern: "/servicePrincipals", h: (*gctx).spList},
	{method: "GET", pattern: spPath, h: onSP((*gctx).spGet)},
	{method: "PATCH", pattern: spPath, h: onSP((*gctx).spPatch)},
	{method: "DELETE", pattern: spPath, h: onSP((*gctx).spDelete)},
	{method: "GET", pattern: "/applications/{id}", h: onApp((*gctx).appGet)},
	{method: "GET", pattern: "/applications(appId='{appId}')", h: onApp((*gctx).appGet)},
	{method: "PATCH", pattern: "/applications/{id}", h: onApp((*gctx).appPatch)},
	{method: "PATCH", pattern: "/applications(appId='{appId}')", h: onApp((*gctx).appPatch)},
	{method: "DELETE", pattern: "/applications/{id}", h: onApp((*gctx).appDelete)},
	{method: "DELETE", pattern: "/applications(appId='{appId}')", h: onApp((*gctx).appDelete)},
	{method: "GET", pattern: spPath + "/synchronization/jobs", h: onSP((*gctx).jobList)},
	{method: "POST", pattern: spPath + "/synchronization/jobs", h: onSP((*gctx).jobCreate)},
	{method: "GET", pattern: jobPath, h: onJob((*gctx).jobGet)},
	{method: "DELETE", pattern: jobPath, h: onJob((*gctx).jobDelete)},
	{method: "POST", pattern: jobPath + "/start", h: onJob((*gctx).jobStart), logBody: true},
	{method: "POST", pattern: jobPath + "/pause", h: onJob((*gctx).jobPause)},
	{method: "POST", pattern: jobPath + "/restart", h: onJob((*gctx).jobRestart), logBody: true},
	{method: "GET", pattern: jobPath + "/schema", h: onJob((*gctx).schemaGet)},
	{method: "PUT", pattern: jobPath + "/schema", h: onJob((*gctx).schemaPut)},
	{method: "POST", pattern: jobPath + "/schema/directories/{directoryId}/discover", h: onJob((*gctx).discover)},
	{method: "GET", pattern: spPath + "/synchronization/secrets", h: onSP((*gctx).secretsGet)},
	{method: "PUT", pattern: spPath + "/synchronization/secrets", h: onSP((*gctx).secretsPut)},
}

// onSP, onJob and onApp resolve the route's object first, answering 404
// when the caller cannot see it.
func onSP(h func(*gctx, *servicePrincipal)) func(*gctx) {
	return func(g *gctx) {
		if sp := g.sp(); sp != nil {
			h(g, sp)
		}
	}
}

func onJob(h func(*gctx, *servicePrincipal, *job)) func(*gctx) {
	return func(g *gctx) {
		if sp, j := g.job(); j != nil {
			h(g, sp, j)
		}
	}
}

func onApp(h func(*gctx, *application)) func(*gctx) {
	return func(g *gctx) {
		if app := g.app(); app != nil {
			h(g, app)
		}
	}
}

// An alternate key such as applications(appId='{appId}') holds its value
// inside a segment, which a ServeMux wildcard cannot: on the mux it is a
// literal segment, the key with an empty value, followed by the value as a
// segment of its own.
type altKey struct{ prefix, suffix, name string }

// graphMux routes canonical Graph paths. Its handlers find the request's
// gctx in the context: serveGraph builds it from the request as sent.
var (
	graphMux      = http.NewServeMux()
	graphLiterals = map[int]map[string]string{} // segment index -> lower-case -> table spelling
	graphAltKeys  = map[int][]altKey{}          // segment index -> alternate keys there
)

type gctxKey struct{}

func init() {
	paths := map[string]bool{}
	for _, rd := range graphRoutes {
		muxPath, wildcards := muxPattern(rd.pattern)
		graphMux.HandleFunc(rd.method+" /beta"+muxPath, func(_ http.ResponseWriter, req *http.Request) {
			g := req.Context().Value(gctxKey{}).(*gctx)
			if req.Method != rd.method { // a GET pattern also matches HEAD
				g.serve(nil, rd.pattern)
				return
			}
			g.params = map[string]string{}
			for _, name := range wildcards {
				g.params[name] = req.PathValue(name)
			}
			g.serve(rd, rd.pattern)
		})
		if !paths[rd.pattern] {
			paths[rd.pattern] = true
			// Any other method on a known path.
			graphMux.HandleFunc("/beta"+muxPath, func(_ http.ResponseWriter, req *http.Request) {
				req.Context().Value(gctxKey{}).(*gctx).serve(nil, rd.pattern)
			})
		}
	}
	graphMux.HandleFunc("/beta/", func(_ http.ResponseWriter, req *http.Request) {
		req.Context().Value(gctxKey{}).(*gctx).serve(nil, "")
	})
}

// muxPattern turns a Graph pattern into a ServeMux one, registering its
// literal segments and alternate keys for canonicalGraphPath.
func muxPattern(pattern string) (string, []string) {
	var out, wildcards []string
	for i, seg := range strings.Split(strings.Trim(pattern, "/"), "/") {
		open, end := strings.Index(seg, "{"), strings.Index(seg, "}")
		switch {
		case open < 0:
			if graphLiterals[i] == nil {
				graphLiterals[i] = map[string]string{}
			}
			graphLiterals[i][strings.ToLower(seg)] = seg
			out = append(out, seg)
		case open == 0 && end == len(seg)-1:
			wildcards = append(wildcards, seg[1:end])
			out = append(out, seg)
		default:
			k := altKey{prefix: seg[:open], suffix: seg[end+1:], name: seg[open+1 : end]}
			graphAltKeys[i] = append(graphAltKeys[i], k)
			wildcards = append(wildcards, k.name)
			out = append(out, k.prefix+k.suffix, "{"+k.name+"}")
		}
	}
	return "/" + strings.Join(out, "/"), wildcards
}

// canonicalGraphPath rewrites a path below /beta for graphMux: literal
// segments in the table's spelling (Graph compares them case-insensitively),
// alternate keys split off their value, ids kept as sent. Slashes around the
// path are dropped, as Graph ignores them. It reports false for a path that
// cannot name a resource (an empty, "." or ".." segment, or an alternate
// key's mux spelling sent as such).
func canonicalGraphPath(escaped string) (string, bool) {
	rest := strings.Trim(strings.TrimPrefix(escaped, "/beta"), "/")
	if rest == "" {
		return "/beta/", true
	}
	var out []string
	for i, seg := range strings.Split(rest, "/") {
		raw, err := url.PathUnescape(seg)
		if err != nil || raw == "" || raw == "." || raw == ".." {
			return "", false
		}
		if lit, ok := graphLiterals[i][strings.ToLower(raw)]; ok {
			out = append(out, lit)
			continue
		}
		key, value, isKey := matchAltKey(graphAltKeys[i], raw)
		if !isKey {
			out = append(out, seg)
			continue
		}
		if value == "" {
			return "", false
		}
		out = append(out, key.prefix+key.suffix, url.PathEscape(value))
	}
	return "/beta/" + strings.Join(out, "/"), true
}

// matchAltKey finds the alternate key whose prefix and suffix enclose seg
// (compared case-insensitively), with the value between them.
func matchAltKey(keys []altKey, seg string) (altKey, string, bool) {
	for _, k := range keys {
		n := len(k.prefix) + len(k.suffix)
		if len(seg) >= n && strings.EqualFold(seg[:len(k.prefix)], k.prefix) && strings.EqualFold(seg[len(seg)-len(k.suffix):], k.suffix) {
			return k, seg[len(k.prefix) : len(seg)-len(k.suffix)], true
		}
	}
	return altKey{}, "", false
}

// routeGraph routes a Graph request: g.serve runs with the matched route, or
// with none when the path is unknown or the method not served there.
func routeGraph(g *gctx) {
	p, ok := canonicalGraphPath(g.r.URL.EscapedPath())
	if !ok {
		g.serve(nil, "")
		return
	}
	u := *g.r.URL
	u.RawPath = p
	if u.Path, _ = url.PathUnescape(p); u.Path == p {
		u.RawPath = ""
	}
	req := g.r.WithContext(context.WithValue(g.r.Context(), gctxKey{}, g))
	req.URL = &u
	graphMux.ServeHTTP(g.w, req)
}
