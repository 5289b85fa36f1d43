package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"

	"github.com/cloudsync/cloudsync/codec"
	"github.com/cloudsync/cloudsync/starter/pkg/text"
	"github.com/cloudsync/cloudsync/workflows"
)

// maxListed bounds a visibility listing.
const maxListed = 1000

// execution is one workflow run as visibility lists it.
type execution struct {
	id, runID, typ string
	status         enums.WorkflowExecutionStatus
	start          time.Time
	close          time.Time
	tenant, domain string
	step, outcome  string
	jobState       string
	awaiting       bool
	// state is what a watcher publishes in its memo (nil: none, or stateErr
	// says why it cannot be read).
	state    *workflows.WatchState
	stateErr error
	// offboard is what an offboarding publishes in its memo.
	offboard *workflows.OffboardState
	// drift is what a drift check publishes in its memo; driftSA its
	// CloudSyncDrift search attribute.
	drift    *workflows.DriftState
	driftErr error
	driftSA  string
}

// presented is the episode a running watcher presents, from its memo.
func (e execution) presented() (*workflows.Episode, bool) {
	if e.state == nil {
		return nil, false
	}
	return e.state.Presented, true
}

// awaitingNow says whether a running watcher awaits a decision: its memo,
// else its search attribute.
func (e execution) awaitingNow() bool {
	if e.state != nil {
		return e.state.Phase == workflows.PhaseAwaitingApproval
	}
	return e.awaiting
}

func (e execution) running() bool { return e.status == enums.WORKFLOW_EXECUTION_STATUS_RUNNING }

// jobID is the job a watcher watches, from its workflow id.
func (e execution) jobID() string { return watcherJobID(e.id) }

func watcherJobID(workflowID string) string {
	if _, job, ok := workflows.ParseWatchWorkflowID(workflowID); ok {
		return job
	}
	return workflowID
}

func statusWord(s enums.WorkflowExecutionStatus) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "WORKFLOW_EXECUTION_STATUS_"))
}

// Visibility queries. Every value put in one has been validated (GUID, DNS
// name), so none holds a quote.
func quoted(v string) string { return "'" + strings.ReplaceAll(v, "'", "") + "'" }

func watchersQuery(tenant, domain string, runningOnly bool) string {
	q := "WorkflowType = " + quoted(workflows.WatchSyncJobWorkflow)
	if tenant != "" {
		q += " AND CloudSyncTenant = " + quoted(tenant)
	}
	if domain != "" {
		q += " AND CloudSyncDomain = " + quoted(domain)
	}
	if runningOnly {
		q += " AND ExecutionStatus = 'Running'"
	}
	return q
}

// listExecutions runs a visibility query, newest first. truncated says more
// than maxListed matched.
func listExecutions(ctx context.Context, c *conn, query string) (out []execution, truncated bool, err error) {
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
			if len(out) >= maxListed {
				return out, true, nil
			}
			out = append(out, c.executionOf(info))
		}
		token = resp.GetNextPageToken()
		if len(token) == 0 {
			return out, false, nil
		}
	}
}

// executionOf is what a listing or a Describe says of one run, with the
// state a watcher publishes in its memo.
func (c *conn) executionOf(info *workflowpb.WorkflowExecutionInfo) execution {
	dc := converter.GetDefaultDataConverter() // search attributes are never encoded
	fields := info.GetSearchAttributes().GetIndexedFields()
	kw := func(name string) string { return keyword(dc, fields[name]) }
	e := execution{
		id: info.GetExecution().GetWorkflowId(), runID: info.GetExecution().GetRunId(), typ: info.GetType().GetName(),
		status: info.GetStatus(), start: info.GetStartTime().AsTime(),
		tenant: kw("CloudSyncTenant"), domain: kw("CloudSyncDomain"), step: kw("CloudSyncStep"), outcome: kw("CloudSyncOutcome"),
		jobState: kw("CloudSyncJobState"), awaiting: boolean(dc, fields[workflows.SearchAwaitingApproval.GetName()]),
	}
	if info.GetCloseTime() != nil {
		e.close = info.GetCloseTime().AsTime()
	}
	switch e.typ {
	case workflows.WatchSyncJobWorkflow:
		e.state, e.stateErr = c.watchState(info.GetMemo())
	case workflows.OffboardTenantWorkflow:
		e.offboard, e.stateErr = c.offboardState(info.GetMemo())
	case workflows.WatchDriftWorkflow:
		e.driftSA = kw(workflows.SearchDrift.GetName())
		e.drift, e.driftErr = c.driftState(info.GetMemo())
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

// latestRuns keeps the newest run of each workflow id (continue-as-new and
// re-runs leave older ones), running ones first, then by start time.
func latestRuns(all []execution) []execution {
	best := map[string]execution{}
	for _, e := range all {
		b, ok := best[e.id]
		if !ok || e.running() && !b.running() || e.running() == b.running() && e.start.After(b.start) {
			best[e.id] = e
		}
	}
	out := make([]execution, 0, len(best))
	for _, e := range best {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.running() != b.running() {
			return a.running()
		}
		if a.tenant != b.tenant {
			return a.tenant < b.tenant
		}
		if a.domain != b.domain {
			return a.domain < b.domain
		}
		return a.id < b.id
	})
	return out
}

// watchState reads the state a watcher publishes in its memo
// (workflows.WatchStateMemoKey): nil when it publishes none (a watcher
// started by an older worker). Reading it costs no Temporal action, unlike
// the status query.
func (c *conn) watchState(memo *commonpb.Memo) (*workflows.WatchState, error) {
	p := memo.GetFields()[workflows.WatchStateMemoKey]
	if p == nil {
		return nil, nil
	}
	var st workflows.WatchState
	if err := c.DC.FromPayload(p, &st); err != nil {
		return nil, c.payloadError(err)
	}
	return &st, nil
}

// offboardState reads the state an offboarding publishes in its memo
// (workflows.OffboardMemoKey): nil before its first publication.
func (c *conn) offboardState(memo *commonpb.Memo) (*workflows.OffboardState, error) {
	p := memo.GetFields()[workflows.OffboardMemoKey]
	if p == nil {
		return nil, nil
	}
	var st workflows.OffboardState
	if err := c.DC.FromPayload(p, &st); err != nil {
		return nil, c.payloadError(err)
	}
	return &st, nil
}

// payloadError explains a payload the starter cannot read: encrypted by the
// worker's codec while the starter has no keys.
func (c *conn) payloadError(err error) error {
	if errors.Is(err, converter.ErrEncodingIsNotSupported) || strings.Contains(err.Error(), codec.MetadataEncoding) {
		return fmt.Errorf("%w: %s", errNeedKeys, needKeysHint)
	}
	return err
}

// errNeedKeys marks a payload encrypted with keys the starter does not have.
var errNeedKeys = errors.New("the payload is encrypted")

const needKeysHint = "the worker encrypts payloads: give the starter the same keys (set CLOUDSYNC_CODEC_KEYS or CLOUDSYNC_CODEC_KEYS_FILE, and CLOUDSYNC_CODEC_KEY_ID; see starter --help)"

// describeWatcher reads one watcher with DescribeWorkflowExecution (no query).
func (c *conn) describeWatcher(ctx context.Context, id string) (execution, error) {
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	d, err := c.Describe(dctx, id, "")
	if err != nil {
		return execution{}, err
	}
	return c.executionOf(d.GetWorkflowExecutionInfo()), nil
}

// printWatcher prints one watcher.
func printWatcher(w io.Writer, indent string, v watcherView) {
	row := func(k, val string) {
		if val != "" {
			fmt.Fprintf(w, "%s%-16s %s\n", indent, k+":", val)
		}
	}
	row("job id", v.JobID)
	row("tenant", v.TenantID)
	row("domain", v.Domain)
	row("workflow id", v.WorkflowID)
	st := v.Status
	if v.Closed != nil {
		st += " at " + v.Closed.Local().Format(time.RFC3339)
	}
	row("status", st)
	if v.State == nil && v.StateError != "" {
		row("phase", "unknown: "+v.StateError)
	}
	if v.State == nil {
		// What the search attributes say.
		if v.running && v.AwaitingApproval {
			row("awaiting", "deletions held back: awaits an approval (starter approve) or a rejection (starter reject)")
		}
		row("job status", v.JobState)
	} else {
		printWatchState(row, *v.State)
	}
	row("started", v.Started.Local().Format(time.RFC3339))
	row("web ui", v.WebUI)
}

func printWatchState(row func(k, v string), s workflows.WatchState) {
	row("phase", s.Phase)
	j := s.Job
	if !j.ObservedAt.IsZero() || j.StatusCode != "" {
		js := fmt.Sprintf("schedule %s, status %s", orDash(j.ScheduleState), orDash(j.StatusCode))
		switch {
		case j.Gone:
			js = "deleted (the job or its service principal)"
		case j.Missing:
			js = "not in its service principal's job list since " + j.MissingSince.Local().Format(time.RFC3339)
		case j.Unreachable != "":
			js = "unreachable: " + text.OneLine(j.Unreachable)
		}
		row("job status", js)
	} else {
		row("job status", "not observed yet")
	}
	if j.QuarantineReason != "" {
		q := j.QuarantineReason
		if j.QuarantineError != "" {
			q += " (" + j.QuarantineError + ")"
		}
		if j.QuarantineMessage != "" {
			q += ": " + text.OneLine(j.QuarantineMessage)
		}
		if !j.SeriesBegan.IsZero() {
			q += ", series began " + j.SeriesBegan.Local().Format(time.RFC3339)
		}
		if !j.QuarantineSince.IsZero() {
			q += ", last evaluated " + j.QuarantineSince.Local().Format(time.RFC3339)
		}
		row("quarantine", q)
	}
	if j.LastExecutionState != "" {
		le := j.LastExecutionState
		if !j.LastExecutionEnded.IsZero() {
			le += ", ended " + j.LastExecutionEnded.Local().Format(time.RFC3339)
		}
		if j.LastExecutionError != "" {
			le += ": " + text.OneLine(j.LastExecutionError)
		}
		row("last run", le)
	}
	if s.Presented != nil {
		row("awaiting decision", "episode "+s.Presented.ID()+" (starter approve/reject act on this episode only)")
	}
	row("advice", text.OneLine(s.Advice))
	if !s.AwaitingSince.IsZero() && s.Phase == workflows.PhaseAwaitingApproval {
		row("awaiting since", fmt.Sprintf("%s (%s ago)", s.AwaitingSince.Local().Format(time.RFC3339), time.Since(s.AwaitingSince).Round(time.Second)))
	}
	if s.Reminders > 0 {
		row("reminders", fmt.Sprint(s.Reminders))
	}
	for i := max(0, len(s.Decisions)-3); i < len(s.Decisions); i++ {
		row("decision", decisionLine(s.Decisions[i]))
	}
	row("outcome", s.Outcome)
	if !j.ObservedAt.IsZero() {
		row("observed", fmt.Sprintf("%s (%d changes reported, run %d)", j.ObservedAt.Local().Format(time.RFC3339), s.Observations, s.Runs))
	}
	if s.Silent {
		row("poller", "silent since "+s.LastHeard.Local().Format(time.RFC3339)+": is a worker running?")
	}
}

func decisionLine(d workflows.Decision) string {
	// "approved by" only for a decision that settled its episode; one that
	// was not acted upon, refused or failed reads "approval by …: <outcome>".
	verb := "rejected"
	switch {
	case d.Resume:
		verb = "start asked"
	case d.Approve:
		verb = "approved"
	}
	if d.Outcome != "" && !d.Acted() {
		verb = "rejection"
		if d.Approve {
			verb = "approval"
		}
	}
	s := fmt.Sprintf("%s by %s (%s)", verb, orDash(d.Approver), text.OneLine(d.Reason))
	if d.Episode != "" {
		s += " for episode " + d.Episode
	}
	if !d.At.IsZero() {
		s += " at " + d.At.Local().Format(time.RFC3339)
	}
	if d.Outcome != "" {
		s += ": " + text.OneLine(d.Outcome)
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
