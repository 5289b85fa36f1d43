package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/cloudsync/cloudsync/workflows"
)

// The engine floor: a workflow with an onboarding's shape (the same commands,
// counted by type, from a real onboarding's history) whose activities do
// nothing, run on the same server as the fleet, so the fleet's cost can be
// read as a multiple of what the engine needs for that shape of work. It is
// registered only by the bench's own floor worker, never by cmd/worker.
const (
	floorTaskQueue    = "cloudsync-bench-floor"
	floorWorkflowName = "CloudSyncFloorOnboarding"
	floorChildName    = "CloudSyncFloorChild"
	floorActivityName = "CloudSyncFloorStep"
	floorQuery        = "progress"
)

// floorShape is what an onboarding asks of the engine, by command. The floor
// workflow issues exactly these: Activities no-op activities one after another
// (an onboarding's steps each need the previous one's result), Upserts search
// attribute upserts (one before each of the first activities, one with the
// completion, as the onboarding does), Versions GetVersion calls (a marker and
// the SDK's TemporalChangeVersion upsert each), Children child workflows
// started together, Timers and Memos.
type floorShape struct {
	Activities int `json:"activities"`
	Upserts    int `json:"upserts"`
	Versions   int `json:"versions"`
	Children   int `json:"children"`
	Timers     int `json:"timers"`
	Memos      int `json:"memos"`
}

func (s floorShape) String() string {
	return fmt.Sprintf("%d activities, %d search attribute upserts, %d GetVersion (marker + its upsert), %d child starts, %d timers, %d memo upserts",
		s.Activities, s.Upserts, s.Versions, s.Children, s.Timers, s.Memos)
}

// commandOf names the command that wrote an event ("" for events no command
// writes: workflow and activity task progress, child started, signals...).
func commandOf(t enums.EventType) string {
	switch t {
	case enums.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
		return "ScheduleActivityTask"
	case enums.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED:
		return "RequestCancelActivityTask"
	case enums.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
		return "UpsertWorkflowSearchAttributes"
	case enums.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED:
		return "ModifyWorkflowProperties"
	case enums.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
		return "StartChildWorkflowExecution"
	case enums.EVENT_TYPE_MARKER_RECORDED:
		return "RecordMarker"
	case enums.EVENT_TYPE_TIMER_STARTED:
		return "StartTimer"
	case enums.EVENT_TYPE_TIMER_CANCELED:
		return "CancelTimer"
	case enums.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED:
		return "SignalExternalWorkflowExecution"
	case enums.EVENT_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED:
		return "RequestCancelExternalWorkflowExecution"
	case enums.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
		return "CompleteWorkflowExecution"
	case enums.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
		return "FailWorkflowExecution"
	case enums.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED:
		return "CancelWorkflowExecution"
	case enums.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
		return "ContinueAsNewWorkflowExecution"
	case enums.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED, enums.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
		return "ProtocolMessage"
	case enums.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED:
		return "ScheduleNexusOperation"
	}
	return ""
}

// commandCounts counts a history's commands by type (read from the events
// they wrote).
func commandCounts(events []*historypb.HistoryEvent) map[string]int {
	out := map[string]int{}
	for _, ev := range events {
		if c := commandOf(ev.GetEventType()); c != "" {
			out[c]++
		}
	}
	return out
}

func isVersionUpsert(ev *historypb.HistoryEvent) bool {
	f := ev.GetUpsertWorkflowSearchAttributesEventAttributes().GetSearchAttributes().GetIndexedFields()
	_, ok := f["TemporalChangeVersion"]
	return ok && len(f) == 1
}

// shapeOf reads an onboarding's shape from its history. It refuses a history
// with a command the floor does not issue (the floor would then be cheaper
// than the real thing for a reason nobody would see): teach floorOnboarding
// that command first.
func shapeOf(events []*historypb.HistoryEvent) (floorShape, error) {
	var s floorShape
	var unknown []string
	for _, ev := range events {
		switch ev.GetEventType() {
		case enums.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			s.Activities++
		case enums.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
			if !isVersionUpsert(ev) {
				s.Upserts++
			}
		case enums.EVENT_TYPE_MARKER_RECORDED:
			if name := ev.GetMarkerRecordedEventAttributes().GetMarkerName(); name == "Version" {
				s.Versions++
			} else {
				unknown = append(unknown, "marker "+name)
			}
		case enums.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
			s.Children++
		case enums.EVENT_TYPE_TIMER_STARTED:
			s.Timers++
		case enums.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED:
			s.Memos++
		case enums.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
		default:
			if c := commandOf(ev.GetEventType()); c != "" {
				unknown = append(unknown, c)
			}
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return s, fmt.Errorf("the floor workflow does not issue %s (bench/floor.go): an onboarding's history has them", strings.Join(unknown, ", "))
	}
	if s.Activities == 0 {
		return s, fmt.Errorf("no activity in the history: not an onboarding")
	}
	return s, nil
}

// floorInput is one floor onboarding. Extras is nil for the floor itself.
type floorInput struct {
	Shape  floorShape   `json:"shape"`
	Index  int          `json:"index"`
	Extras *floorExtras `json:"extras,omitempty"`
	Pad    string       `json:"pad,omitempty"` // the onboarding's input size (Extras)
}

// floorExtras are what an onboarding carries beyond its commands, for the
// "floor plus" run that says how much of the fleet's cost above the floor
// they account for: the payload bytes of its input, result and activities,
// of its children's inputs and memos, the heartbeats its activities record
// and the timer each watcher starts.
type floorExtras struct {
	WorkflowInput  int           `json:"workflowInputBytes"`
	WorkflowResult int           `json:"workflowResultBytes"`
	ActivityInput  []int         `json:"activityInputBytes"`
	ActivityResult []int         `json:"activityResultBytes"`
	ChildInput     []int         `json:"childInputBytes"`
	ChildMemo      []int         `json:"childMemoBytes"`
	Heartbeats     int           `json:"heartbeats"`
	ChildTimer     time.Duration `json:"childTimerNs"`
}

func (e floorExtras) String() string {
	sum := func(xs []int) int {
		t := 0
		for _, x := range xs {
			t += x
		}
		return t
	}
	return fmt.Sprintf("payloads %d B (workflow %d + %d, activities %d + %d, children %d + memo %d), %d heartbeat(s), child timer %s",
		e.WorkflowInput+e.WorkflowResult+sum(e.ActivityInput)+sum(e.ActivityResult)+sum(e.ChildInput)+sum(e.ChildMemo),
		e.WorkflowInput, e.WorkflowResult, sum(e.ActivityInput), sum(e.ActivityResult), sum(e.ChildInput), sum(e.ChildMemo), e.Heartbeats, e.ChildTimer)
}

func payloadBytes(p *commonpb.Payloads) int {
	n := 0
	for _, x := range p.GetPayloads() {
		n += len(x.GetData())
	}
	return n
}

func memoBytes(m *commonpb.Memo) int {
	n := 0
	for _, x := range m.GetFields() {
		n += len(x.GetData())
	}
	return n
}

// extrasOf reads an onboarding's extras from its history and one of its
// watchers' (the first timer a watcher starts), with the heartbeats per
// onboarding the server counted.
func extrasOf(events, watcher []*historypb.HistoryEvent, heartbeats float64) floorExtras {
	e := floorExtras{Heartbeats: int(heartbeats + 0.5)}
	results := map[int64]int{}
	var scheduled []int64
	for _, ev := range events {
		switch ev.GetEventType() {
		case enums.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
			e.WorkflowInput = payloadBytes(ev.GetWorkflowExecutionStartedEventAttributes().GetInput())
		case enums.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
			e.WorkflowResult = payloadBytes(ev.GetWorkflowExecutionCompletedEventAttributes().GetResult())
		case enums.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			e.ActivityInput = append(e.ActivityInput, payloadBytes(ev.GetActivityTaskScheduledEventAttributes().GetInput()))
			scheduled = append(scheduled, ev.GetEventId())
		case enums.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			a := ev.GetActivityTaskCompletedEventAttributes()
			results[a.GetScheduledEventId()] = payloadBytes(a.GetResult())
		case enums.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
			a := ev.GetStartChildWorkflowExecutionInitiatedEventAttributes()
			e.ChildInput = append(e.ChildInput, payloadBytes(a.GetInput()))
			e.ChildMemo = append(e.ChildMemo, memoBytes(a.GetMemo()))
		}
	}
	for _, id := range scheduled {
		e.ActivityResult = append(e.ActivityResult, results[id])
	}
	for _, ev := range watcher {
		if ev.GetEventType() == enums.EVENT_TYPE_TIMER_STARTED {
			e.ChildTimer = ev.GetTimerStartedEventAttributes().GetStartToFireTimeout().AsDuration()
			break
		}
	}
	return e
}

// newFloorInput is the i-th floor onboarding's input; with extras, padded
// to the onboarding's input size when that is larger than the input itself.
func newFloorInput(shape floorShape, i int, extras *floorExtras) floorInput {
	in := floorInput{Shape: shape, Index: i, Extras: extras}
	if extras != nil {
		b, _ := json.Marshal(in)
		in.Pad = pad(extras.WorkflowInput - len(b) - len(`,"pad":""`))
	}
	return in
}

// floorStepInput is a floor activity's input; the pad and the result size
// only in the floor plus.
type floorStepInput struct {
	Step        int    `json:"step"`
	Pad         string `json:"pad,omitempty"`
	ResultBytes int    `json:"resultBytes,omitempty"`
	Heartbeat   bool   `json:"heartbeat,omitempty"`
}

// floorChildInput is a floor child's input (floor plus: pad and timer).
type floorChildInput struct {
	Pad   string        `json:"pad,omitempty"`
	Timer time.Duration `json:"timer,omitempty"`
}

// pad is n bytes of JSON string content (the quotes and field name aside).
func pad(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("x", n)
}

func at(xs []int, i int) int {
	if i < len(xs) {
		return xs[i]
	}
	return 0
}

// floorOnboarding has an onboarding's shape and does nothing: the engine's
// cost of that shape. Each activity waits for the previous one (as the
// onboarding's steps do: each needs the last one's result); the children are
// started together (they are independent) and stay open, as watchers do.
func floorOnboarding(ctx workflow.Context, in floorInput) (string, error) {
	step := 0
	if err := workflow.SetQueryHandler(ctx, floorQuery, func() (int, error) { return step, nil }); err != nil {
		return "", err
	}
	s := in.Shape
	for i := range s.Versions {
		workflow.GetVersion(ctx, fmt.Sprintf("floor-%d", i), workflow.DefaultVersion, 1)
	}
	upserts := s.Upserts
	last := min(upserts, 1) // the one that goes with the completion
	upserts -= last
	ao := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
	})
	x := in.Extras
	for step = 0; step < s.Activities; step++ {
		if upserts > 0 {
			upserts--
			_ = workflow.UpsertTypedSearchAttributes(ctx, workflows.SearchStep.ValueSet(fmt.Sprintf("floor-%d", step)))
		}
		si := floorStepInput{Step: step}
		if x != nil {
			si.Pad, si.ResultBytes = pad(at(x.ActivityInput, step)-30), at(x.ActivityResult, step)
			si.Heartbeat = step >= 1 && step <= x.Heartbeats // the onboarding's is its second step's
		}
		if err := workflow.ExecuteActivity(ao, floorActivityName, si).Get(ctx, nil); err != nil {
			return "", err
		}
	}
	for range s.Timers {
		if err := workflow.Sleep(ctx, time.Millisecond); err != nil {
			return "", err
		}
	}
	info := workflow.GetInfo(ctx)
	var starts []workflow.Future
	for i := range s.Children {
		co := workflow.ChildWorkflowOptions{
			WorkflowID:        fmt.Sprintf("%s-child-%d", info.WorkflowExecution.ID, i),
			ParentClosePolicy: enums.PARENT_CLOSE_POLICY_ABANDON,
			// The watchers' search attributes at start (visibility's share of a start).
			TypedSearchAttributes: workflows.WatchSearchAttributes(workflows.WatchInput{TenantID: info.WorkflowExecution.ID, Domain: "floor.example.com"}),
		}
		var ci floorChildInput
		if x != nil {
			co.Memo = map[string]any{"pad": pad(at(x.ChildMemo, i) - 2)}
			ci = floorChildInput{Pad: pad(at(x.ChildInput, i) - 30), Timer: x.ChildTimer}
		}
		starts = append(starts, workflow.ExecuteChildWorkflow(workflow.WithChildOptions(ctx, co), floorChildName, ci).GetChildWorkflowExecution())
	}
	for _, f := range starts {
		if err := f.Get(ctx, nil); err != nil {
			return "", err
		}
	}
	for range upserts + last {
		_ = workflow.UpsertTypedSearchAttributes(ctx, workflows.SearchStep.ValueSet(workflows.StepDone), workflows.SearchOutcome.ValueSet(workflows.OnboardingCompleted))
	}
	for i := range s.Memos {
		_ = workflow.UpsertMemo(ctx, map[string]any{"floor": i})
	}
	if x != nil {
		return pad(x.WorkflowResult - 2), nil
	}
	return "", nil
}

// floorChild is a child that, like a watcher, stays open; unlike one it has
// nothing to do (one workflow task, no command). Ending at once would cost
// more than a watcher's start: a close, and the parent a completion event.
func floorChild(ctx workflow.Context, in floorChildInput) error {
	if in.Timer > 0 {
		workflow.NewTimer(ctx, in.Timer) // as a watcher's: it need not fire for the child to wait
	}
	workflow.GetSignalChannel(ctx, "floor-never").Receive(ctx, nil)
	return nil
}

func floorStep(ctx context.Context, in floorStepInput) (string, error) {
	if in.Heartbeat {
		activity.RecordHeartbeat(ctx)
	}
	return pad(in.ResultBytes - 2), nil
}

func registerFloor(r worker.Registry) {
	r.RegisterWorkflowWithOptions(floorOnboarding, workflow.RegisterOptions{Name: floorWorkflowName})
	r.RegisterWorkflowWithOptions(floorChild, workflow.RegisterOptions{Name: floorChildName})
	r.RegisterActivityWithOptions(floorStep, activity.RegisterOptions{Name: floorActivityName})
}

// floorWorkerOptions are cmd/worker's defaults (worker/main.go workerOptions,
// worker/config.go): 200 activities and 100 workflow tasks at once, pollers
// scaled by the SDK. The floor's worker must not be tuned better than ours.
func floorWorkerOptions() worker.Options {
	return worker.Options{
		MaxConcurrentActivityExecutionSize:     200,
		MaxConcurrentWorkflowTaskExecutionSize: 100,
		WorkflowTaskPollerBehavior:             worker.NewPollerBehaviorAutoscaling(worker.PollerBehaviorAutoscalingOptions{}),
		ActivityTaskPollerBehavior:             worker.NewPollerBehaviorAutoscaling(worker.PollerBehaviorAutoscalingOptions{}),
	}
}

// floorStartOptions are the starter's for an onboarding (deterministic id,
// the same four search attributes at start, duplicates refused) on the
// floor's task queue.
func floorStartOptions(phase string, i int) client.StartWorkflowOptions {
	tenant := benchTenant(phase, i)
	return client.StartWorkflowOptions{
		ID:                       "floor-" + tenant,
		TaskQueue:                floorTaskQueue,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:    enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			workflows.SearchTenant.ValueSet(tenant), workflows.SearchDomain.ValueSet(fmt.Sprintf("t%d.floor.example.com", i)),
			workflows.SearchOutcome.ValueSet(workflows.OnboardingRunning), workflows.SearchStep.ValueSet(workflows.StepTenantSyncFlag)),
	}
}
