package activities

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"

	"github.com/cloudsync/cloudsync/graphsim"
	wf "github.com/cloudsync/cloudsync/workflows"
)

// fakeRegistry stands in for Temporal: the running watchers (with their
// memo, as visibility lists them) and the signals the poller sends.
type fakeRegistry struct {
	mu       sync.Mutex
	watchers map[string]wf.WatchTarget
	signals  map[string][]wf.JobStatus
}

func newRegistry() *fakeRegistry {
	return &fakeRegistry{watchers: map[string]wf.WatchTarget{}, signals: map[string][]wf.JobStatus{}}
}

func (r *fakeRegistry) watch(t wf.WatchTarget) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	id := wf.WatchWorkflowID(t.TenantID, t.JobID)
	r.watchers[id] = t
	return id
}

func (r *fakeRegistry) ListWorkflow(_ context.Context, _ *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	resp := &workflowservice.ListWorkflowExecutionsResponse{}
	for id, t := range r.watchers {
		p, err := converter.GetDefaultDataConverter().ToPayload(t)
		if err != nil {
			return nil, err
		}
		resp.Executions = append(resp.Executions, &workflowpb.WorkflowExecutionInfo{
			Execution: &commonpb.WorkflowExecution{WorkflowId: id},
			Memo:      &commonpb.Memo{Fields: map[string]*commonpb.Payload{wf.WatchMemoKey: p}},
		})
	}
	return resp, nil
}

func (r *fakeRegistry) SignalWorkflow(_ context.Context, id, _, name string, arg any) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.watchers[id]; !ok || name != wf.ObservedSignal {
		return serviceerror.NewNotFound("workflow not found")
	}
	r.signals[id] = append(r.signals[id], arg.(wf.JobStatus))
	return nil
}

func (r *fakeRegistry) last(id string) (wf.JobStatus, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.signals[id]
	if len(s) == 0 {
		return wf.JobStatus{}, 0
	}
	return s[len(s)-1], len(s)
}

func listsOf(sim *graphsim.Server) int {
	n := 0
	for _, r := range sim.RequestLog() {
		if r.Route == "GET /servicePrincipals/{id}/synchronization/jobs" {
			n++
		}
	}
	return n
}

// One Graph list per service principal per pass, and a signal only when what
// a watcher acts on changed.
func TestPollShardListsOncePerServicePrincipalAndSignalsOnlyChanges(t *testing.T) {
	a, sim := newActivities(t, graphsim.Options{})
	reg := newRegistry()
	a.Registry = reg
	jobs := sim.SeedRunningJobs(tenant, 2, 3)
	ids := map[string]string{}
	for _, j := range jobs {
		ids[j.JobID] = reg.watch(wf.WatchTarget{TenantID: tenant, ServicePrincipalID: j.ServicePrincipalID, JobID: j.JobID})
	}
	cfg := WatchConfig{Shards: 1, GoneAfter: time.Hour}.WithDefaults()
	st := shardState{}
	st.init()
	ctx := context.Background()

	require.NoError(t, a.pollShardOnce(ctx, 0, cfg, &st, func() {}))
	require.Equal(t, 2, listsOf(sim), "one list per service principal, not one GET per job")
	for _, id := range ids {
		s, n := reg.last(id)
		require.Equal(t, 1, n, "every new watcher hears once")
		require.Equal(t, "Active", s.StatusCode)
	}
	for range 3 {
		require.NoError(t, a.pollShardOnce(ctx, 0, cfg, &st, func() {}))
	}
	require.Equal(t, 8, listsOf(sim))
	require.Equal(t, int64(6), st.Signals, "unchanged polls signal nobody")

	// A quarantine for too many deletes reaches that job's watcher only.
	prov := jobs[0].JobID
	require.NoError(t, sim.Quarantine(tenant, prov, "TooManyDeletes", "DeleteThresholdExceeded"))
	require.NoError(t, a.pollShardOnce(ctx, 0, cfg, &st, func() {}))
	s, n := reg.last(ids[prov])
	require.Equal(t, 2, n)
	require.Equal(t, "TooManyDeletes", s.QuarantineReason)
	require.False(t, s.SeriesBegan.IsZero(), "the episode's key travels")
	require.Equal(t, int64(7), st.Signals)
}

// A job missing from the list (a fresh job, replication lag, a deletion) is
// reported as missing, and as gone only after GoneAfter.
func TestPollShardReportsGoneOnlyAfterGoneAfter(t *testing.T) {
	a, sim := newActivities(t, graphsim.Options{})
	reg := newRegistry()
	a.Registry = reg
	jobs := sim.SeedRunningJobs(tenant, 1, 1)
	id := reg.watch(wf.WatchTarget{TenantID: tenant, ServicePrincipalID: jobs[0].ServicePrincipalID, JobID: "AD2AADProvisioning.notyet.listed"})
	cfg := WatchConfig{Shards: 1, GoneAfter: time.Hour}.WithDefaults()
	st := shardState{}
	st.init()
	require.NoError(t, a.pollShardOnce(context.Background(), 0, cfg, &st, func() {}))
	s, n := reg.last(id)
	require.Equal(t, 1, n)
	require.True(t, s.Missing)
	require.False(t, s.Gone, "missing once is not gone")
	require.NoError(t, a.pollShardOnce(context.Background(), 0, cfg, &st, func() {}))
	_, n = reg.last(id)
	require.Equal(t, 1, n, "still missing: nothing new to say")
	st.Missing[id] = time.Now().Add(-61 * time.Minute) // as if an hour passed
	require.NoError(t, a.pollShardOnce(context.Background(), 0, cfg, &st, func() {}))
	s, n = reg.last(id)
	require.Equal(t, 2, n)
	require.True(t, s.Gone)
}

// A revoked consent (403 on reads) makes the tenant's watchers unreachable
// after UnreachableAfter refusals; then polls back off; recovery is reported.
func TestPollShardRevokedConsentBecomesUnreachable(t *testing.T) {
	a, sim := newActivities(t, graphsim.Options{})
	reg := newRegistry()
	a.Registry = reg
	jobs := sim.SeedRunningJobs(tenant, 1, 1)
	id := reg.watch(wf.WatchTarget{TenantID: tenant, ServicePrincipalID: jobs[0].ServicePrincipalID, JobID: jobs[0].JobID})
	cfg := WatchConfig{Shards: 1, UnreachableAfter: 3}.WithDefaults()
	st := shardState{}
	st.init()
	ctx := context.Background()
	require.NoError(t, a.pollShardOnce(ctx, 0, cfg, &st, func() {}))
	sim.SetTenantOptions(tenant, graphsim.TenantOptions{ConsentRevoked: true})
	for range 2 {
		require.NoError(t, a.pollShardOnce(ctx, 0, cfg, &st, func() {}))
	}
	_, n := reg.last(id)
	require.Equal(t, 1, n, "two refusals are not yet unreachable")
	require.NoError(t, a.pollShardOnce(ctx, 0, cfg, &st, func() {}))
	s, n := reg.last(id)
	require.Equal(t, 2, n)
	require.Contains(t, s.Unreachable, "403")
	before := listsOf(sim)
	require.NoError(t, a.pollShardOnce(ctx, 0, cfg, &st, func() {}))
	require.Equal(t, before, listsOf(sim), "backing off: no request this interval")

	sim.SetTenantOptions(tenant, graphsim.TenantOptions{})
	st.NextTry = map[string]time.Time{} // the backoff has passed
	require.NoError(t, a.pollShardOnce(ctx, 0, cfg, &st, func() {}))
	s, n = reg.last(id)
	require.Equal(t, 3, n)
	require.Empty(t, s.Unreachable)
	require.Equal(t, "Active", s.StatusCode)
}

// The long activity heartbeats its state, so a retry resumes without telling
// every watcher again; a shard beyond the configured count retires.
func TestPollShardRunsUntilRefreshAndRetires(t *testing.T) {
	a, sim := newActivities(t, graphsim.Options{})
	reg := newRegistry()
	a.Registry = reg
	for _, j := range sim.SeedRunningJobs(tenant, 1, 2) {
		reg.watch(wf.WatchTarget{TenantID: tenant, ServicePrincipalID: j.ServicePrincipalID, JobID: j.JobID})
	}
	a.Watch = WatchConfig{Shards: 2, Interval: 50 * time.Millisecond, Refresh: 300 * time.Millisecond}
	env := activityEnv(a)
	var all wf.PollShardResult
	for shard := range 2 {
		v, err := env.ExecuteActivity(a.PollShard, wf.PollShardInput{Shard: shard})
		require.NoError(t, err)
		var res wf.PollShardResult
		require.NoError(t, v.Get(&res))
		require.GreaterOrEqual(t, res.Polls, int64(1), "it polled, then ended at the refresh interval")
		all.Signals += res.Signals
	}
	require.Equal(t, int64(2), all.Signals, "each watcher, in whichever shard, heard once per run")
	v, err := env.ExecuteActivity(a.PollShard, wf.PollShardInput{Shard: 2})
	require.NoError(t, err)
	var res wf.PollShardResult
	require.NoError(t, v.Get(&res))
	require.True(t, res.Retired)
}

// The restart re-reads the job and forces deletions only in the approved
// episode: not after the quarantine was lifted and imposed again (a new
// series), not on a paused job, not twice after a lost answer.
func TestRestartForceDeletesOnlyInTheApprovedEpisode(t *testing.T) {
	a, sim := newActivities(t, graphsim.Options{})
	env := activityEnv(a)
	j := sim.SeedRunningJobs(tenant, 1, 1)[0]
	episode := func() wf.Episode {
		v, err := env.ExecuteActivity(a.LookAtJob, wf.WatchTarget{TenantID: tenant, ServicePrincipalID: j.ServicePrincipalID, JobID: j.JobID})
		require.NoError(t, err)
		var s wf.JobStatus
		require.NoError(t, v.Get(&s))
		ep, ok := s.Episode(j.JobID)
		require.True(t, ok, "%+v", s)
		return ep
	}
	restart := func(ep wf.Episode) wf.RestartResult {
		v, err := env.ExecuteActivity(a.RestartForceDeletes, wf.RestartInput{TenantID: tenant, ServicePrincipalID: j.ServicePrincipalID, JobID: j.JobID,
			Episode: ep, Decision: wf.Decision{Approve: true, Approver: "alice@contoso.com", Reason: "planned"}})
		require.NoError(t, err)
		var res wf.RestartResult
		require.NoError(t, v.Get(&res))
		return res
	}
	forced := func() int {
		n := 0
		for _, r := range sim.RequestLog() {
			if r.Route == "POST /servicePrincipals/{id}/synchronization/jobs/{jobId}/restart" {
				n++
			}
		}
		return n
	}
	require.NoError(t, sim.Quarantine(tenant, j.JobID, "TooManyDeletes", "DeleteThresholdExceeded"))
	a1 := episode()
	time.Sleep(5 * time.Millisecond)
	// Lifted and imposed again between two polls: a new series.
	require.NoError(t, sim.Quarantine(tenant, j.JobID, "QuarantinedOnDemand", ""))
	require.NoError(t, sim.Quarantine(tenant, j.JobID, "TooManyDeletes", "DeleteThresholdExceeded"))
	b := episode()
	require.NotEqual(t, a1.ID(), b.ID())
	res := restart(a1)
	require.False(t, res.Restarted)
	require.Contains(t, res.Detail, "new series")
	require.Equal(t, b.SeriesBegan, res.Job.SeriesBegan, "the refusal says what the job shows")
	require.Equal(t, 0, forced())

	res = restart(b)
	require.True(t, res.Restarted)
	require.Equal(t, 1, forced())
	res = restart(b) // a retry after a lost 204
	require.False(t, res.Restarted)
	require.Contains(t, res.Detail, "no longer quarantined")
	require.Equal(t, 1, forced())
}

// A service principal's jobs share a shard: across all shards, one list per
// service principal per interval.
func TestPollShardsListEachServicePrincipalOnce(t *testing.T) {
	a, sim := newActivities(t, graphsim.Options{})
	reg := newRegistry()
	a.Registry = reg
	for i := range 5 {
		tn := fmt.Sprintf("0b7f4c3e-1d2a-4e5f-8a9b-0c1d2e3f4c%02d", i)
		for _, j := range sim.SeedRunningJobs(tn, 1, 3) {
			reg.watch(wf.WatchTarget{TenantID: tn, ServicePrincipalID: j.ServicePrincipalID, JobID: j.JobID})
		}
	}
	cfg := WatchConfig{Shards: 4}.WithDefaults()
	for shard := range cfg.Shards {
		st := shardState{}
		st.init()
		require.NoError(t, a.pollShardOnce(context.Background(), shard, cfg, &st, func() {}))
	}
	require.Equal(t, 5, listsOf(sim), "one list per service principal, whichever shard polls it")
}

// A resume (Graph's start) lifts a TooManyDeletes quarantine only for the
// episode a human rejected, never for one nobody has decided on.
func TestResumeJobLiftsOnlyTheRejectedEpisode(t *testing.T) {
	a, sim := newActivities(t, graphsim.Options{})
	env := activityEnv(a)
	j := sim.SeedRunningJobs(tenant, 1, 1)[0]
	require.NoError(t, sim.Quarantine(tenant, j.JobID, "TooManyDeletes", "DeleteThresholdExceeded"))
	resume := func(rejected string) wf.ResumeResult {
		v, err := env.ExecuteActivity(a.ResumeJob, wf.ResumeInput{TenantID: tenant, ServicePrincipalID: j.ServicePrincipalID, JobID: j.JobID,
			By: "carol@contoso.com", Reason: "fixed", Rejected: rejected})
		require.NoError(t, err)
		var res wf.ResumeResult
		require.NoError(t, v.Get(&res))
		return res
	}
	starts := func() int {
		n := 0
		for _, r := range sim.RequestLog() {
			if r.Route == "POST /servicePrincipals/{id}/synchronization/jobs/{jobId}/start" {
				n++
			}
		}
		return n
	}
	res := resume("") // nobody rejected it: the episode awaits a decision
	require.True(t, res.Refused, res.Detail)
	ep, ok := res.Job.Episode(j.JobID)
	require.True(t, ok)
	res = resume(j.JobID + "@2001-01-01T00:00:00Z") // another, older episode
	require.True(t, res.Refused)
	require.Equal(t, 0, starts())
	res = resume(ep.ID())
	require.True(t, res.Started)
	require.Equal(t, 1, starts())
}
