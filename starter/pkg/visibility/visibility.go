// Package visibility reads cloudsync's workflows without asking them a
// query (each is a billed Temporal action): visibility listings, Describe,
// and the state each workflow publishes in its memo.
package visibility

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"

	"github.com/cloudsync/cloudsync/codec"
	"github.com/cloudsync/cloudsync/starter/pkg/cmdutil"
	"github.com/cloudsync/cloudsync/workflows"
)

// MaxListed bounds a visibility listing.
const MaxListed = 1000

// Execution is one workflow run as visibility lists it.
type Execution struct {
	ID, RunID, Type string
	Status          enums.WorkflowExecutionStatus
	Start           time.Time
	Close           time.Time
	Tenant, Domain  string
	Step, Outcome   string
	JobState        string
	Awaiting        bool
	// state is what a watcher publishes in its memo (nil: none, or stateErr
	// says why it cannot be read).
	State    *workflows.WatchState
	StateErr error
	// offboard is what an offboarding publishes in its memo.
	Offboard *workflows.OffboardState
	// drift is what a drift check publishes in its memo; driftSA its
	// CloudSyncDrift search attribute.
	Drift    *workflows.DriftState
	DriftErr error
	DriftSA  string
}

// Presented is the episode a running watcher presents, from its memo.
func (e Execution) Presented() (*workflows.Episode, bool) {
	if e.State == nil {
		return nil, false
	}
	return e.State.Presented, true
}

// AwaitingNow says whether a running watcher awaits a decision: its memo,
// else its search attribute.
func (e Execution) AwaitingNow() bool {
	if e.State != nil {
		return e.State.Phase == workflows.PhaseAwaitingApproval
	}
	return e.Awaiting
}

func (e Execution) Running() bool { return e.Status == enums.WORKFLOW_EXECUTION_STATUS_RUNNING }

// JobID is the job a watcher watches, from its workflow id.
func (e Execution) JobID() string { return WatcherJobID(e.ID) }

func WatcherJobID(workflowID string) string {
	if _, job, ok := workflows.ParseWatchWorkflowID(workflowID); ok {
		return job
	}
	return workflowID
}

func StatusWord(s enums.WorkflowExecutionStatus) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "WORKFLOW_EXECUTION_STATUS_"))
}

// Quoted quotes a value for a visibility query. Every value put in one has
// been validated (GUID, DNS name), so none holds a quote; one is dropped.
func Quoted(v string) string { return "'" + strings.ReplaceAll(v, "'", "") + "'" }

func WatchersQuery(tenant, domain string, runningOnly bool) string {
	q := "WorkflowType = " + Quoted(workflows.WatchSyncJobWorkflow)
	if tenant != "" {
		q += " AND CloudSyncTenant = " + Quoted(tenant)
	}
	if domain != "" {
		q += " AND CloudSyncDomain = " + Quoted(domain)
	}
	if runningOnly {
		q += " AND ExecutionStatus = 'Running'"
	}
	return q
}

// ListExecutions runs a visibility query, newest first. truncated says more
// than maxListed matched.
func (c *Conn) ListExecutions(ctx context.Context, query string) (out []Execution, truncated bool, err error) {
	lctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var token []byte
	for {
		resp, err := c.ListWorkflow(lctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: c.Namespace, PageSize: 200, NextPageToken: token, Query: query,
		})
		if err != nil {
			return nil, false, err
		}
		for _, info := range resp.GetExecutions() {
			if len(out) >= MaxListed {
				return out, true, nil
			}
			out = append(out, c.ExecutionOf(info))
		}
		token = resp.GetNextPageToken()
		if len(token) == 0 {
			return out, false, nil
		}
	}
}

// ExecutionOf is what a listing or a Describe says of one run, with the
// state a watcher publishes in its memo.
func (c *Conn) ExecutionOf(info *workflowpb.WorkflowExecutionInfo) Execution {
	dc := converter.GetDefaultDataConverter() // search attributes are never encoded
	fields := info.GetSearchAttributes().GetIndexedFields()
	kw := func(name string) string { return keyword(dc, fields[name]) }
	e := Execution{
		ID: info.GetExecution().GetWorkflowId(), RunID: info.GetExecution().GetRunId(), Type: info.GetType().GetName(),
		Status: info.GetStatus(), Start: info.GetStartTime().AsTime(),
		Tenant: kw("CloudSyncTenant"), Domain: kw("CloudSyncDomain"), Step: kw("CloudSyncStep"), Outcome: kw("CloudSyncOutcome"),
		JobState: kw("CloudSyncJobState"), Awaiting: boolean(dc, fields[workflows.SearchAwaitingApproval.GetName()]),
	}
	if info.GetCloseTime() != nil {
		e.Close = info.GetCloseTime().AsTime()
	}
	switch e.Type {
	case workflows.WatchSyncJobWorkflow:
		e.State, e.StateErr = c.WatchState(info.GetMemo())
	case workflows.OffboardTenantWorkflow:
		e.Offboard, e.StateErr = c.OffboardState(info.GetMemo())
	case workflows.WatchDriftWorkflow:
		e.DriftSA = kw(workflows.SearchDrift.GetName())
		e.Drift, e.DriftErr = c.DriftState(info.GetMemo())
	}
	return e
}

// boolean reads a Bool search attribute (false when unset).
func boolean(dc converter.DataConverter, p *commonpb.Payload) bool {
	var b bool
	return p != nil && dc.FromPayload(p, &b) == nil && b
}

func keyword(dc converter.DataConverter, p *commonpb.Payload) string {
	if p == nil {
		return ""
	}
	var s string
	if dc.FromPayload(p, &s) == nil {
		return s
	}
	var list []string
	if dc.FromPayload(p, &list) == nil {
		return strings.Join(list, ",")
	}
	return ""
}

// LatestRuns keeps the newest run of each workflow id (continue-as-new and
// re-runs leave older ones), running ones first, then by start time.
func LatestRuns(all []Execution) []Execution {
	best := map[string]Execution{}
	for _, e := range all {
		b, ok := best[e.ID]
		if !ok || e.Running() && !b.Running() || e.Running() == b.Running() && e.Start.After(b.Start) {
			best[e.ID] = e
		}
	}
	out := make([]Execution, 0, len(best))
	for _, e := range best {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Running() != b.Running() {
			return a.Running()
		}
		if a.Tenant != b.Tenant {
			return a.Tenant < b.Tenant
		}
		if a.Domain != b.Domain {
			return a.Domain < b.Domain
		}
		return a.ID < b.ID
	})
	return out
}

// WatchState reads the state a watcher publishes in its memo
// (workflows.WatchStateMemoKey): nil when it publishes none (a watcher
// started by an older worker). Reading it costs no Temporal action, unlike
// the status query.
func (c *Conn) WatchState(memo *commonpb.Memo) (*workflows.WatchState, error) {
	p := memo.GetFields()[workflows.WatchStateMemoKey]
	if p == nil {
		return nil, nil
	}
	var st workflows.WatchState
	if err := c.DC.FromPayload(p, &st); err != nil {
		return nil, c.PayloadError(err)
	}
	return &st, nil
}

// OffboardState reads the state an offboarding publishes in its memo
// (workflows.OffboardMemoKey): nil before its first publication.
func (c *Conn) OffboardState(memo *commonpb.Memo) (*workflows.OffboardState, error) {
	p := memo.GetFields()[workflows.OffboardMemoKey]
	if p == nil {
		return nil, nil
	}
	var st workflows.OffboardState
	if err := c.DC.FromPayload(p, &st); err != nil {
		return nil, c.PayloadError(err)
	}
	return &st, nil
}

// PayloadError explains a payload the starter cannot read: encrypted by the
// worker's codec while the starter has no keys.
func (c *Conn) PayloadError(err error) error {
	if errors.Is(err, converter.ErrEncodingIsNotSupported) || strings.Contains(err.Error(), codec.MetadataEncoding) {
		return fmt.Errorf("%w: %s", ErrNeedKeys, NeedKeysHint)
	}
	return err
}

// ErrNeedKeys marks a payload encrypted with keys the starter does not have.
var ErrNeedKeys = errors.New("the payload is encrypted")

const NeedKeysHint = "the worker encrypts payloads: give the starter the same keys (set CLOUDSYNC_CODEC_KEYS or CLOUDSYNC_CODEC_KEYS_FILE, and CLOUDSYNC_CODEC_KEY_ID; see starter --help)"

// DescribeWatcher reads one watcher with DescribeWorkflowExecution (no query).
func (c *Conn) DescribeWatcher(ctx context.Context, id string) (Execution, error) {
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	d, err := c.Describe(dctx, id, "")
	if err != nil {
		return Execution{}, err
	}
	return c.ExecutionOf(d.GetWorkflowExecutionInfo()), nil
}

// DriftState reads what a drift check publishes in its memo
// (workflows.DriftMemoKey): no query, so no billed action.
func (c *Conn) DriftState(memo *commonpb.Memo) (*workflows.DriftState, error) {
	p := memo.GetFields()[workflows.DriftMemoKey]
	if p == nil {
		return nil, nil
	}
	var st workflows.DriftState
	if err := c.DC.FromPayload(p, &st); err != nil {
		return nil, c.PayloadError(err)
	}
	return &st, nil
}

func DriftQuery(tenant, domain string) string {
	q := "WorkflowType = " + Quoted(workflows.WatchDriftWorkflow)
	if tenant != "" {
		q += " AND CloudSyncTenant = " + Quoted(tenant)
	}
	if domain != "" {
		q += " AND CloudSyncDomain = " + Quoted(domain)
	}
	return q
}

// NoWorkerHint says when no worker polls the task queue (so nothing can move
// and queries cannot be answered); empty when one does.
func (c *Conn) NoWorkerHint(ctx context.Context) (string, error) {
	d, err := c.DescribeTaskQueue(ctx, workflows.TaskQueue, enums.TASK_QUEUE_TYPE_WORKFLOW)
	if err != nil || len(d.GetPollers()) > 0 {
		return "", err
	}
	return fmt.Sprintf("no worker is polling task queue %q in namespace %s: start the cloudsync worker; the onboarding waits for it", workflows.TaskQueue, c.Namespace), nil
}

func RootCause(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

// Conn is a dialled client that reads the workflows.
type Conn struct {
	*cmdutil.Conn
}

// Dial connects with dial (a Factory's) and wraps the client.
func Dial(ctx context.Context, dial func(context.Context) (*cmdutil.Conn, error)) (*Conn, error) {
	c, err := dial(ctx)
	if err != nil {
		return nil, err
	}
	return &Conn{Conn: c}, nil
}
