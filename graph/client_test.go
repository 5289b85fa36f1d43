package graph

// These tests run the real msgraph beta SDK and the real azidentity credential
// against graphsim over HTTPS: no HTTP mocking. The client is built the way
// production builds it (Factory, TransportWithCA, CloudGlobal with overrides);
// the only addition is a pass-through transport that records what went on the
// wire (headers and bodies), below the SDK's middleware.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/stretchr/testify/require"

	"github.com/cloudsync/cloudsync/graphsim"
)

const (
	testClientID = "11111111-2222-4333-8444-555555555555"
	testSecret   = "s3cr3t~value"
	tenantA      = "aaaaaaaa-0000-4000-8000-00000000000a"
	tenantB      = "bbbbbbbb-0000-4000-8000-00000000000b"
)

// wireRequest is one request as it left the process.
type wireRequest struct {
	Method, Host, Path, Query string
	Authorization             string
	ContentEncoding           string
	Body                      []byte
}

// wireSpy is a pass-through RoundTripper that records requests (it sits below
// the SDK middleware, so it sees the final headers and body).
type wireSpy struct {
	next http.RoundTripper
	mu   sync.Mutex
	reqs []wireRequest
}

func (s *wireSpy) RoundTrip(r *http.Request) (*http.Response, error) {
	w := wireRequest{Method: r.Method, Host: r.URL.Host, Path: r.URL.Path, Query: r.URL.RawQuery,
		Authorization: r.Header.Get("Authorization"), ContentEncoding: r.Header.Get("Content-Encoding")}
	if r.Body != nil && r.Body != http.NoBody {
		b, err := io.ReadAll(r.Body)
		_ = r.Body.Close()
		if err != nil {
			return nil, err
		}
		w.Body = b
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	s.mu.Lock()
	s.reqs = append(s.reqs, w)
	s.mu.Unlock()
	return s.next.RoundTrip(r)
}

// graph returns the recorded Graph requests (not the token requests).
func (s *wireSpy) graph() []wireRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []wireRequest
	for _, r := range s.reqs {
		if strings.HasPrefix(r.Path, "/beta/") {
			out = append(out, r)
		}
	}
	return out
}

func (s *wireSpy) last(t *testing.T) wireRequest {
	t.Helper()
	g := s.graph()
	require.NotEmpty(t, g)
	return g[len(g)-1]
}

type sim struct {
	srv *graphsim.Server
	f   *Factory
	spy *wireSpy
}

// newSim starts graphsim (closed when the test ends) and a production-built
// Factory for it with the given client secret ("" = the right one).
func newSim(t *testing.T, opts graphsim.Options, secret string) *sim {
	t.Helper()
	if opts.Clients == nil {
		opts.Clients = map[string]string{testClientID: testSecret}
	}
	if opts.SyncSettle == 0 {
		// These tests call the sync API right after instantiating: the
		// settling 403/409 are the activities' business (and their tests').
		opts.SyncSettle = -1
	}
	srv, err := graphsim.New(opts)
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	if secret == "" {
		secret = testSecret
	}
	cloud := CloudGlobal.WithOverrides(srv.GraphURL(), srv.AuthorityHost())
	tr, err := TransportWithCA(srv.CAFile())
	require.NoError(t, err)
	if ht, ok := tr.(*http.Transport); ok {
		t.Cleanup(ht.CloseIdleConnections) // runs before srv.Close (LIFO)
	}
	spy := &wireSpy{next: tr}
	f := &Factory{Cloud: cloud, Credentials: CredentialConfig{Mode: AuthClientSecret, ClientID: testClientID, ClientSecret: secret}, Transport: spy}
	return &sim{srv: srv, f: f, spy: spy}
}

func (s *sim) client(t *testing.T, tenant string) *Client {
	t.Helper()
	c, err := s.f.ForTenant(tenant)
	require.NoError(t, err)
	return c
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func requireGraphError(t *testing.T, err error, kind Kind) *Error {
	t.Helper()
	require.Error(t, err)
	ge, ok := AsError(err)
	require.True(t, ok, "not a *graph.Error: %T %v", err, err)
	require.Equal(t, kind, ge.Kind, "error: %v", err)
	return ge
}

func instantiate(t *testing.T, ctx context.Context, c *Client, name string) Instantiated {
	t.Helper()
	inst, err := c.Instantiate(ctx, AD2AADTemplateID, name)
	require.NoError(t, err)
	require.NotEmpty(t, inst.ServicePrincipalID)
	return inst
}

func violations(srv *graphsim.Server, kind string) []graphsim.Violation {
	var out []graphsim.Violation
	for _, v := range srv.Violations() {
		if v.Kind == kind {
			out = append(out, v)
		}
	}
	return out
}

// lastLogged returns the simulator's last logged request whose route has the suffix.
func lastLogged(t *testing.T, srv *graphsim.Server, routeSuffix string) graphsim.Request {
	t.Helper()
	log := srv.RequestLog()
	for i := len(log) - 1; i >= 0; i-- {
		if strings.HasSuffix(log[i].Route, routeSuffix) {
			return log[i]
		}
	}
	t.Fatalf("no logged request with route suffix %q", routeSuffix)
	return graphsim.Request{}
}

// waitTicks waits until graphsim's sync engine has ticked n more times.
func waitTicks(t *testing.T, srv *graphsim.Server, n int) {
	t.Helper()
	before := srv.Stats().EngineTicks
	require.Eventually(t, func() bool { return srv.Stats().EngineTicks >= before+n }, 5*time.Second, 5*time.Millisecond, "%d engine ticks", n)
}

// pollEvery is how often require.Eventually looks again in these tests.
const pollEvery = 20 * time.Millisecond

// A token is fetched by azidentity from the simulated authority and attached to
// Graph requests although the Graph host has a port (allowed hosts are named
// without it). The token is cached; clients are cached per tenant.
func TestSimTokenIsSentToGraphHostWithPort(t *testing.T) {
	s := newSim(t, graphsim.Options{}, "")
	ctx := testCtx(t)
	u, err := url.Parse(s.f.Cloud.GraphBaseURL)
	require.NoError(t, err)
	require.NotEmpty(t, u.Port(), "the simulator's Graph URL has a port")
	require.Equal(t, "127.0.0.1", s.f.Cloud.graphHost(), "allowed host is named without the port")
	require.Equal(t, "https://graph.microsoft.com/.default", s.f.Cloud.Scope, "a simulator keeps the real Graph scope")

	var mu sync.Mutex
	var observed []string
	s.f.Observer = func(o Observation) {
		mu.Lock()
		defer mu.Unlock()
		observed = append(observed, o.Method+" "+o.Route+" "+strconv.Itoa(o.Status))
	}
	c := s.client(t, tenantA)
	on, err := c.OnPremisesSyncEnabled(ctx, tenantA)
	require.NoError(t, err, "a 401 here means the Authorization header was not sent")
	require.False(t, on)
	_, err = c.FindServicePrincipals(ctx, AD2AADTemplateID, "nothing")
	require.NoError(t, err)

	g := s.spy.graph()
	require.Len(t, g, 2)
	for _, r := range g {
		require.Equal(t, u.Host, r.Host)
		require.True(t, strings.HasPrefix(r.Authorization, "Bearer gsim."), "Authorization %q", r.Authorization)
	}
	mu.Lock()
	require.Equal(t, []string{"GET /beta/organization/{id} 200", "GET /beta/servicePrincipals 200"}, observed, "the Observer sees Graph answers only")
	mu.Unlock()
	st := s.srv.Stats()
	require.Equal(t, 1, st.TokensIssued, "the second call reuses the cached token")
	require.Equal(t, 2, st.TotalGraphRequests)

	again, err := s.f.ForTenant(" " + strings.ToUpper(tenantA) + " ")
	require.NoError(t, err)
	require.Same(t, c, again, "one client per tenant, whatever the spelling")
}

// A wrong client secret is a non-retryable KindUnauthorized naming the AADSTS
// code, and no Graph request is sent.
func TestSimWrongClientSecret(t *testing.T) {
	s := newSim(t, graphsim.Options{}, "not-the-secret")
	c := s.client(t, tenantA)
	_, err := c.ListJobs(testCtx(t), "00000000-0000-4000-8000-000000000001")
	ge := requireGraphError(t, err, KindUnauthorized)
	require.Contains(t, ge.Error(), "AADSTS7000215")
	require.NotContains(t, ge.Error(), "\n", "one line: the AADSTS description, not azidentity's whole report")
	require.NotContains(t, ge.Error(), "Trace ID")
	require.False(t, ge.Retryable())
	require.Zero(t, ge.Status)
	require.NotEmpty(t, ge.Hint)
	st := s.srv.Stats()
	require.Zero(t, st.TotalGraphRequests)
	require.Zero(t, st.TokensIssued)
	require.GreaterOrEqual(t, st.Requests["POST /{tenant}/oauth2/v2.0/token 401"], 1)
}

// A token endpoint outage (503 AADSTS90033 "transient error") is a retryable
// transport failure, not KindUnauthorized: its body names an AADSTS code too.
// azidentity retries the token endpoint itself first (about 10 s with the
// default options the Factory uses), so this test builds the same credential
// without those retries and hands it to the production NewClient.
func TestSimTokenEndpointOutageIsRetryable(t *testing.T) {
	s := newSim(t, graphsim.Options{}, "")
	ctx := testCtx(t)
	s.srv.SetFaults(graphsim.Faults{TokenEndpointDown: true})
	cred, err := azidentity.NewClientSecretCredential(tenantA, testClientID, testSecret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions: azcore.ClientOptions{
			Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: s.f.Cloud.AuthorityHost},
			Transport: &http.Client{Transport: s.spy},
			Retry:     policy.RetryOptions{MaxRetries: -1},
		},
		DisableInstanceDiscovery: true,
	})
	require.NoError(t, err)
	c, err := NewClient(cred, Options{Cloud: s.f.Cloud, Transport: s.spy})
	require.NoError(t, err)

	_, err = c.ListJobs(ctx, "00000000-0000-4000-8000-000000000001")
	ge := requireGraphError(t, err, KindTransport)
	require.True(t, ge.Retryable())
	require.Contains(t, ge.Error(), "AADSTS90033")
	require.Zero(t, s.srv.Stats().TotalGraphRequests)
	require.Equal(t, 1, s.srv.Stats().Requests["POST /{tenant}/oauth2/v2.0/token 503"])

	// Once the endpoint is back, the same client gets a token and reaches Graph.
	s.srv.SetFaults(graphsim.Faults{})
	_, err = c.ListJobs(ctx, "00000000-0000-4000-8000-000000000001")
	require.True(t, IsNotFound(err), "%v", err)
}

func TestSimOnPremisesSyncEnabledRoundTrip(t *testing.T) {
	s := newSim(t, graphsim.Options{}, "")
	ctx := testCtx(t)
	c := s.client(t, tenantA)

	on, err := c.OnPremisesSyncEnabled(ctx, tenantA)
	require.NoError(t, err)
	require.False(t, on, "null (never enabled) reads as false")

	require.NoError(t, c.SetOnPremisesSyncEnabled(ctx, tenantA, true))
	require.True(t, s.srv.Snapshot(tenantA).OnPremisesSyncEnabled)
	on, err = c.OnPremisesSyncEnabled(ctx, tenantA)
	require.NoError(t, err)
	require.True(t, on)
	require.JSONEq(t, `{"onPremisesSyncEnabled":true}`, string(s.spy.graph()[1].Body))
	patches := 0
	for _, r := range s.srv.RequestLog() {
		if r.Route == "PATCH /organization/{id}" && r.Status == 204 {
			patches++
		}
	}
	require.Equal(t, 1, patches)

	require.NoError(t, c.SetOnPremisesSyncEnabled(ctx, tenantA, true), "idempotent")
	require.NoError(t, c.SetOnPremisesSyncEnabled(ctx, tenantA, false))
	require.False(t, s.srv.Snapshot(tenantA).OnPremisesSyncEnabled)
}

// Instantiate reads the SP id from beta's objectId (the simulator, like the
// beta docs, answers objectId and no id); FindServicePrincipals filters on
// template and exact display name; a second Instantiate makes a duplicate.
func TestSimInstantiateFindAndDuplicates(t *testing.T) {
	s := newSim(t, graphsim.Options{}, "")
	ctx := testCtx(t)
	c := s.client(t, tenantA)
	const name = "Cloud sync contoso.com"

	inst := instantiate(t, ctx, c, name)
	snap := s.srv.Snapshot(tenantA)
	require.Len(t, snap.ServicePrincipals, 1)
	require.Len(t, snap.Applications, 1)
	require.Equal(t, snap.ServicePrincipals[0].ID, inst.ServicePrincipalID)
	require.Equal(t, snap.Applications[0].ObjectID, inst.ApplicationObjectID)
	require.Equal(t, snap.Applications[0].AppID, inst.AppID)

	found, err := c.FindServicePrincipals(ctx, AD2AADTemplateID, name)
	require.NoError(t, err)
	require.Equal(t, []ServicePrincipal{{ID: inst.ServicePrincipalID, AppID: inst.AppID, DisplayName: name, ApplicationTemplateID: AD2AADTemplateID}}, found)
	q := lastLogged(t, s.srv, "GET /servicePrincipals").Query
	require.Contains(t, q, "applicationTemplateId eq '"+AD2AADTemplateID+"' and displayName eq '"+name+"'")

	for _, other := range []string{"Cloud sync fabrikam.com", "Cloud sync contoso", name + " 2"} {
		found, err = c.FindServicePrincipals(ctx, AD2AADTemplateID, other)
		require.NoError(t, err)
		require.Empty(t, found, "displayName %q", other)
	}
	found, err = c.FindServicePrincipals(ctx, "8adf8e6e-67b2-4cf2-a259-e3dc5476c621", name)
	require.NoError(t, err)
	require.Empty(t, found, "another template")

	// A quote in the name is escaped for the OData literal.
	quoted := instantiate(t, ctx, c, "O'Brien's sync")
	found, err = c.FindServicePrincipals(ctx, AD2AADTemplateID, "O'Brien's sync")
	require.NoError(t, err)
	require.Len(t, found, 1)
	require.Equal(t, quoted.ServicePrincipalID, found[0].ID)

	// Instantiate does not look first: a second call is a second app.
	require.Empty(t, violations(s.srv, graphsim.ViolationDuplicateApplication))
	dup := instantiate(t, ctx, c, name)
	require.NotEqual(t, inst.ServicePrincipalID, dup.ServicePrincipalID)
	require.Len(t, violations(s.srv, graphsim.ViolationDuplicateApplication), 1)
	require.Len(t, s.srv.Snapshot(tenantA).ServicePrincipals, 3)
	found, err = c.FindServicePrincipals(ctx, AD2AADTemplateID, name)
	require.NoError(t, err)
	require.Len(t, found, 2, "which is why callers look before they instantiate")
}

// A fresh service principal answers 404 until replication catches up: a
// not-found that IsNotFound reports and that is not Retryable by itself.
func TestSimReplicationLag(t *testing.T) {
	const lag = 300 * time.Millisecond
	s := newSim(t, graphsim.Options{ReplicationLag: lag}, "")
	ctx := testCtx(t)
	c := s.client(t, tenantA)
	inst := instantiate(t, ctx, c, "Lagging sync")

	_, err := c.GetServicePrincipal(ctx, inst.ServicePrincipalID)
	require.True(t, IsNotFound(err), "right after instantiate: %v", err)
	ge := requireGraphError(t, err, KindNotFound)
	require.False(t, ge.Retryable(), "only the caller knows the object is fresh")
	require.Equal(t, 404, ge.Status)
	require.Equal(t, "Request_ResourceNotFound", ge.Code)

	var sp ServicePrincipal
	require.Eventually(t, func() bool {
		sp, err = c.GetServicePrincipal(ctx, inst.ServicePrincipalID)
		return err == nil
	}, lag+3*time.Second, pollEvery, "visible once replicated")
	require.False(t, time.Now().Before(s.srv.Snapshot(tenantA).ServicePrincipals[0].VisibleAt), "not before the lag")
	require.Equal(t, ServicePrincipal{ID: inst.ServicePrincipalID, AppID: inst.AppID, DisplayName: "Lagging sync", ApplicationTemplateID: AD2AADTemplateID}, sp)
}

var jobIDRE = regexp.MustCompile(`^AD2AADProvisioning\.[0-9a-f]{32}\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func TestSimJobsCreateListGetStartPause(t *testing.T) {
	s := newSim(t, graphsim.Options{SyncInterval: 50 * time.Millisecond, JobReadLag: 300 * time.Millisecond}, "")
	ctx := testCtx(t)
	c := s.client(t, tenantA)
	sp := instantiate(t, ctx, c, "Jobs sync").ServicePrincipalID

	prov, err := c.CreateJob(ctx, sp, TemplateProvisioning)
	require.NoError(t, err)
	require.Len(t, strings.Split(prov.ID, "."), 3, "real job ids have three parts: %s", prov.ID)
	require.Regexp(t, jobIDRE, prov.ID)
	require.Equal(t, TemplateProvisioning, prov.TemplateID)
	require.Equal(t, "Disabled", prov.ScheduleState, "created disabled")
	require.Equal(t, "PT2M", prov.Interval)
	require.False(t, prov.Running())
	require.Nil(t, prov.Quarantine)

	phs, err := c.CreateJob(ctx, sp, TemplatePasswordHash)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(phs.ID, TemplatePasswordHash+"."))
	require.Len(t, strings.Split(phs.ID, "."), 3)

	jobs, err := c.ListJobs(ctx, sp)
	require.NoError(t, err)
	require.Len(t, jobs, 2)
	require.Equal(t, []string{prov.ID, phs.ID}, []string{jobs[0].ID, jobs[1].ID})
	require.Equal(t, []string{TemplateProvisioning, TemplatePasswordHash}, []string{jobs[0].TemplateID, jobs[1].TemplateID})

	// A new job is listed at once, but read by id it answers 404 for a while
	// (Terraform waits for 5 readable answers in a row).
	_, err = c.GetJob(ctx, sp, prov.ID)
	ge := requireGraphError(t, err, KindNotFound)
	require.Equal(t, "SynchronizationJobNotFound", ge.InnerCode)
	var got Job
	require.Eventually(t, func() bool {
		got, err = c.GetJob(ctx, sp, prov.ID)
		return err == nil
	}, 3*time.Second, pollEvery, "the new job readable by id")
	require.Equal(t, prov.ID, got.ID)
	require.Equal(t, "Disabled", got.ScheduleState)

	_, err = c.GetJob(ctx, sp, "AD2AADProvisioning.nope")
	ge = requireGraphError(t, err, KindNotFound)
	require.Equal(t, "UnknownError", ge.Code)
	require.Equal(t, "SynchronizationJobNotFound", ge.InnerCode, "the sync back end's code, unwrapped from the message")

	require.NoError(t, c.StartJob(ctx, sp, prov.ID))
	got, err = c.GetJob(ctx, sp, prov.ID)
	require.NoError(t, err)
	require.True(t, got.Running(), "%+v", got)
	require.Equal(t, "Active", got.StatusCode)

	// A cycle runs: the status carries the execution and entry counts.
	require.Eventually(t, func() bool {
		got, err = c.GetJob(ctx, sp, prov.ID)
		require.NoError(t, err)
		return got.LastExecution != nil
	}, 3*time.Second, pollEvery, "a sync cycle")
	require.Equal(t, "Succeeded", got.LastExecution.State)
	require.False(t, got.LastExecution.TimeBegan.IsZero())
	require.NotNil(t, got.LastSuccessful)
	require.Equal(t, int64(3), got.EntryCounts["user to User"])
	require.False(t, got.SteadyStateLastAchieved.IsZero())

	require.NoError(t, c.PauseJob(ctx, sp, prov.ID))
	got, err = c.GetJob(ctx, sp, prov.ID)
	require.NoError(t, err)
	require.False(t, got.Running())
	require.Equal(t, "Paused", got.ScheduleState)
	require.Equal(t, "Paused", got.StatusCode)

	require.Empty(t, s.srv.Violations(), "no duplicate job, no start on a running job")
}

// Deletions at the threshold quarantine the job (TooManyDeletes); a restart
// without ForceDeletes leaves it there, a restart with ForceDeletes lets the
// deletions through. The simulator's log shows the resetScope we sent.
func TestSimQuarantineTooManyDeletesAndForceDeletes(t *testing.T) {
	s := newSim(t, graphsim.Options{SyncInterval: 50 * time.Millisecond, JobReadLag: -1}, "")
	ctx := testCtx(t)
	c := s.client(t, tenantA)
	sp := instantiate(t, ctx, c, "Deletes sync").ServicePrincipalID
	job, err := c.CreateJob(ctx, sp, TemplateProvisioning)
	require.NoError(t, err)
	require.NoError(t, c.PutSecrets(ctx, sp, []Secret{
		{Key: "Domain", Value: `{"domain":"contoso.com"}`},
		{Key: "AppKey", Value: `{"appKeyScenario":"AD2AADPasswordHash"}`},
		{Key: "SyncNotificationSettings", Value: `{"Enabled":true,"Recipients":"admin@contoso.com","DeleteThresholdEnabled":true,"DeleteThresholdValue":5}`},
	}))
	require.Equal(t, 5, s.srv.Snapshot(tenantA).Jobs[0].DeleteThreshold)
	require.NoError(t, c.StartJob(ctx, sp, job.ID))
	require.NoError(t, s.srv.StageDeletions(tenantA, job.ID, 5))

	var got Job
	require.Eventually(t, func() bool {
		got, err = c.GetJob(ctx, sp, job.ID)
		require.NoError(t, err)
		return got.Quarantine != nil
	}, 3*time.Second, pollEvery, "quarantine")
	require.Equal(t, "TooManyDeletes", got.Quarantine.Reason)
	require.Equal(t, "DeleteThresholdExceeded", got.Quarantine.ErrorCode)
	require.Contains(t, got.Quarantine.ErrorMessage, "ForceDeletes")
	require.True(t, got.Quarantine.TenantActionable)
	require.False(t, got.Quarantine.CurrentBegan.IsZero())
	require.True(t, got.Quarantine.SeriesBegan.Equal(got.Quarantine.CurrentBegan), "a new series")
	require.True(t, got.Quarantine.NextAttempt.After(got.Quarantine.CurrentBegan))
	require.Equal(t, int64(1), got.Quarantine.SeriesCount)
	require.Equal(t, "Quarantine", got.StatusCode)
	require.False(t, got.Running())
	require.Equal(t, "Failed", got.LastExecution.State)

	restartScope := func() string {
		t.Helper()
		var body struct {
			Criteria struct {
				ResetScope string `json:"resetScope"`
			} `json:"criteria"`
		}
		r := lastLogged(t, s.srv, "/restart")
		require.Equal(t, 204, r.Status)
		require.NoError(t, json.Unmarshal([]byte(r.Body), &body), "body %q", r.Body)
		return body.Criteria.ResetScope
	}

	// Without ForceDeletes: still quarantined, deletions still pending.
	require.NoError(t, c.RestartJob(ctx, sp, job.ID, ScopeEscrows, ScopeWatermark))
	require.Equal(t, "Escrows,Watermark", restartScope())
	waitTicks(t, s.srv, 3)
	got, err = c.GetJob(ctx, sp, job.ID)
	require.NoError(t, err)
	require.NotNil(t, got.Quarantine)
	require.Equal(t, "TooManyDeletes", got.Quarantine.Reason)
	require.Equal(t, 5, s.srv.Snapshot(tenantA).Jobs[0].PendingDeletions)

	// An unknown scope is refused before sending, and retrying cannot help.
	before := s.srv.Stats().TotalGraphRequests
	err = c.RestartJob(ctx, sp, job.ID, RestartScope("Everything"))
	ge := requireGraphError(t, err, KindBadRequest)
	require.False(t, ge.Retryable())
	require.Equal(t, before, s.srv.Stats().TotalGraphRequests)

	// With ForceDeletes: the deletions go through and the job is healthy.
	require.NoError(t, c.RestartJob(ctx, sp, job.ID, ScopeForceDeletes))
	require.Equal(t, "ForceDeletes", restartScope())
	got, err = c.GetJob(ctx, sp, job.ID)
	require.NoError(t, err)
	require.Nil(t, got.Quarantine)
	require.Equal(t, "Active", got.StatusCode)
	snap := s.srv.Snapshot(tenantA).Jobs[0]
	require.Zero(t, snap.PendingDeletions)
	require.Equal(t, 5, snap.AppliedDeletions)
	require.Eventually(t, func() bool {
		got, err = c.GetJob(ctx, sp, job.ID)
		require.NoError(t, err)
		return got.LastExecution != nil && got.LastExecution.State == "Succeeded"
	}, 3*time.Second, pollEvery, "a healthy cycle")
	require.True(t, got.Running())
}

// The schema travels as raw bytes: GET gives the stored bytes, PUT (a real PUT,
// not the SDK's PATCH) stores exactly the bytes we send.
func TestSimSchemaGetPatchPut(t *testing.T) {
	s := newSim(t, graphsim.Options{}, "")
	ctx := testCtx(t)
	c := s.client(t, tenantA)
	sp := instantiate(t, ctx, c, "Schema sync").ServicePrincipalID
	job, err := c.CreateJob(ctx, sp, TemplateProvisioning)
	require.NoError(t, err)

	raw, err := c.GetSchema(ctx, sp, job.ID)
	require.NoError(t, err)
	require.Equal(t, string(s.srv.Snapshot(tenantA).Schemas[job.ID]), string(raw), "byte for byte what the service holds")
	dir, err := DirectoryID(raw, "Active Directory")
	require.NoError(t, err)
	require.Equal(t, graphsim.ADDirectoryID, dir)

	patched, rep, err := PatchCredentialData(raw)
	require.NoError(t, err)
	require.Len(t, rep.Added, 2)
	require.Empty(t, rep.Missing)
	require.NoError(t, c.PutSchema(ctx, sp, job.ID, patched))

	snap := s.srv.Snapshot(tenantA)
	require.Equal(t, string(patched), string(snap.Schemas[job.ID]), "stored schema is the bytes we sent")
	require.Equal(t, 1, snap.CredentialDataMappings[sp]["Provision Active Directory users"])
	require.Equal(t, 1, snap.CredentialDataMappings[sp]["Provision Active Directory inetOrgPersons"])
	require.Equal(t, "", s.spy.last(t).ContentEncoding)

	methods := map[string]int{}
	for _, r := range s.srv.RequestLog() {
		require.NotEqual(t, "PATCH", r.Method, "PATCH on a schema answers 404 in Graph: %s", r.Route)
		if strings.HasSuffix(r.Route, "/schema") {
			methods[r.Method+" "+http.StatusText(r.Status)]++
		}
	}
	require.Equal(t, map[string]int{"GET OK": 1, "PUT No Content": 1}, methods)

	// Read back and patch again: nothing to add (the mapping is not duplicated).
	again, err := c.GetSchema(ctx, sp, job.ID)
	require.NoError(t, err)
	require.Equal(t, string(patched), string(again))
	_, rep, err = PatchCredentialData(again)
	require.NoError(t, err)
	require.False(t, rep.Changed())
	require.Empty(t, violations(s.srv, graphsim.ViolationDuplicateCredentialData))

	before := s.srv.Stats().TotalGraphRequests
	ge := requireGraphError(t, c.PutSchema(ctx, sp, job.ID, []byte(`{"directories":[`)), KindBadRequest)
	require.False(t, ge.Retryable())
	require.Equal(t, before, s.srv.Stats().TotalGraphRequests, "invalid JSON is not sent")
}

// Discover fails with 500 for the first calls (as Graph does): retryable
// KindUnavailable; then the AD directory shows mailNickname, unless the
// tenant's AD has no Exchange schema.
func TestSimDiscover(t *testing.T) {
	s := newSim(t, graphsim.Options{DiscoverFailures: 2}, "")
	ctx := testCtx(t)
	c := s.client(t, tenantA)
	sp := instantiate(t, ctx, c, "Discover sync").ServicePrincipalID
	job, err := c.CreateJob(ctx, sp, TemplateProvisioning)
	require.NoError(t, err)
	raw, err := c.GetSchema(ctx, sp, job.ID)
	require.NoError(t, err)
	adDir, err := DirectoryID(raw, "Active Directory")
	require.NoError(t, err)

	for i := 0; i < 2; i++ {
		_, err := c.Discover(ctx, sp, job.ID, adDir)
		ge := requireGraphError(t, err, KindUnavailable)
		require.True(t, ge.Retryable())
		require.Equal(t, 500, ge.Status)
		require.NotEmpty(t, ge.RequestID)
	}
	d, err := c.Discover(ctx, sp, job.ID, adDir)
	require.NoError(t, err)
	require.Equal(t, graphsim.ADDirectoryID, d.ID)
	require.Equal(t, "Active Directory", d.Name)
	require.True(t, d.HasAttribute("user", "MAILNICKNAME"))
	require.True(t, d.HasAttribute("USER", "mailNickName"), "the docs' spelling matches too")
	require.True(t, d.HasAttribute("inetOrgPerson", "mailNickname"))
	require.False(t, d.HasAttribute("user", "mailNicknames"))
	require.False(t, d.HasAttribute("printer", "mailNickname"))
	require.Equal(t, 3, s.srv.Snapshot(tenantA).DiscoverCalls)

	s.srv.SetFaults(graphsim.Faults{})
	s.srv.SetTenantOptions(tenantB, graphsim.TenantOptions{NoExchangeSchema: true})
	cb := s.client(t, tenantB)
	spB := instantiate(t, ctx, cb, "Discover sync").ServicePrincipalID
	jobB, err := cb.CreateJob(ctx, spB, TemplateProvisioning)
	require.NoError(t, err)
	d, err = cb.Discover(ctx, spB, jobB.ID, graphsim.ADDirectoryID)
	require.NoError(t, err)
	require.False(t, d.HasAttribute("user", "MAILNICKNAME"))
	require.True(t, d.HasAttribute("user", "userPrincipalName"))
}

func secretMap(ss []Secret) map[string]string {
	m := map[string]string{}
	for _, s := range ss {
		m[s.Key] = s.Value
	}
	return m
}

func TestSimSecrets(t *testing.T) {
	s := newSim(t, graphsim.Options{}, "")
	ctx := testCtx(t)
	c := s.client(t, tenantA)
	sp := instantiate(t, ctx, c, "Secrets sync").ServicePrincipalID
	const (
		domain   = `{"domain":"contoso.com"}`
		appKey   = `{"appKeyScenario":"AD2AADPasswordHash"}`
		settings = `{"Enabled":true,"Recipients":"admin@contoso.com","DeleteThresholdEnabled":true,"DeleteThresholdValue":50}`
	)

	require.NoError(t, c.PutSecrets(ctx, sp, []Secret{{"Domain", domain}, {"AppKey", appKey}, {"SyncNotificationSettings", settings}}))
	got, err := c.GetSecrets(ctx, sp)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"Domain": domain, "AppKey": Masked, "SyncNotificationSettings": settings}, secretMap(got))
	require.Equal(t, appKey, s.srv.Snapshot(tenantA).Secrets[sp]["AppKey"], "the service holds the real value")

	// Writing back what GET returned would store "*": refused, nothing sent.
	before := s.srv.Stats().TotalGraphRequests
	ge := requireGraphError(t, c.PutSecrets(ctx, sp, got), KindBadRequest)
	require.Contains(t, ge.Error(), "AppKey")
	require.False(t, ge.Retryable(), "the same input fails the same way")
	require.Equal(t, before, s.srv.Stats().TotalGraphRequests)
	require.Empty(t, violations(s.srv, graphsim.ViolationMaskedSecretWritten))
	require.Equal(t, appKey, s.srv.Snapshot(tenantA).Secrets[sp]["AppKey"])

	// PUT replaces the whole set: a key left out is gone.
	require.NoError(t, c.PutSecrets(ctx, sp, []Secret{{"Domain", domain}, {"SyncNotificationSettings", settings}}))
	got, err = c.GetSecrets(ctx, sp)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"Domain": domain, "SyncNotificationSettings": settings}, secretMap(got))
	require.NotContains(t, s.srv.Snapshot(tenantA).Secrets[sp], "AppKey")

	// Bad notification settings: the back end's code comes out of the message.
	err = c.PutSecrets(ctx, sp, []Secret{{"Domain", domain}, {"SyncNotificationSettings", `{"Enabled":true,"Recipients":"not an address"}`}})
	ge = requireGraphError(t, err, KindBadRequest)
	require.Equal(t, 400, ge.Status)
	require.Equal(t, "UnknownError", ge.Code)
	require.Equal(t, "InvalidNotificationSettings", ge.InnerCode)
	require.Contains(t, ge.Hint, "recipients")
	require.False(t, ge.Retryable())
	require.NotEmpty(t, ge.RequestID)
	require.Equal(t, settings, s.srv.Snapshot(tenantA).Secrets[sp]["SyncNotificationSettings"], "a refused PUT changes nothing")
}

// With every request throttled, each call is one request (the SDK's retry
// handler is off: Temporal owns retries), and the error carries the decimal
// Retry-After and the request id. Bodies are not gzip-compressed, so a
// throttled write cannot turn into a 400 on a resend; after the throttling the
// same PutSecrets succeeds at the first attempt.
func TestSimThrottlingIsOneRequestPerCall(t *testing.T) {
	s := newSim(t, graphsim.Options{}, "")
	ctx := testCtx(t)
	c := s.client(t, tenantA)
	sp := instantiate(t, ctx, c, "Throttled sync").ServicePrincipalID
	secrets := []Secret{{"Domain", `{"domain":"contoso.com"}`}, {"AppKey", `{"appKeyScenario":"AD2AADProvisioning"}`}}
	s.srv.SetFaults(graphsim.Faults{ThrottleRate: 1.0, RetryAfterSeconds: 2.128})

	calls := []struct {
		name string
		call func() error
	}{
		{"get organization (raw GET)", func() error { _, err := c.OnPremisesSyncEnabled(ctx, tenantA); return err }},
		{"find service principals (SDK GET)", func() error { _, err := c.FindServicePrincipals(ctx, AD2AADTemplateID, "x"); return err }},
		{"create job (SDK POST with body)", func() error { _, err := c.CreateJob(ctx, sp, TemplateProvisioning); return err }},
		{"start job (SDK POST)", func() error { return c.StartJob(ctx, sp, "AD2AADProvisioning.x.y") }},
		{"put schema (PUT)", func() error { return c.PutSchema(ctx, sp, "AD2AADProvisioning.x.y", []byte(`{"directories":[]}`)) }},
		{"put secrets (raw PUT)", func() error { return c.PutSecrets(ctx, sp, secrets) }},
	}
	for _, tc := range calls {
		before := s.srv.Stats()
		start := time.Now()
		ge := requireGraphError(t, tc.call(), KindThrottled)
		elapsed := time.Since(start)
		after := s.srv.Stats()
		require.Equal(t, before.TotalGraphRequests+1, after.TotalGraphRequests, "%s: exactly one request reached Graph", tc.name)
		require.Equal(t, before.Throttled+1, after.Throttled, tc.name)
		require.Less(t, elapsed, time.Second, "%s: nobody waited for Retry-After in the SDK", tc.name)
		require.Equal(t, 429, ge.Status)
		require.Equal(t, "TooManyRequests", ge.Code)
		require.Equal(t, 2128*time.Millisecond, ge.RetryAfter, tc.name)
		require.True(t, ge.Retryable())
		require.NotEmpty(t, ge.RequestID)
		log := s.srv.RequestLog()
		require.Equal(t, log[len(log)-1].RequestID, ge.RequestID, "%s: the request id Graph gave", tc.name)
		w := s.spy.last(t)
		require.Empty(t, w.ContentEncoding, "%s: request bodies are not compressed", tc.name)
		if len(w.Body) > 0 {
			require.True(t, json.Valid(w.Body), "%s: body on the wire is plain JSON: %q", tc.name, w.Body)
		}
	}
	require.Empty(t, s.srv.Snapshot(tenantA).Jobs, "throttled writes changed nothing")

	s.srv.SetFaults(graphsim.Faults{})
	before := s.srv.Stats()
	require.NoError(t, c.PutSecrets(ctx, sp, secrets))
	after := s.srv.Stats()
	require.Equal(t, before.TotalGraphRequests+1, after.TotalGraphRequests, "succeeds at the first attempt")
	require.Equal(t, 1, after.Requests["PUT /servicePrincipals/{id}/synchronization/secrets 204"])
	require.Zero(t, after.Requests["PUT /servicePrincipals/{id}/synchronization/secrets 400"])
}

// A missing application permission is a 403 whose hint names the permission
// the operation needs.
func TestSimMissingPermission(t *testing.T) {
	s := newSim(t, graphsim.Options{}, "")
	ctx := testCtx(t)
	c := s.client(t, tenantA)
	sp := instantiate(t, ctx, c, "Forbidden sync").ServicePrincipalID
	s.srv.SetTenantOptions(tenantA, graphsim.TenantOptions{MissingPermission: "Synchronization.ReadWrite.All"})

	_, err := c.CreateJob(ctx, sp, TemplateProvisioning)
	ge := requireGraphError(t, err, KindForbidden)
	require.Equal(t, 403, ge.Status)
	require.Equal(t, "Authorization_RequestDenied", ge.Code)
	require.Contains(t, ge.Hint, "Synchronization.ReadWrite.All")
	require.Contains(t, ge.Error(), "Synchronization.ReadWrite.All")
	require.False(t, ge.Retryable())

	ge = requireGraphError(t, c.PutSecrets(ctx, sp, []Secret{{"Domain", `{"domain":"contoso.com"}`}}), KindForbidden)
	require.Contains(t, ge.Hint, "Synchronization.ReadWrite.All")
	ge = requireGraphError(t, c.SetOnPremisesSyncEnabled(ctx, tenantA, true), KindForbidden)
	require.Contains(t, ge.Hint, "Organization.ReadWrite.All")

	_, err = c.ListJobs(ctx, sp)
	require.NoError(t, err, "reads are still allowed")
}

// Tenant A's client (token for A) cannot see tenant B's objects, and the
// simulator records the attempt.
func TestSimTenantIsolation(t *testing.T) {
	s := newSim(t, graphsim.Options{}, "")
	ctx := testCtx(t)
	ca, cb := s.client(t, tenantA), s.client(t, tenantB)
	require.NotSame(t, ca, cb)
	spB := instantiate(t, ctx, cb, "Tenant B sync").ServicePrincipalID
	_, err := cb.GetServicePrincipal(ctx, spB)
	require.NoError(t, err)
	_, err = ca.OnPremisesSyncEnabled(ctx, tenantA)
	require.NoError(t, err)
	require.Empty(t, violations(s.srv, graphsim.ViolationCrossTenantToken))

	_, err = ca.GetServicePrincipal(ctx, spB)
	require.True(t, IsNotFound(err), "%v", err)
	v := violations(s.srv, graphsim.ViolationCrossTenantToken)
	require.Len(t, v, 1)
	require.Equal(t, tenantA, v[0].Tenant)
	require.Contains(t, v[0].Detail, spB)

	_, err = ca.ListJobs(ctx, spB)
	require.True(t, IsNotFound(err), "%v", err)
	found, err := ca.FindServicePrincipals(ctx, AD2AADTemplateID, "Tenant B sync")
	require.NoError(t, err)
	require.Empty(t, found)
	_, err = ca.OnPremisesSyncEnabled(ctx, tenantB)
	require.True(t, IsNotFound(err), "%v", err)
	require.Len(t, violations(s.srv, graphsim.ViolationCrossTenantToken), 3)
	require.Equal(t, 2, s.srv.Stats().TokensIssued, "one token per tenant")
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Now()
	cases := []struct {
		in       string
		min, max time.Duration
	}{
		{"2.128", 2128 * time.Millisecond, 2128 * time.Millisecond}, // Graph's decimal seconds
		{" 2.128 ", 2128 * time.Millisecond, 2128 * time.Millisecond},
		{"0.5", 500 * time.Millisecond, 500 * time.Millisecond}, // the SDK would truncate this to no wait
		{"3", 3 * time.Second, 3 * time.Second},
		{"", 0, 0},
		{"garbage", 0, 0},
		{"0", 0, 0},
		{"-1", 0, 0},
		{"NaN", 0, 0},
		{"Inf", 0, 0},
		{"172800", 0, 0}, // more than a day: not believed
		{now.Add(30 * time.Second).UTC().Format(http.TimeFormat), 28 * time.Second, 30 * time.Second},
		{now.Add(-time.Minute).UTC().Format(http.TimeFormat), 0, 0}, // a date in the past
	}
	for _, tc := range cases {
		got := ParseRetryAfter(tc.in)
		require.GreaterOrEqual(t, got, tc.min, "%q", tc.in)
		require.LessOrEqual(t, got, tc.max, "%q", tc.in)
	}
}

func TestObserverSeesErrorCodeAndRetryAfterAndBodyStillParses(t *testing.T) {
	s := newSim(t, graphsim.Options{}, "")
	var mu sync.Mutex
	var obs []Observation
	s.f.Observer = func(o Observation) { mu.Lock(); obs = append(obs, o); mu.Unlock() }
	c := s.client(t, tenantA)
	s.srv.SetFaults(graphsim.Faults{ThrottleRate: 1, RetryAfterSeconds: 1.5})
	_, err := c.ListJobs(context.Background(), "00000000-0000-0000-0000-000000000001")
	ge, ok := AsError(err)
	require.True(t, ok)
	require.Equal(t, "TooManyRequests", ge.Code, "the SDK still parses the body the observer peeked at")
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, obs, 1)
	require.Equal(t, "/beta/servicePrincipals/{id}/synchronization/jobs", obs[0].Route)
	require.Equal(t, 429, obs[0].Status)
	require.Equal(t, "TooManyRequests", obs[0].Code)
	require.Equal(t, 1500*time.Millisecond, obs[0].RetryAfter)
}

func TestRouteHidesIDs(t *testing.T) {
	require.Equal(t, "/beta/servicePrincipals/{id}/synchronization/jobs/{id}/start",
		Route("/beta/servicePrincipals/e73a7b56-4696-49b4-b6a7-3f2da055f15a/synchronization/jobs/AD2AADProvisioning.f3781af3950a0d55ac7c79714fe7eb4a.330c21dc-5fb4-4bd8-b7cd-60b4d57b1362/start"))
	require.Equal(t, "/beta/organization/{id}", Route("/beta/organization/contoso.onmicrosoft.com"))
}
