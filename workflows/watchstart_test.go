package workflows

import (
	"testing"

	"github.com/stretchr/testify/require"
	enums "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// childStart is one StartChildWorkflowExecution of the onboarding, as issued.
type childStart struct {
	in   WatchInput
	opts workflow.ChildWorkflowOptions
	// waited: an earlier watcher's start had already resolved when this one
	// was issued, so they went out in different workflow tasks.
	waited bool
}

// watcherStarts records the onboarding's watcher starts through a workflow
// outbound interceptor: the options a child is started with are what the
// server gets in StartChildWorkflowExecution, which the test environment does
// not otherwise show.
type watcherStarts struct {
	interceptor.WorkerInterceptorBase
	starts  []childStart
	futures []workflow.ChildWorkflowFuture
}

func (w *watcherStarts) InterceptWorkflow(ctx workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	if workflow.GetInfo(ctx).WorkflowType.Name != OnboardTenantWorkflow {
		return next
	}
	return &watcherStartsInbound{WorkflowInboundInterceptorBase: interceptor.WorkflowInboundInterceptorBase{Next: next}, rec: w}
}

type watcherStartsInbound struct {
	interceptor.WorkflowInboundInterceptorBase
	rec *watcherStarts
}

func (i *watcherStartsInbound) Init(outbound interceptor.WorkflowOutboundInterceptor) error {
	return i.Next.Init(&watcherStartsOutbound{WorkflowOutboundInterceptorBase: interceptor.WorkflowOutboundInterceptorBase{Next: outbound}, rec: i.rec})
}

type watcherStartsOutbound struct {
	interceptor.WorkflowOutboundInterceptorBase
	rec *watcherStarts
}

func (o *watcherStartsOutbound) ExecuteChildWorkflow(ctx workflow.Context, childWorkflowType string, args ...interface{}) workflow.ChildWorkflowFuture {
	f := o.Next.ExecuteChildWorkflow(ctx, childWorkflowType, args...)
	if childWorkflowType != WatchSyncJobWorkflow {
		return f
	}
	s := childStart{in: args[0].(WatchInput), opts: workflow.GetChildWorkflowOptions(ctx)}
	for _, earlier := range o.rec.futures {
		s.waited = s.waited || earlier.GetChildWorkflowExecution().IsReady()
	}
	o.rec.starts = append(o.rec.starts, s)
	o.rec.futures = append(o.rec.futures, f)
	return f
}

// The onboarding starts its watchers together (one workflow task, no start
// waiting for another's), each with its search attributes (tenant, domain,
// not awaiting approval, phase watching) and its memo (what the poller polls,
// and the first state) set at start, as a standalone `starter watch` does:
// written at start they cost no action, and the watcher then writes nothing
// until something happens (TestWatchStartedWithItsMemoAndAttributesWritesNothingAtStart).
func TestOnboardingStartsItsWatchersTogetherWithTheirAttributesAndFirstState(t *testing.T) {
	env := newEnv(t)
	rec := &watcherStarts{}
	env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{rec}})
	happy(env, true)

	env.ExecuteWorkflow(OnboardTenantWorkflow, OnboardInput{Spec: fullSpec()})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())

	require.Len(t, rec.starts, 3, "a watcher per job")
	for _, s := range rec.starts {
		require.False(t, s.waited, "watcher %s started after another's start resolved: not together", s.in.JobID)
		require.Equal(t, tTenant, s.in.TenantID)
		require.Equal(t, "contoso.com", s.in.Domain)
		want := WatchStartOptions(s.in)
		require.Equal(t, want.ID, s.opts.WorkflowID)
		require.Equal(t, enums.PARENT_CLOSE_POLICY_ABANDON, s.opts.ParentClosePolicy, "the watcher outlives the onboarding")
		require.Equal(t, want.StaticSummary, s.opts.StaticSummary)

		sa := s.opts.TypedSearchAttributes
		phase, ok := sa.GetKeyword(SearchPhase)
		require.True(t, ok && phase == PhaseWatching, "phase %q set at start", phase)
		awaiting, ok := sa.GetBool(SearchAwaitingApproval)
		require.True(t, ok && !awaiting, "awaiting approval false set at start")
		tenant, _ := sa.GetKeyword(SearchTenant)
		domain, _ := sa.GetKeyword(SearchDomain)
		require.Equal(t, []string{tTenant, "contoso.com"}, []string{tenant, domain})
		require.Equal(t, want.TypedSearchAttributes, sa, "the same attributes as a standalone start")

		require.Contains(t, s.opts.Memo, WatchMemoKey, "registered with the poller at start")
		require.Equal(t, newWatchState().Published(), s.opts.Memo[WatchStateMemoKey], "the first state set at start")
		require.Equal(t, want.Memo, s.opts.Memo, "the same memo as a standalone start")
	}
}
