package main

import (
	"context"

	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
)

// history fetches every event of a workflow run.
func history(ctx context.Context, c client.Client, id, runID string) ([]*historypb.HistoryEvent, error) {
	it := c.GetWorkflowHistory(ctx, id, runID, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var out []*historypb.HistoryEvent
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return out, err
		}
		out = append(out, ev)
	}
	return out, nil
}

// actionCount is a history's billable actions by Temporal Cloud's published
// rules (docs.temporal.io/cloud/actions), by kind.
type actionCount struct {
	Total int            `json:"total"`
	Kinds map[string]int `json:"kinds"`
}

func (a *actionCount) add(kind string, n int) {
	if n <= 0 {
		return
	}
	if a.Kinds == nil {
		a.Kinds = map[string]int{}
	}
	a.Kinds[kind] += n
	a.Total += n
}

// countActions counts a run's actions from its history:
//
//   - WorkflowExecutionStarted: 1 (a client start, a child start seen from the
//     child, or the start of a continued-as-new run);
//   - ActivityTaskScheduled: 1, plus one per retry: the attempt number of the
//     activity's last ActivityTaskStarted minus 1 (the server writes one
//     Started event per activity, for its last attempt);
//   - StartChildWorkflowExecutionInitiated: 2 (the command and the child's start);
//   - WorkflowPropertiesModified (a memo upsert), TimerStarted,
//     WorkflowExecutionSignaled, WorkflowExecutionUpdateAccepted: 1 each;
//   - UpsertWorkflowSearchAttributes: 1, except one that sets only
//     TemporalChangeVersion (GetVersion's own upsert, exempt);
//   - MarkerRecorded: SideEffect and MutableSideEffect markers 1 each,
//     version markers 0, local activities 1 per workflow task that ran any.
//
// Not in a history, so counted elsewhere: heartbeats that reach the server,
// queries, rejected updates (from the dev server's own metrics).
//
// When the run is still open, pendingAttempts adds the attempts of activities
// still running or waiting to retry (from DescribeWorkflowExecution).
func countActions(events []*historypb.HistoryEvent, pendingAttempts map[int64]int32) actionCount {
	var a actionCount
	lastAttempt := map[int64]int32{} // scheduled event id -> attempt of its Started event
	localActivityTasks := map[int64]bool{}
	for _, ev := range events {
		switch ev.GetEventType() {
		case enums.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
			a.add("workflow started", 1)
		case enums.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			a.add("activity scheduled", 1)
			lastAttempt[ev.GetEventId()] = 0
		case enums.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			at := ev.GetActivityTaskStartedEventAttributes()
			lastAttempt[at.GetScheduledEventId()] = at.GetAttempt()
		case enums.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
			// Temporal Cloud bills the parent's command and the child's start
			// (the dev server's counter: StartChildWorkflowExecution + _Extra).
			a.add("child workflow started", 2)
		case enums.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED:
			a.add("memo upsert", 1)
		case enums.EVENT_TYPE_TIMER_STARTED:
			a.add("timer started", 1)
		case enums.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
			a.add("signal", 1)
		case enums.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
			a.add("update", 1)
		case enums.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
			fields := ev.GetUpsertWorkflowSearchAttributesEventAttributes().GetSearchAttributes().GetIndexedFields()
			if _, ok := fields["TemporalChangeVersion"]; ok && len(fields) == 1 {
				continue
			}
			a.add("search attribute upsert", 1)
		case enums.EVENT_TYPE_MARKER_RECORDED:
			m := ev.GetMarkerRecordedEventAttributes()
			switch m.GetMarkerName() {
			case "SideEffect", "MutableSideEffect":
				a.add("side effect", 1)
			case "LocalActivity":
				localActivityTasks[m.GetWorkflowTaskCompletedEventId()] = true
			}
		}
	}
	for id, attempt := range lastAttempt {
		if p, ok := pendingAttempts[id]; ok && p > attempt {
			attempt = p
		}
		if attempt > 1 {
			a.add("activity retry", int(attempt-1))
		}
	}
	a.add("local activities (per workflow task)", len(localActivityTasks))
	return a
}
