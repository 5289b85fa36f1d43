package activities

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/cloudsync/cloudsync/graph"
	wf "github.com/cloudsync/cloudsync/workflows"
)

// WatchConfig is the fleet's polling, from the worker's configuration.
type WatchConfig struct {
	Shards   int           // poller shards (default 4)
	Interval time.Duration // one Graph list per watched service principal per interval (default 2 min)
	// GoneAfter: a job missing from its service principal's list this long is
	// gone and its watcher ends (default 15 min).
	GoneAfter time.Duration
	// Refresh ends a PollShard run; the next run reports every job once, the
	// watchers' sign of life (default 12 h).
	Refresh time.Duration
	// UnreachableAfter consecutive refusals (401, 403, unparseable answers)
	// make a tenant's watchers unreachable (default 3); polls of it then back
	// off up to MaxBackoff (default 30 min).
	UnreachableAfter int
	MaxBackoff       time.Duration
	Concurrency      int // service principals listed at once (default 16)
}

// Watch configuration defaults.
const (
	DefaultWatchShards    = 4
	DefaultWatchInterval  = 2 * time.Minute
	DefaultWatchGoneAfter = 15 * time.Minute
	DefaultWatchRefresh   = 12 * time.Hour
)

// WithDefaults fills unset fields.
func (c WatchConfig) WithDefaults() WatchConfig {
	c.Shards = wf.OrDefault(c.Shards, DefaultWatchShards)
	c.Interval = wf.OrDefault(c.Interval, DefaultWatchInterval)
	c.GoneAfter = wf.OrDefault(c.GoneAfter, DefaultWatchGoneAfter)
	c.Refresh = wf.OrDefault(c.Refresh, DefaultWatchRefresh)
	c.UnreachableAfter = wf.OrDefault(c.UnreachableAfter, 3)
	c.MaxBackoff = wf.OrDefault(c.MaxBackoff, 30*time.Minute)
	c.Concurrency = wf.OrDefault(c.Concurrency, 16)
	return c
}

// WatchRegistry is what the poller needs of Temporal: the running watchers
// (visibility) and a way to tell one of them. client.Client has both.
type WatchRegistry interface {
	ListWorkflow(ctx context.Context, req *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error)
	SignalWorkflow(ctx context.Context, workflowID, runID, signalName string, arg any) error
}

// shardState is what a PollShard run has reported, kept in its heartbeat so
// a retry on another worker resumes without reporting everything again.
type shardState struct {
	Reported map[string]string    `json:"reported"` // watcher id -> hash of the fingerprint last signalled
	Missing  map[string]time.Time `json:"missing"`  // watcher id -> missing since
	Failures map[string]int       `json:"failures"` // tenant/sp -> consecutive refusals
	NextTry  map[string]time.Time `json:"nextTry"`  // tenant/sp -> backoff
	Polls    int64                `json:"polls"`
	Signals  int64                `json:"signals"`
}

// watched is one running watcher of this shard.
type watched struct {
	id     string
	target wf.WatchTarget
}

// PollShard polls this shard's watched jobs once per interval until the
// refresh interval ends the run: one Graph list per service principal, and a
// signal to a watcher only when something it acts on changed. An unchanged
// poll is not an error: nothing is logged, nothing fails.
func (a *Activities) PollShard(ctx context.Context, in wf.PollShardInput) (wf.PollShardResult, error) {
	cfg := a.Watch.WithDefaults()
	if in.Shard >= cfg.Shards {
		return wf.PollShardResult{Retired: true}, nil
	}
	if a.Registry == nil {
		return wf.PollShardResult{}, errors.New("this worker has no Temporal client for watching")
	}
	st := shardState{}
	if activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &st)
	}
	st.init()
	ends := time.Now().Add(cfg.Refresh)
	for {
		began := time.Now()
		// A pass over many service principals can outlast the heartbeat
		// timeout: beat during it too, with the state of the last whole pass
		// (a retry resumes from there; watchers ignore a repeated report).
		last, err := json.Marshal(st)
		if err != nil {
			return wf.PollShardResult{}, err
		}
		beat := func() { activity.RecordHeartbeat(ctx, json.RawMessage(last)) }
		if err := a.pollShardOnce(ctx, in.Shard, cfg, &st, beat); err != nil && ctx.Err() == nil {
			a.log().Warn("watch poll incomplete", zap.Int("shard", in.Shard), zap.Error(err))
		}
		activity.RecordHeartbeat(ctx, st)
		if time.Now().After(ends) {
			return wf.PollShardResult{Polls: st.Polls, Signals: st.Signals}, nil
		}
		t := time.NewTimer(cfg.Interval - time.Since(began))
		select {
		case <-ctx.Done():
			t.Stop()
			return wf.PollShardResult{}, ctx.Err()
		case <-t.C:
		}
	}
}

func (st *shardState) init() {
	if st.Reported == nil {
		st.Reported = map[string]string{}
	}
	if st.Missing == nil {
		st.Missing = map[string]time.Time{}
	}
	if st.Failures == nil {
		st.Failures = map[string]int{}
	}
	if st.NextTry == nil {
		st.NextTry = map[string]time.Time{}
	}
}

// pollShardOnce is one interval's pass.
func (a *Activities) pollShardOnce(ctx context.Context, shard int, cfg WatchConfig, st *shardState, beat func()) error {
	ws, err := a.watchers(ctx, taskQueue(ctx), shard, cfg.Shards)
	if err != nil {
		return err
	}
	bySP := map[string][]watched{}
	live := map[string]bool{}
	for _, w := range ws {
		k := w.target.ServicePrincipalKey()
		bySP[k] = append(bySP[k], w)
		live[w.id] = true
	}
	// Watchers that ended are no longer registered.
	for id := range st.Reported {
		if !live[id] {
			delete(st.Reported, id)
			delete(st.Missing, id)
		}
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(cfg.Concurrency)
	now := time.Now().UTC()
	for key, group := range bySP {
		mu.Lock()
		skip := now.Before(st.NextTry[key])
		mu.Unlock()
		if skip {
			continue
		}
		g.Go(func() error {
			statuses := a.pollServicePrincipal(gctx, key, group, cfg, st, &mu)
			for _, w := range group {
				s, ok := statuses[w.id]
				if !ok {
					continue
				}
				a.report(gctx, w, s, st, &mu)
			}
			mu.Lock()
			beat()
			mu.Unlock()
			return nil
		})
	}
	_ = g.Wait()
	st.Polls++
	return ctx.Err()
}

// pollServicePrincipal lists one service principal's jobs and says what each
// watcher of it should know (nothing for a transient failure).
func (a *Activities) pollServicePrincipal(ctx context.Context, key string, group []watched, cfg WatchConfig, st *shardState, mu *sync.Mutex) map[string]wf.JobStatus {
	t := group[0].target
	now := time.Now().UTC()
	out := map[string]wf.JobStatus{}
	var jobs []graph.Job
	c, err := a.Graph.ForTenant(t.TenantID)
	if err == nil {
		jobs, err = c.ListJobs(ctx, t.ServicePrincipalID)
	}
	mu.Lock()
	defer mu.Unlock()
	if err != nil && !graph.IsNotFound(err) {
		if transient(err) {
			return out
		}
		st.Failures[key]++
		n := st.Failures[key]
		if n < cfg.UnreachableAfter {
			return out
		}
		backoff := cfg.Interval << min(n-cfg.UnreachableAfter, 10)
		st.NextTry[key] = now.Add(min(backoff, cfg.MaxBackoff))
		msg := unreachableMessage(err)
		for _, w := range group {
			out[w.id] = wf.JobStatus{Unreachable: msg, ObservedAt: now}
		}
		return out
	}
	delete(st.Failures, key)
	delete(st.NextTry, key)
	byID := map[string]graph.Job{}
	for _, j := range jobs { // a 404 (service principal gone) leaves it empty
		byID[j.ID] = j
	}
	for _, w := range group {
		j, ok := byID[w.target.JobID]
		if ok {
			delete(st.Missing, w.id)
			s := statusOf(j)
			s.ObservedAt = now
			out[w.id] = s
			continue
		}
		since, seen := st.Missing[w.id]
		if !seen {
			since = now
			st.Missing[w.id] = now
		}
		out[w.id] = wf.JobStatus{Missing: true, MissingSince: since, Gone: now.Sub(since) >= cfg.GoneAfter, ObservedAt: now}
	}
	return out
}

// report signals a watcher when what it acts on changed.
func (a *Activities) report(ctx context.Context, w watched, s wf.JobStatus, st *shardState, mu *sync.Mutex) {
	fp := fingerprintHash(s)
	mu.Lock()
	same := st.Reported[w.id] == fp
	mu.Unlock()
	if same {
		return
	}
	err := a.Registry.SignalWorkflow(ctx, w.id, "", wf.ObservedSignal, s)
	mu.Lock()
	defer mu.Unlock()
	var nf *serviceerror.NotFound
	switch {
	case err == nil:
		st.Reported[w.id] = fp
		st.Signals++
	case errors.As(err, &nf):
		delete(st.Reported, w.id) // the watcher ended meanwhile
	default:
		a.log().Warn("could not signal a watcher; retried next interval", zap.String("workflowId", w.id), zap.Error(err))
	}
}

// taskQueue is the poller's own: it watches only the watchers of its
// deployment (another one may share the namespace with other credentials).
func taskQueue(ctx context.Context) string {
	if activity.IsActivity(ctx) {
		return activity.GetInfo(ctx).TaskQueue
	}
	return wf.TaskQueue
}

// watchers lists this shard's running watchers from visibility: a running
// WatchSyncJob with its memo is a registration.
func (a *Activities) watchers(ctx context.Context, taskQueue string, shard, shards int) ([]watched, error) {
	dc := a.Converter
	if dc == nil {
		dc = converter.GetDefaultDataConverter()
	}
	var out []watched
	var token []byte
	for {
		resp, err := a.Registry.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query:         fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus = 'Running' AND TaskQueue = '%s'", wf.WatchSyncJobWorkflow, taskQueue),
			PageSize:      1000,
			NextPageToken: token,
		})
		if err != nil {
			return nil, fmt.Errorf("list watchers: %w", err)
		}
		for _, e := range resp.GetExecutions() {
			p := e.GetMemo().GetFields()[wf.WatchMemoKey]
			var t wf.WatchTarget
			if p == nil || dc.FromPayload(p, &t) != nil || t.ServicePrincipalID == "" || t.JobID == "" {
				continue // not registered yet: its first workflow task adds the memo
			}
			// A service principal's jobs share a shard: one list serves them all.
			if wf.ShardOf(t.ServicePrincipalKey(), shards) != shard {
				continue
			}
			out = append(out, watched{id: e.GetExecution().GetWorkflowId(), target: t})
		}
		token = resp.GetNextPageToken()
		if len(token) == 0 {
			return out, nil
		}
	}
}

func fingerprintHash(s wf.JobStatus) string {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s.Fingerprint()))
	return hex.EncodeToString(h.Sum(nil))
}

// transient failures are retried at the next interval without telling anyone.
func transient(err error) bool {
	ge, ok := graph.AsError(err)
	if !ok {
		return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
	}
	switch ge.Kind {
	case graph.KindThrottled, graph.KindUnavailable, graph.KindTransport:
		return true
	}
	return false
}

func unreachableMessage(err error) string {
	if ge, ok := graph.AsError(err); ok {
		msg := fmt.Sprintf("%s (HTTP %d %s)", ge.Kind, ge.Status, ge.Code)
		if ge.Hint != "" {
			msg += ": " + ge.Hint
		}
		return msg
	}
	return "unexpected answer: " + err.Error()
}
