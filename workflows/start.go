package workflows

import (
	"fmt"
	"time"

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

// PlanStartOptions are the start options of one plan: its own id (plans of
// one tenant may run at once: they only read) and a bound on how long it may
// take.
func PlanStartOptions(spec TenantSpec, nonce string, timeout time.Duration) client.StartWorkflowOptions {
	n := spec.Normalized()
	return client.StartWorkflowOptions{
		ID:                       PlanWorkflowID(n.TenantID, n.Domain, nonce),
		TaskQueue:                TaskQueue,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowExecutionTimeout: timeout,
		TypedSearchAttributes:    temporal.NewSearchAttributes(SearchTenant.ValueSet(n.TenantID), SearchDomain.ValueSet(n.Domain)),
		StaticSummary:            fmt.Sprintf("Plan %s (%s)", n.Domain, n.TenantID),
	}
}

// OffboardStartOptions start an offboarding under its deterministic id: a
// second one of the same pair is refused while one runs.
func OffboardStartOptions(in OffboardInput) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                                       OffboardWorkflowID(in.TenantID, in.Domain),
		TaskQueue:                                TaskQueue,
		WorkflowIDConflictPolicy:                 enums.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:                    enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			SearchTenant.ValueSet(in.TenantID), SearchDomain.ValueSet(in.Domain),
			// Set here (free) rather than by the workflow's first upsert.
			SearchPhase.ValueSet(PhaseInventory), SearchOutcome.ValueSet(OnboardingRunning),
		),
		StaticSummary: fmt.Sprintf("Offboard %s (%s)", in.Domain, in.TenantID),
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

// driftChildOptions start a tenant's drift check as onboarding's child,
// outliving it.
func driftChildOptions(tenantID, domain string) workflow.ChildWorkflowOptions {
	return workflow.ChildWorkflowOptions{
		WorkflowID:            DriftWorkflowID(tenantID, domain),
		ParentClosePolicy:     enums.PARENT_CLOSE_POLICY_ABANDON,
		TypedSearchAttributes: temporal.NewSearchAttributes(SearchTenant.ValueSet(tenantID), SearchDomain.ValueSet(domain), SearchDrift.ValueSet(DriftNone)),
		StaticSummary:         "Drift check of " + domain + " (" + tenantID + ")",
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
	where := "tenant " + in.TenantID
	if in.Domain != "" {
		where = in.Domain
	}
	return watchStart{id: WatchWorkflowID(in.TenantID, in.JobID), attrs: WatchSearchAttributes(in), memo: WatchMemo(in),
		summary: "Watch " + in.JobID + " (" + where + ")"}
}
