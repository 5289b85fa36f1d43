package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

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

// floorInput is one floor onboarding.
type floorInput struct {
	Shape floorShape `json:"shape"`
	Index int        `json:"index"`
}

// floorOnboarding has an onboarding's shape and does nothing: the engine's
// cost of that shape. Each activity waits for the previous one (as the
// onboarding's steps do: each needs the last one's result); the children are
// started together (they are independent) and stay open, as watchers do.
func floorOnboarding(ctx workflow.Context, in floorInput) error {
	step := 0
	if err := workflow.SetQueryHandler(ctx, floorQuery, func() (int, error) { return step, nil }); err != nil {
		return err
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
	for step = 0; step < s.Activities; step++ {
		if upserts > 0 {
			upserts--
			_ = workflow.UpsertTypedSearchAttributes(ctx, workflows.SearchStep.ValueSet(fmt.Sprintf("floor-%d", step)))
		}
		if err := workflow.ExecuteActivity(ao, floorActivityName, step).Get(ctx, nil); err != nil {
			return err
		}
	}
	for range s.Timers {
		if err := workflow.Sleep(ctx, time.Millisecond); err != nil {
			return err
		}
	}
	info := workflow.GetInfo(ctx)
	var starts []workflow.Future
	for i := range s.Children {
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID:        fmt.Sprintf("%s-child-%d", info.WorkflowExecution.ID, i),
			ParentClosePolicy: enums.PARENT_CLOSE_POLICY_ABANDON,
			// The watchers' search attributes at start (visibility's share of a start).
			TypedSearchAttributes: temporal.NewSearchAttributes(workflows.SearchTenant.ValueSet(info.WorkflowExecution.ID),
				workflows.SearchDomain.ValueSet("floor.example.com"), workflows.SearchAwaitingApproval.ValueSet(false)),
		})
		starts = append(starts, workflow.ExecuteChildWorkflow(cctx, floorChildName).GetChildWorkflowExecution())
	}
	for _, f := range starts {
		if err := f.Get(ctx, nil); err != nil {
			return err
		}
	}
	for range upserts + last {
		_ = workflow.UpsertTypedSearchAttributes(ctx, workflows.SearchStep.ValueSet(workflows.StepDone), workflows.SearchOutcome.ValueSet(workflows.OnboardingCompleted))
	}
	for i := range s.Memos {
		_ = workflow.UpsertMemo(ctx, map[string]any{"floor": i})
	}
	return nil
}

// floorChild is a child that, like a watcher, stays open; unlike one it has
// nothing to do (one workflow task, no command). Ending at once would cost
// more than a watcher's start: a close, and the parent a completion event.
func floorChild(ctx workflow.Context) error {
	workflow.GetSignalChannel(ctx, "floor-never").Receive(ctx, nil)
	return nil
}

func floorStep(context.Context, int) error { return nil }

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
