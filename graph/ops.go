package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-beta-sdk-go/applicationtemplates"
	"github.com/microsoftgraph/msgraph-beta-sdk-go/models"
	"github.com/microsoftgraph/msgraph-beta-sdk-go/serviceprincipals"

	"github.com/cloudsync/cloudsync/internal/jobtemplate"
)

// AD2AADTemplateID is the application template of Entra Cloud Sync ("Active
// Directory to Azure Active Directory Provisioning").
const AD2AADTemplateID = "1a4721b3-e57f-4451-ae87-ef078703ec94"

// Sync job templates of the AD2AAD application (the same as workflows').
const (
	TemplateProvisioning      = jobtemplate.Provisioning
	TemplatePasswordHash      = jobtemplate.PasswordHash
	TemplateExchangeWriteback = jobtemplate.ExchangeWriteback
)

// ServicePrincipal is what we keep of a service principal.
type ServicePrincipal struct {
	ID                    string
	AppID                 string
	DisplayName           string
	ApplicationTemplateID string
}

// Instantiated is the answer of an application template instantiation.
type Instantiated struct {
	ApplicationObjectID string
	AppID               string
	ServicePrincipalID  string
}

const opSetSyncFlag = "set onPremisesSyncEnabled"

// SetOnPremisesSyncEnabled sets the tenant's directory sync flag (idempotent).
// The SDK's organization builders are not linked for one PATCH: a raw request
// through the same adapter keeps the binary smaller and behaves the same.
func (c *Client) SetOnPremisesSyncEnabled(ctx context.Context, tenantID string, enabled bool) error {
	o := op{opSetSyncFlag, permOrganization}
	ri := c.raw(abs.PATCH, "{+baseurl}/organization/{organization%2Did}", map[string]string{"organization%2Did": tenantID})
	body, _ := json.Marshal(map[string]bool{"onPremisesSyncEnabled": enabled})
	ri.SetStreamContentAndContentType(body, "application/json")
	return o.wrap(c.sendNoContent(ctx, ri))
}

// OnPremisesSyncEnabled reads the tenant's directory sync flag, so a re-run
// can say "already on" without writing.
func (c *Client) OnPremisesSyncEnabled(ctx context.Context, tenantID string) (bool, error) {
	o := op{"get organization", permOrganization}
	ri := c.raw(abs.GET, "{+baseurl}/organization/{organization%2Did}{?%24select}", map[string]string{"organization%2Did": tenantID})
	ri.QueryParameters["%24select"] = "id,onPremisesSyncEnabled"
	b, err := c.sendBytes(ctx, ri)
	if err != nil {
		return false, o.wrap(err)
	}
	var org struct {
		Enabled *bool `json:"onPremisesSyncEnabled"`
	}
	if err := json.Unmarshal(b, &org); err != nil {
		return false, o.wrap(fmt.Errorf("decode organization: %w", err))
	}
	return org.Enabled != nil && *org.Enabled, nil
}

// FindServicePrincipals lists the service principals made from templateID with
// exactly displayName.
func (c *Client) FindServicePrincipals(ctx context.Context, templateID, displayName string) ([]ServicePrincipal, error) {
	filter := fmt.Sprintf("applicationTemplateId eq '%s' and displayName eq '%s'", odataQuote(templateID), odataQuote(displayName))
	return c.listServicePrincipals(ctx, "find service principals", filter)
}

// ServicePrincipalsOfTemplate lists every service principal made from
// templateID, whatever its name: a tenant's cloud sync configurations (one per
// AD domain), except those whose applicationTemplateId is null (the Entra
// portal may make them so: find those by name).
func (c *Client) ServicePrincipalsOfTemplate(ctx context.Context, templateID string) ([]ServicePrincipal, error) {
	return c.listServicePrincipals(ctx, "list service principals of template", fmt.Sprintf("applicationTemplateId eq '%s'", odataQuote(templateID)))
}

// ServicePrincipalsNamed lists the service principals with exactly
// displayName, whatever they were made from.
func (c *Client) ServicePrincipalsNamed(ctx context.Context, displayName string) ([]ServicePrincipal, error) {
	return c.listServicePrincipals(ctx, "find service principals by name", fmt.Sprintf("displayName eq '%s'", odataQuote(displayName)))
}

func (c *Client) listServicePrincipals(ctx context.Context, what, filter string) ([]ServicePrincipal, error) {
	o := op{what, permApplication}
	res, err := c.sps.Get(ctx, &serviceprincipals.ServicePrincipalsRequestBuilderGetRequestConfiguration{
		QueryParameters: &serviceprincipals.ServicePrincipalsRequestBuilderGetQueryParameters{
			Filter: &filter,
			Select: []string{"id", "appId", "displayName", "applicationTemplateId"},
		},
	})
	if err != nil {
		return nil, o.wrap(err)
	}
	var out []ServicePrincipal
	for _, sp := range res.GetValue() {
		out = append(out, ServicePrincipal{
			ID: deref(sp.GetId()), AppID: deref(sp.GetAppId()), DisplayName: deref(sp.GetDisplayName()),
			ApplicationTemplateID: deref(sp.GetApplicationTemplateId()),
		})
	}
	return out, nil
}

// RenameServicePrincipal sets a service principal's displayName (204).
func (c *Client) RenameServicePrincipal(ctx context.Context, spID, displayName string) error {
	o := op{"rename service principal", permApplication}
	ri := c.raw(abs.PATCH, "{+baseurl}/servicePrincipals/{servicePrincipal%2Did}", map[string]string{"servicePrincipal%2Did": spID})
	body, _ := json.Marshal(map[string]string{"displayName": displayName})
	ri.SetStreamContentAndContentType(body, "application/json")
	return o.wrap(c.sendNoContent(ctx, ri))
}

// RenameApplication sets the displayName of the application with this appId
// (addressed by its alternate key, so no lookup of its object id is needed).
func (c *Client) RenameApplication(ctx context.Context, appID, displayName string) error {
	o := op{"rename application", permApplication}
	ri := c.raw(abs.PATCH, "{+baseurl}/applications(appId='{appId}')", map[string]string{"appId": odataQuote(appID)})
	body, _ := json.Marshal(map[string]string{"displayName": displayName})
	ri.SetStreamContentAndContentType(body, "application/json")
	return o.wrap(c.sendNoContent(ctx, ri))
}

// GetServicePrincipal reads one service principal; a 404 right after creation is
// replication lag, not absence.
func (c *Client) GetServicePrincipal(ctx context.Context, id string) (ServicePrincipal, error) {
	o := op{"get service principal", permApplication}
	sp, err := c.sps.ByServicePrincipalId(id).Get(ctx, &serviceprincipals.ServicePrincipalItemRequestBuilderGetRequestConfiguration{
		QueryParameters: &serviceprincipals.ServicePrincipalItemRequestBuilderGetQueryParameters{Select: []string{"id", "appId", "displayName", "applicationTemplateId"}},
	})
	if err != nil {
		return ServicePrincipal{}, o.wrap(err)
	}
	return ServicePrincipal{ID: deref(sp.GetId()), AppID: deref(sp.GetAppId()), DisplayName: deref(sp.GetDisplayName()), ApplicationTemplateID: deref(sp.GetApplicationTemplateId())}, nil
}

// Instantiate creates a new application and service principal from a template.
// Every call creates another pair: callers look first (FindServicePrincipals).
func (c *Client) Instantiate(ctx context.Context, templateID, displayName string) (Instantiated, error) {
	o := op{"instantiate application template " + templateID, permApplication}
	body := applicationtemplates.NewItemInstantiatePostRequestBody()
	body.SetDisplayName(&displayName)
	res, err := c.tmpl.ByApplicationTemplateId(templateID).Instantiate().Post(ctx, body, nil)
	if err != nil {
		return Instantiated{}, o.wrap(err)
	}
	var out Instantiated
	if app := res.GetApplication(); app != nil {
		out.ApplicationObjectID = idOrObjectID(app.GetId(), app.GetAdditionalData())
		out.AppID = deref(app.GetAppId())
	}
	if sp := res.GetServicePrincipal(); sp != nil {
		out.ServicePrincipalID = idOrObjectID(sp.GetId(), sp.GetAdditionalData())
		if out.AppID == "" {
			out.AppID = deref(sp.GetAppId())
		}
	}
	if out.ServicePrincipalID == "" {
		return out, o.wrap(fmt.Errorf("the answer names no service principal id (neither id nor objectId)"))
	}
	return out, nil
}

// idOrObjectID accepts v1.0's "id" and beta's legacy "objectId" (which the SDK
// does not model, so it lands in the additional data).
func idOrObjectID(id *string, extra map[string]any) string {
	if v := deref(id); v != "" {
		return v
	}
	if v, ok := extra["objectId"].(*string); ok && v != nil {
		return *v
	}
	if v, ok := extra["objectId"].(string); ok {
		return v
	}
	return ""
}

func (c *Client) jobs(spID string) *serviceprincipals.ItemSynchronizationJobsRequestBuilder {
	return c.sps.ByServicePrincipalId(spID).Synchronization().Jobs()
}

// ListJobs lists a service principal's sync jobs with their status.
func (c *Client) ListJobs(ctx context.Context, spID string) ([]Job, error) {
	o := op{"list sync jobs", permSync}
	res, err := c.jobs(spID).Get(ctx, nil)
	if err != nil {
		return nil, o.wrap(err)
	}
	out := make([]Job, 0, len(res.GetValue()))
	for _, j := range res.GetValue() {
		out = append(out, jobFromModel(j))
	}
	return out, nil
}

// CreateJob creates a sync job from a template. Graph creates it disabled and
// does not refuse a second job of the same template: callers list first.
func (c *Client) CreateJob(ctx context.Context, spID, templateID string) (Job, error) {
	o := op{"create sync job " + templateID, permSync}
	body := models.NewSynchronizationJob()
	body.SetTemplateId(&templateID)
	j, err := c.jobs(spID).Post(ctx, body, nil)
	if err != nil {
		return Job{}, o.wrap(err)
	}
	return jobFromModel(j), nil
}

// GetJob reads one job's schedule and status.
func (c *Client) GetJob(ctx context.Context, spID, jobID string) (Job, error) {
	o := op{"get sync job", permSync}
	j, err := c.jobs(spID).BySynchronizationJobId(jobID).Get(ctx, nil)
	if err != nil {
		return Job{}, o.wrap(err)
	}
	return jobFromModel(j), nil
}

// StartJob starts a paused or quarantined job. Graph asks not to call it on a
// running job: callers check the status first.
func (c *Client) StartJob(ctx context.Context, spID, jobID string) error {
	o := op{"start sync job", permSync}
	return o.wrap(c.jobs(spID).BySynchronizationJobId(jobID).Start().Post(ctx, nil))
}

// PauseJob pauses a job.
func (c *Client) PauseJob(ctx context.Context, spID, jobID string) error {
	o := op{"pause sync job", permSync}
	return o.wrap(c.jobs(spID).BySynchronizationJobId(jobID).Pause().Post(ctx, nil))
}

// RestartScope is one value of a restart's resetScope set.
type RestartScope string

const (
	ScopeEscrows         RestartScope = "Escrows"
	ScopeWatermark       RestartScope = "Watermark"
	ScopeQuarantineState RestartScope = "QuarantineState"
	ScopeFull            RestartScope = "Full"
	ScopeForceDeletes    RestartScope = "ForceDeletes"
)

var restartScopeBits = map[RestartScope]int{
	ScopeEscrows:         models.ESCROWS_SYNCHRONIZATIONJOBRESTARTSCOPE,
	ScopeWatermark:       models.WATERMARK_SYNCHRONIZATIONJOBRESTARTSCOPE,
	ScopeQuarantineState: models.QUARANTINESTATE_SYNCHRONIZATIONJOBRESTARTSCOPE,
	ScopeFull:            models.FULL_SYNCHRONIZATIONJOBRESTARTSCOPE,
	ScopeForceDeletes:    models.FORCEDELETES_SYNCHRONIZATIONJOBRESTARTSCOPE,
}

// RestartJob restarts a job with a reset scope set (ForceDeletes allows the
// deletions held back by the accidental-delete threshold). None and
// ConnectorDataStore are documented "do not use" and not offered.
func (c *Client) RestartJob(ctx context.Context, spID, jobID string, scopes ...RestartScope) error {
	o := op{"restart sync job", permSync}
	body := serviceprincipals.NewItemSynchronizationJobsItemRestartPostRequestBody()
	if len(scopes) > 0 {
		bits := 0
		for _, s := range scopes {
			b, ok := restartScopeBits[s]
			if !ok {
				return o.refuse("unknown reset scope %q", s)
			}
			bits |= b
		}
		scope := models.SynchronizationJobRestartScope(bits)
		crit := models.NewSynchronizationJobRestartCriteria()
		crit.SetResetScope(&scope)
		body.SetCriteria(crit)
	}
	return o.wrap(c.jobs(spID).BySynchronizationJobId(jobID).Restart().Post(ctx, body, nil))
}

// GetSchema reads a job's synchronization schema as raw JSON. Typed models drop
// values (flag enums with spaces, metadata keys the SDK lacks), so the schema
// never goes through them.
func (c *Client) GetSchema(ctx context.Context, spID, jobID string) ([]byte, error) {
	o := op{"get sync schema", permSync}
	ri, err := c.jobs(spID).BySynchronizationJobId(jobID).Schema().ToGetRequestInformation(ctx, nil)
	if err != nil {
		return nil, o.wrap(err)
	}
	b, err := c.sendBytes(ctx, ri)
	return b, o.wrap(err)
}

// PutSchema replaces a job's schema. The SDK only generates PATCH, which Graph
// answers with 404; PUT is what works. The body is sent byte for byte.
func (c *Client) PutSchema(ctx context.Context, spID, jobID string, schema []byte) error {
	o := op{"put sync schema", permSync}
	if !json.Valid(schema) {
		return o.refuse("schema is not valid JSON")
	}
	ri, err := c.jobs(spID).BySynchronizationJobId(jobID).Schema().ToPatchRequestInformation(ctx, models.NewSynchronizationSchema(), nil)
	if err != nil {
		return o.wrap(err)
	}
	ri.Method = abs.PUT
	ri.SetStreamContentAndContentType(schema, "application/json")
	return o.wrap(c.sendNoContent(ctx, ri))
}

// Directory is what we keep of a discovered directory definition.
type Directory struct {
	ID      string
	Name    string
	Objects map[string][]string // object name -> attribute names
}

// HasAttribute matches object and attribute names case-insensitively (real
// schemas say mailNickname where the docs say mailNickName).
func (d Directory) HasAttribute(object, attribute string) bool {
	for o, attrs := range d.Objects {
		if !strings.EqualFold(o, object) {
			continue
		}
		for _, a := range attrs {
			if strings.EqualFold(a, attribute) {
				return true
			}
		}
	}
	return false
}

// Discover asks the sync service to read a directory's schema (the AD side,
// through the agent). Graph often answers 500 at first.
func (c *Client) Discover(ctx context.Context, spID, jobID, directoryID string) (Directory, error) {
	o := op{"discover directory", permSync}
	d, err := c.jobs(spID).BySynchronizationJobId(jobID).Schema().Directories().ByDirectoryDefinitionId(directoryID).Discover().Post(ctx, nil)
	if err != nil {
		return Directory{}, o.wrap(err)
	}
	out := Directory{ID: deref(d.GetId()), Name: deref(d.GetName()), Objects: map[string][]string{}}
	for _, obj := range d.GetObjects() {
		var attrs []string
		for _, a := range obj.GetAttributes() {
			attrs = append(attrs, deref(a.GetName()))
		}
		out.Objects[deref(obj.GetName())] = attrs
	}
	return out, nil
}

// Job is what we keep of a sync job: enough to decide and to report.
type Job struct {
	ID                      string
	TemplateID              string
	ScheduleState           string // Active | Disabled | Paused
	Interval                string
	StatusCode              string // NotConfigured | NotRun | Active | Paused | Quarantine
	Quarantine              *Quarantine
	LastExecution           *Execution
	LastSuccessful          *Execution
	EntryCounts             map[string]int64
	SteadyStateLastAchieved time.Time
	// Settings are the job's synchronizationJobSettings (name -> value), e.g.
	// QuarantineTooManyDeletesThreshold, derived by Graph from the secrets.
	Settings map[string]string
}

// knownTemplates are the templates cloudsync creates jobs from.
var knownTemplates = []string{TemplateProvisioning, TemplatePasswordHash, TemplateExchangeWriteback}

// templateOf recognises a job's template by its templateId or, when Graph
// labels it otherwise (the documented create answer shows "ADDCInPassthrough"
// for an AD2AADProvisioning.… job), by its id's prefix.
func templateOf(templateID, id string) string {
	for _, t := range knownTemplates {
		if strings.EqualFold(templateID, t) {
			return t
		}
	}
	prefix, _, _ := strings.Cut(id, ".")
	for _, t := range knownTemplates {
		if strings.EqualFold(prefix, t) {
			return t
		}
	}
	return templateID
}

// Running reports a job the service is running: starting it again is what the
// docs ask us not to do.
func (j Job) Running() bool { return j.ScheduleState == "Active" && j.StatusCode == "Active" }

// Quarantine is a job's quarantine, when there is one.
type Quarantine struct {
	Reason           string
	ErrorCode        string
	ErrorMessage     string
	TenantActionable bool
	CurrentBegan     time.Time // when it was last evaluated and imposed
	NextAttempt      time.Time
	SeriesBegan      time.Time // when this series began: (job id, SeriesBegan) names an episode
	SeriesCount      int64
}

// Execution summarises one run of a job.
type Execution struct {
	State         string
	TimeBegan     time.Time
	TimeEnded     time.Time
	CountExported int64
	CountImported int64
	CountEscrowed int64
	ErrorCode     string
	ErrorMessage  string
}

func jobFromModel(j models.SynchronizationJobable) Job {
	out := Job{ID: deref(j.GetId())}
	out.TemplateID = templateOf(deref(j.GetTemplateId()), out.ID)
	for _, kv := range j.GetSynchronizationJobSettings() {
		if out.Settings == nil {
			out.Settings = map[string]string{}
		}
		out.Settings[deref(kv.GetName())] = deref(kv.GetValue())
	}
	if s := j.GetSchedule(); s != nil {
		if st := s.GetState(); st != nil {
			out.ScheduleState = st.String()
		}
		if iv := s.GetInterval(); iv != nil {
			out.Interval = iv.String()
		}
	}
	st := j.GetStatus()
	if st == nil {
		return out
	}
	if code := st.GetCode(); code != nil {
		out.StatusCode = code.String()
	}
	if q := st.GetQuarantine(); q != nil {
		out.Quarantine = &Quarantine{Reason: "Unknown", CurrentBegan: derefTime(q.GetCurrentBegan()), NextAttempt: derefTime(q.GetNextAttempt()),
			SeriesBegan: derefTime(q.GetSeriesBegan()), SeriesCount: deref(q.GetSeriesCount())}
		if r := q.GetReason(); r != nil {
			out.Quarantine.Reason = r.String()
		}
		if e := q.GetError(); e != nil {
			out.Quarantine.ErrorCode = deref(e.GetCode())
			out.Quarantine.ErrorMessage = deref(e.GetMessage())
			out.Quarantine.TenantActionable = deref(e.GetTenantActionable())
		}
	}
	out.LastExecution = executionFromModel(st.GetLastExecution())
	out.LastSuccessful = executionFromModel(st.GetLastSuccessfulExecution())
	out.SteadyStateLastAchieved = derefTime(st.GetSteadyStateLastAchievedTime())
	if kv := st.GetSynchronizedEntryCountByType(); len(kv) > 0 {
		out.EntryCounts = map[string]int64{}
		for _, p := range kv {
			out.EntryCounts[deref(p.GetKey())] = deref(p.GetValue())
		}
	}
	return out
}

func executionFromModel(e models.SynchronizationTaskExecutionable) *Execution {
	if e == nil {
		return nil
	}
	out := &Execution{
		TimeBegan: derefTime(e.GetTimeBegan()), TimeEnded: derefTime(e.GetTimeEnded()),
		CountExported: deref(e.GetCountExported()), CountImported: deref(e.GetCountImported()), CountEscrowed: deref(e.GetCountEscrowed()),
	}
	if s := e.GetState(); s != nil {
		out.State = s.String()
	}
	if er := e.GetError(); er != nil {
		out.ErrorCode = deref(er.GetCode())
		out.ErrorMessage = deref(er.GetMessage())
	}
	return out
}

func derefTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// odataQuote escapes a value for a single-quoted OData literal.
func odataQuote(s string) string { return strings.ReplaceAll(s, "'", "''") }
