package workflows

import (
	"fmt"

	enums "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// OnboardStartOptions are the start options of an onboarding (the starter's,
// the bench's): a deterministic id per tenant and domain, a second start
// refused while one runs, and the search attributes set at start, which is
// free where an upsert is a billed action.
func OnboardStartOptions(spec TenantSpec) client.StartWorkflowOptions {
	n := spec.Normalized()
	return client.StartWorkflowOptions{
		ID:                       OnboardWorkflowID(n.TenantID, n.Domain),
		TaskQueue:                TaskQueue,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:    enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		// Without this the SDK hands back the running execution instead of an error.
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			SearchTenant.ValueSet(n.TenantID),
			SearchDomain.ValueSet(n.Domain),
			SearchOutcome.ValueSet(OnboardingRunning),
			// The first step; the workflow skips upserting values in place.
			SearchStep.ValueSet(StepTenantSyncFlag),
		),
		StaticSummary: fmt.Sprintf("Onboard %s (%s)", n.Domain, n.TenantID),
	}
}

// WatchStartOptions are the start options of a watcher started on its own
// (starter watch); onboarding starts the same as a child.
func WatchStartOptions(in WatchInput) client.StartWorkflowOptions {
	w := watchIdentity(in)
	return client.StartWorkflowOptions{
		ID:                       w.id,
		TaskQueue:                TaskQueue,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:    enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		// Without this the SDK hands back the running execution instead of an error.
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes:                    w.attrs,
		Memo:                                     w.memo,
		StaticSummary:                            w.summary,
	}
}

// watchChildOptions start a watcher as onboarding's child, outliving it.
func watchChildOptions(in WatchInput) workflow.ChildWorkflowOptions {
	w := watchIdentity(in)
	return workflow.ChildWorkflowOptions{
		WorkflowID:            w.id,
		Memo:                  w.memo,
		ParentClosePolicy:     enums.PARENT_CLOSE_POLICY_ABANDON,
		TypedSearchAttributes: w.attrs,
		StaticSummary:         w.summary,
	}
}

// watchStart is what a watcher is started with however it is started.
type watchStart struct {
	id      string
	attrs   temporal.SearchAttributes
	memo    map[string]any // registers the job with the poller
	summary string
}

func watchIdentity(in WatchInput) watchStart {
	sa := []temporal.SearchAttributeUpdate{SearchTenant.ValueSet(in.TenantID)}
	where := "tenant " + in.TenantID
	if in.Domain != "" {
		sa = append(sa, SearchDomain.ValueSet(in.Domain))
		where = in.Domain
	}
	sa = append(sa, SearchAwaitingApproval.ValueSet(false))
	return watchStart{id: WatchWorkflowID(in.TenantID, in.JobID), attrs: temporal.NewSearchAttributes(sa...), memo: WatchMemo(in),
		summary: "Watch " + in.JobID + " (" + where + ")"}
}
