package graphsim

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// AD2AADTemplateID is the application template of cloud sync (AD2AAD).
const AD2AADTemplateID = "1a4721b3-e57f-4451-ae87-ef078703ec94"

// ---- organization ----

func (g *gctx) orgJSON() map[string]any {
	return map[string]any{
		"id":                    g.t.id,
		"displayName":           "Simulated tenant " + g.t.id,
		"onPremisesSyncEnabled": syncFlag(g.t),
		"tenantType":            "AAD",
	}
}

// syncFlag is the organization's onPremisesSyncEnabled: null until sync was
// ever on, false once it was turned off.
func syncFlag(t *tenant) any {
	if !t.onPremSync && !t.syncEverOn {
		return nil
	}
	return t.onPremSync
}

func (g *gctx) orgList() {
	g.json(200, map[string]any{"@odata.context": graphMeta + "#organization", "value": []any{g.orgJSON()}})
}

func (g *gctx) orgGet() {
	id := g.params["id"]
	if !strings.EqualFold(id, g.t.id) {
		if _, known := g.s.tenants[strings.ToLower(id)]; known {
			g.s.violationLocked(ViolationCrossTenantToken, g.tenant, "%s: organization %s read with a token for tenant %s", g.route, id, g.tenant)
		}
		g.notFoundResource(id)
		return
	}
	o := g.orgJSON()
	o["@odata.context"] = graphMeta + "#organization/$entity"
	g.json(200, o)
}

func (g *gctx) orgPatch() {
	id := g.params["id"]
	if !strings.EqualFold(id, g.t.id) {
		g.s.violationLocked(ViolationCrossTenantToken, g.tenant, "%s: PATCH organization %s with a token for tenant %s", g.route, id, g.tenant)
		g.err(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
		return
	}
	var enabled bool
	set, ok := g.patchProperty("organization", "onPremisesSyncEnabled", func(v json.RawMessage) bool { return json.Unmarshal(v, &enabled) == nil })
	if !ok {
		return
	}
	if set {
		if g.t.onPremSync && !enabled {
			g.s.violationLocked(ViolationSyncFlagTurnedOff, g.tenant, "onPremisesSyncEnabled turned off: the flag is tenant-wide")
		}
		if enabled && !g.t.onPremSync && g.now.Before(g.t.deactivating) {
			// "Deactivating DirSync may take up to 72 hours ... Once disabled,
			// the process cannot be canceled and must complete before you can
			// take further action, including re-enabling DirSync."
			g.err(400, "Request_BadRequest", "Directory synchronization is being turned off for this tenant; it cannot be turned on again until that completes (up to 72 hours).")
			return
		}
		g.s.setSyncLocked(g.t, enabled, g.now)
	}
	g.noContent()
}

// ---- application templates ----

func (g *gctx) instantiate() {
	tid := g.params["id"]
	if !strings.EqualFold(tid, AD2AADTemplateID) {
		g.notFoundResource(tid)
		return
	}
	m, ok := g.decodeObject()
	if !ok {
		return
	}
	var name string
	if raw, ok := m["displayName"]; !ok || json.Unmarshal(raw, &name) != nil || strings.TrimSpace(name) == "" {
		g.err(400, "Request_BadRequest", "Invalid value specified for property 'displayName' of resource 'ApplicationServicePrincipal'.")
		return
	}
	s := g.s
	for _, a := range g.t.apps {
		// Another configuration may share the name: one that syncs a domain
		// already (it has a Domain secret) is not a retry's duplicate, nor is
		// an app that is no cloud sync configuration. (A second configuration
		// of one domain is flagged when its Domain secret is written:
		// ViolationDuplicateDomain.)
		if strings.EqualFold(a.displayName, name) && g.t.isUnconfiguredCloudSync(a) {
			s.violationLocked(ViolationDuplicateApplication, g.tenant, "application %q instantiated again (existing app %s)", name, a.objectID)
			break
		}
	}
	lag := s.faults.ReplicationLag // caller holds s.mu
	app := &application{objectID: s.newIDLocked(), appID: s.newIDLocked(), displayName: name, templateID: AD2AADTemplateID, created: g.now}
	sp := &servicePrincipal{id: s.newIDLocked(), appID: app.appID, displayName: name, templateID: AD2AADTemplateID, created: g.now, visibleAt: g.now.Add(lag), listedAt: g.now.Add(s.opts.ListLag)}
	g.t.apps = append(g.t.apps, app)
	g.t.sps = append(g.t.sps, sp)
	home := "https://account.activedirectory.windowsazure.com:444/applications/default.aspx?metadata=AD2AADProvisioning|ISV9.1|primary|z"
	g.json(201, map[string]any{
		"@odata.context": graphMeta + "#microsoft.graph.applicationServicePrincipal",
		"application": map[string]any{
			"objectId":                app.objectID,
			"appId":                   app.appID,
			"applicationTemplateId":   app.templateID,
			"displayName":             name,
			"homepage":                home,
			"identifierUris":          []string{},
			"publicClient":            nil,
			"replyUrls":               []string{},
			"logoutUrl":               nil,
			"samlMetadataUrl":         nil,
			"errorUrl":                nil,
			"groupMembershipClaims":   nil,
			"availableToOtherTenants": false,
		},
		"servicePrincipal": map[string]any{
			"objectId":                   sp.id,
			"deletionTimestamp":          nil,
			"accountEnabled":             true,
			"appId":                      sp.appID,
			"appDisplayName":             name,
			"applicationTemplateId":      sp.templateID,
			"appOwnerTenantId":           g.t.id,
			"appRoleAssignmentRequired":  false,
			"displayName":                name,
			"errorUrl":                   nil,
			"homepage":                   home,
			"loginUrl":                   nil,
			"logoutUrl":                  nil,
			"samlMetadataUrl":            nil,
			"microsoftFirstParty":        nil,
			"publisherName":              "Microsoft",
			"preferredSingleSignOnMode":  nil,
			"replyUrls":                  []string{},
			"servicePrincipalNames":      []string{sp.appID},
			"tags":                       []string{"WindowsAzureActiveDirectoryIntegratedApp"},
			"notificationEmailAddresses": []string{},
			"samlSingleSignOnSettings":   nil,
			"keyCredentials":             []any{},
			"passwordCredentials":        []any{},
		},
	})
}

// ---- service principals ----

func (g *gctx) spJSON(sp *servicePrincipal) map[string]any {
	var template any // null for one made without a template (e.g. by the Entra portal)
	if sp.templateID != "" {
		template = sp.templateID
	}
	return map[string]any{
		"id":                        sp.id,
		"deletedDateTime":           nil,
		"accountEnabled":            true,
		"appDisplayName":            sp.displayName,
		"appId":                     sp.appID,
		"applicationTemplateId":     template,
		"appOwnerOrganizationId":    g.t.id,
		"appRoleAssignmentRequired": false,
		"displayName":               sp.displayName,
		"servicePrincipalNames":     []string{sp.appID},
		"servicePrincipalType":      "Application",
		"signInAudience":            "AzureADMultipleOrgs",
		"tags":                      []string{"WindowsAzureActiveDirectoryIntegratedApp"},
	}
}

// spList implements GET /servicePrincipals with a small $filter subset.
//
// A new service principal is left out of lists for Options.ListLag (default 0,
// a leniency: real Graph gives no bound).
func (g *gctx) spList() {
	q := g.r.URL.Query()
	filter := q.Get("$filter")
	var preds []spPredicate
	if filter != "" {
		var err error
		preds, err = parseSPFilter(filter)
		if err != nil {
			if fe, ok := err.(filterError); ok && fe.unsupported {
				g.err(400, "Request_UnsupportedQuery", "Unsupported Query.")
			} else {
				g.err(400, "BadRequest", "Invalid filter clause: "+err.Error())
			}
			return
		}
	}
	out := []any{}
	all := g.t.sps
	for _, gone := range g.t.goneSPs {
		if g.lingering(gone.deletedAt) {
			all = append(all[:len(all):len(all)], gone)
		}
	}
	for _, sp := range all {
		ok := !g.now.Before(sp.listedAt)
		for _, p := range preds {
			if !p(sp) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, g.spJSON(sp))
		}
	}
	g.json(200, map[string]any{"@odata.context": graphMeta + "#servicePrincipals", "value": out})
}

func (g *gctx) spGet(sp *servicePrincipal) {
	o := g.spJSON(sp)
	o["@odata.context"] = graphMeta + "#servicePrincipals/$entity"
	g.json(200, o)
}

// spPatch implements PATCH /servicePrincipals/{id}; only displayName is
// modelled (other properties are refused rather than silently ignored).
func (g *gctx) spPatch(sp *servicePrincipal) {
	g.patchDisplayName("servicePrincipal", &sp.displayName)
}

// app resolves {id} (object id) or {appId} (alternate key) to an
// application of the caller's tenant (for a read, also one deleted within the
// delete lag), answering 404 (and recording cross-tenant access) otherwise.
func (g *gctx) app() *application {
	key := g.params["id"]
	byAppID := key == ""
	if byAppID {
		key = g.params["appId"]
	}
	if app := g.t.findApp(key, byAppID); app != nil {
		return app
	}
	if gone := findAppIn(g.t.goneApps, key, byAppID); gone != nil && g.lingering(gone.deletedAt) {
		return gone
	}
	for id, t := range g.s.tenants {
		if id == g.tenant {
			continue
		}
		for _, a := range t.apps {
			if strings.EqualFold(a.appID, key) || strings.EqualFold(a.objectID, key) {
				g.s.violationLocked(ViolationCrossTenantToken, g.tenant, "%s: application %s belongs to tenant %s, token is for tenant %s", g.route, key, id, g.tenant)
			}
		}
	}
	g.notFoundResource(key)
	return nil
}

// appGet implements GET /applications/{id} and /applications(appId='{appId}').
func (g *gctx) appGet(app *application) {
	var template any
	if app.templateID != "" {
		template = app.templateID
	}
	g.json(200, map[string]any{
		"@odata.context":        graphMeta + "#applications/$entity",
		"id":                    app.objectID,
		"appId":                 app.appID,
		"applicationTemplateId": template,
		"displayName":           app.displayName,
		"deletedDateTime":       nil,
		"signInAudience":        "AzureADMyOrg",
		"createdDateTime":       app.created.UTC().Format(time.RFC3339),
	})
}

// appPatch implements PATCH /applications/{id} (object id) and PATCH
// /applications(appId='{appId}') (alternate key); only displayName is modelled.
func (g *gctx) appPatch(app *application) {
	g.patchDisplayName("application", &app.displayName)
}

// appDelete implements DELETE /applications/{id} and
// /applications(appId='{appId}'): a soft delete (deletedItems, 30 days) that
// takes the application's service principal in its home tenant with it.
func (g *gctx) appDelete(app *application) {
	g.t.deleteAppLocked(app, g.now)
	g.noContent()
}

// patchDisplayName answers a PATCH whose body may set displayName and
// nothing else.
func (g *gctx) patchDisplayName(resource string, displayName *string) {
	var name string
	set, ok := g.patchProperty(resource, "displayName", func(v json.RawMessage) bool {
		return json.Unmarshal(v, &name) == nil && strings.TrimSpace(name) != ""
	})
	if !ok {
		return
	}
	if set {
		*displayName = name
	}
	g.noContent()
}

// patchProperty reads a PATCH body that may set one property of a resource
// and nothing else (annotations aside), answering 400 otherwise; valid
// decodes and checks the value. It reports whether the body was valid, and
// set whether it set the property: the caller changes state only then.
func (g *gctx) patchProperty(resource, property string, valid func(json.RawMessage) bool) (set, ok bool) {
	m, ok := g.decodeObject()
	if !ok {
		return false, false
	}
	for k, v := range m {
		if strings.HasPrefix(k, "@odata") {
			continue
		}
		if !strings.EqualFold(k, property) {
			g.err(400, "Request_BadRequest", fmt.Sprintf("Property '%s' is read-only and cannot be set, or does not exist or is not modelled by graphsim on type 'microsoft.graph.%s'.", k, resource))
			return false, false
		}
		if !valid(v) {
			g.err(400, "Request_BadRequest", fmt.Sprintf("Invalid value specified for property '%s' of resource '%s'.", property, resource))
			return false, false
		}
		set = true
	}
	return set, true
}

// spDelete implements DELETE /servicePrincipals/{id}: a soft delete
// (deletedItems); its jobs and secrets go with it, its application stays.
func (g *gctx) spDelete(sp *servicePrincipal) {
	g.t.deleteSPLocked(sp, g.now)
	g.noContent()
}

// ---- $filter ----

type spPredicate func(*servicePrincipal) bool

type filterError struct {
	msg         string
	unsupported bool
}

func (e filterError) Error() string { return e.msg }

type filterLexer struct {
	s   string
	pos int
}

func (l *filterLexer) skipSpace() {
	for l.pos < len(l.s) && (l.s[l.pos] == ' ' || l.s[l.pos] == '\t') {
		l.pos++
	}
}

func (l *filterLexer) ident() string {
	l.skipSpace()
	start := l.pos
	for l.pos < len(l.s) {
		c := l.s[l.pos]
		if c == '_' || c == '/' || c == '.' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') {
			l.pos++
			continue
		}
		break
	}
	return l.s[start:l.pos]
}

func (l *filterLexer) expect(c byte) error {
	l.skipSpace()
	if l.pos >= len(l.s) || l.s[l.pos] != c {
		return filterError{msg: fmt.Sprintf("expected '%c' at position %d", c, l.pos)}
	}
	l.pos++
	return nil
}

func (l *filterLexer) str() (string, error) {
	l.skipSpace()
	if l.pos >= len(l.s) || l.s[l.pos] != '\'' {
		return "", filterError{msg: fmt.Sprintf("expected a quoted string at position %d", l.pos)}
	}
	l.pos++
	var b strings.Builder
	for l.pos < len(l.s) {
		c := l.s[l.pos]
		if c == '\'' {
			if l.pos+1 < len(l.s) && l.s[l.pos+1] == '\'' {
				b.WriteByte('\'')
				l.pos += 2
				continue
			}
			l.pos++
			return b.String(), nil
		}
		b.WriteByte(c)
		l.pos++
	}
	return "", filterError{msg: "unterminated string literal"}
}

func spProperty(name string) (func(*servicePrincipal) string, bool) {
	switch strings.ToLower(name) {
	case "applicationtemplateid":
		return func(sp *servicePrincipal) string { return sp.templateID }, true
	case "displayname":
		return func(sp *servicePrincipal) string { return sp.displayName }, true
	case "appid":
		return func(sp *servicePrincipal) string { return sp.appID }, true
	case "id":
		return func(sp *servicePrincipal) string { return sp.id }, true
	}
	return nil, false
}

// parseSPFilter parses clauses "prop eq 'v'" and "startswith(prop,'v')"
// joined by "and". Comparisons are case-insensitive like directory queries.
func parseSPFilter(f string) ([]spPredicate, error) {
	l := &filterLexer{s: f}
	var preds []spPredicate
	for {
		word := l.ident()
		if word == "" {
			return nil, filterError{msg: fmt.Sprintf("syntax error at position %d", l.pos)}
		}
		l.skipSpace()
		if l.pos < len(l.s) && l.s[l.pos] == '(' {
			if !strings.EqualFold(word, "startswith") {
				return nil, filterError{msg: "unsupported function " + word, unsupported: true}
			}
			l.pos++
			prop := l.ident()
			get, ok := spProperty(prop)
			if !ok || strings.EqualFold(prop, "id") {
				return nil, filterError{msg: "unsupported property " + prop, unsupported: true}
			}
			if err := l.expect(','); err != nil {
				return nil, err
			}
			v, err := l.str()
			if err != nil {
				return nil, err
			}
			if err := l.expect(')'); err != nil {
				return nil, err
			}
			lv := strings.ToLower(v)
			preds = append(preds, func(sp *servicePrincipal) bool { return strings.HasPrefix(strings.ToLower(get(sp)), lv) })
		} else {
			get, ok := spProperty(word)
			if !ok {
				return nil, filterError{msg: "unsupported property " + word, unsupported: true}
			}
			op := l.ident()
			if !strings.EqualFold(op, "eq") {
				if op == "" {
					return nil, filterError{msg: fmt.Sprintf("syntax error at position %d", l.pos)}
				}
				return nil, filterError{msg: "unsupported operator " + op, unsupported: true}
			}
			v, err := l.str()
			if err != nil {
				return nil, err
			}
			preds = append(preds, func(sp *servicePrincipal) bool { return strings.EqualFold(get(sp), v) })
		}
		l.skipSpace()
		if l.pos >= len(l.s) {
			return preds, nil
		}
		conj := l.ident()
		if strings.EqualFold(conj, "or") || strings.EqualFold(conj, "not") {
			return nil, filterError{msg: "unsupported operator " + conj, unsupported: true}
		}
		if !strings.EqualFold(conj, "and") {
			return nil, filterError{msg: fmt.Sprintf("syntax error at position %d", l.pos)}
		}
	}
}
