package workflows

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
)

const tAppObj = "app-obj-1"

var (
	offIn  = OffboardInput{TenantID: strings.ToUpper(tTenant), Domain: "Contoso.com."}
	offInv = Inventory{Found: true, ServicePrincipalID: tSP, AppID: "app-1", ApplicationObjectID: tAppObj, DisplayName: "contoso.com",
		Jobs: []InventoryJob{{ID: tProv, TemplateID: TemplateProvisioning, ScheduleState: "Active", StatusCode: "Active"}, {ID: tPHS, TemplateID: TemplatePasswordHash}}}
)

// offEnv is an offboarding test environment whose activities record the
// order they ran in; the inventory returns inv.
type offEnv struct {
	*testsuite.TestWorkflowEnvironment
	calls []string
	memos []OffboardState
	sas   []temporal.SearchAttributes
}

func newOffEnv(t *testing.T, inv Inventory) *offEnv {
	var s testsuite.WorkflowTestSuite
	e := &offEnv{TestWorkflowEnvironment: s.NewTestWorkflowEnvironment()}
	reg := func(fn any, name string) { e.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name}) }
	reg(func(_ context.Context, in InventoryInput) (Inventory, error) {
		require.Equal(t, InventoryInput{TenantID: tTenant, Domain: "contoso.com"}, in, "normalised")
		e.calls = append(e.calls, "inventory")
		return inv, nil
	}, InventoryConfigurationActivity)
	reg(func(_ context.Context, in StopWatchingInput) (StepReport, error) {
		e.calls = append(e.calls, "stop-watching:"+strings.Join(in.JobIDs, ",")+":"+in.By)
		return StepReport{Step: StepStopWatching, Outcome: OutcomeChanged, Detail: "ended watchers"}, nil
	}, StopWatchingActivity)
	reg(func(_ context.Context, in DeleteJobInput) (StepReport, error) {
		e.calls = append(e.calls, "delete-job:"+in.JobID)
		return StepReport{Step: StepDeleteJobs, Outcome: OutcomeDeleted, Detail: in.JobID}, nil
	}, DeleteSyncJobActivity)
	reg(func(_ context.Context, in DeleteObjectInput) (StepReport, error) {
		e.calls = append(e.calls, "delete-sp:"+in.ServicePrincipalID)
		return StepReport{Step: StepDeleteSP, Outcome: OutcomeDeleted}, nil
	}, DeleteServicePrincipalActivity)
	reg(func(_ context.Context, in DeleteObjectInput) (StepReport, error) {
		e.calls = append(e.calls, "delete-app:"+in.ApplicationObjectID)
		return StepReport{Step: StepDeleteApp, Outcome: OutcomeAlreadyGone}, nil
	}, DeleteApplicationActivity)
	reg(func(_ context.Context, in ConfirmRemovedInput) (StepReport, error) {
		e.calls = append(e.calls, "confirm:"+in.ServicePrincipalID+":"+in.AppID)
		return StepReport{Step: StepConfirmRemoved, Outcome: OutcomeUnchanged}, nil
	}, ConfirmRemovedActivity)
	e.RegisterWorkflowWithOptions(OffboardTenant, workflowOpts(OffboardTenantWorkflow))
	e.OnUpsertMemo(mock.Anything).Run(func(args mock.Arguments) {
		if v, ok := args.Get(0).(map[string]any)[OffboardMemoKey]; ok {
			e.memos = append(e.memos, v.(OffboardState))
		}
	}).Return(nil)
	e.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		e.sas = append(e.sas, args.Get(0).(temporal.SearchAttributes))
	}).Return(nil)
	return e
}

func (e *offEnv) lastMemo(t *testing.T) OffboardState {
	t.Helper()
	require.NotEmpty(t, e.memos)
	return e.memos[len(e.memos)-1]
}

// decideAt sends a decision at a point in (skipped) time; the update's
// outcome goes to got (nil: accepted).
func (e *offEnv) decideAt(after time.Duration, name string, req OffboardDecisionRequest, got *error) {
	e.RegisterDelayedCallback(func() {
		e.UpdateWorkflow(name, "", &testsuite.TestUpdateCallback{
			OnAccept: func() {}, OnReject: func(err error) { *got = err }, OnComplete: func(any, error) {},
		}, req)
	}, after)
}

var alice = OffboardDecisionRequest{Approver: "alice@contoso.com", Reason: "domain retired"}

// Found something: it publishes what it will remove and waits for a human,
// however long; nothing is deleted meanwhile.
func TestOffboardWaitsForApproval(t *testing.T) {
	e := newOffEnv(t, offInv)
	var checked bool
	e.RegisterDelayedCallback(func() {
		checked = true
		require.Equal(t, []string{"inventory"}, e.calls, "nothing deleted before an approval")
		m := e.lastMemo(t)
		require.Equal(t, PhaseAwaitingOffboardApproval, m.Phase)
		require.Equal(t, offInv, *m.Inventory)
		require.False(t, m.AwaitingSince.IsZero())
		require.Contains(t, m.Inventory.Lines()[0], tProv)
		awaiting := false
		for _, sa := range e.sas {
			if v, ok := sa.GetBool(SearchAwaitingApproval); ok {
				awaiting = v
			}
		}
		require.True(t, awaiting, "CloudSyncAwaitingApproval for starter list --awaiting-approval")
	}, 30*24*time.Hour)
	var refused error
	e.decideAt(31*24*time.Hour, ApproveOffboardUpdate, alice, &refused)
	e.ExecuteWorkflow(OffboardTenantWorkflow, offIn)
	require.True(t, checked)
	require.NoError(t, refused)
	require.NoError(t, e.GetWorkflowError())
}

// Approved: stop watching, then the jobs, the service principal and the
// application, in that order, each reported; the sync flag is left alone.
func TestOffboardApprovedRemovesInOrder(t *testing.T) {
	e := newOffEnv(t, offInv)
	var refused error
	e.decideAt(time.Hour, ApproveOffboardUpdate, alice, &refused)
	e.ExecuteWorkflow(OffboardTenantWorkflow, offIn)
	require.NoError(t, refused)
	require.NoError(t, e.GetWorkflowError())
	require.Equal(t, []string{"inventory", "stop-watching:" + tProv + "," + tPHS + ":alice@contoso.com",
		"delete-job:" + tProv, "delete-job:" + tPHS, "delete-sp:" + tSP, "delete-app:" + tAppObj, "confirm:" + tSP + ":app-1"}, e.calls)
	var st OffboardState
	require.NoError(t, e.GetWorkflowResult(&st))
	require.Equal(t, PhaseOffboarded, st.Phase)
	require.Equal(t, tTenant, st.TenantID)
	require.Equal(t, "contoso.com", st.Domain)
	require.Equal(t, &OffboardDecision{Approve: true, Approver: "alice@contoso.com", Reason: "domain retired", At: st.Decision.At}, st.Decision)
	var steps []string
	for _, s := range st.Steps {
		steps = append(steps, s.Step+"="+string(s.Outcome))
	}
	require.Equal(t, []string{"inventory=unchanged", "approval=changed", "stop-watching=changed", "delete-jobs=deleted", "delete-jobs=deleted",
		"delete-service-principal=deleted", "delete-application=already-gone", "confirm-removed=unchanged", "tenant-sync-flag=skipped"}, steps)
	require.Equal(t, SyncFlagNote, st.Steps[len(st.Steps)-1].Detail)
	require.Equal(t, st, e.lastMemo(t), "the memo ends with the result")
	awaiting := true
	for _, sa := range e.sas {
		if v, ok := sa.GetBool(SearchAwaitingApproval); ok {
			awaiting = v
		}
	}
	require.False(t, awaiting, "no longer awaiting once decided")
}

// Rejected: it ends, removing nothing, with who and why.
func TestOffboardRejectedRemovesNothing(t *testing.T) {
	e := newOffEnv(t, offInv)
	var refused error
	e.decideAt(time.Hour, RejectOffboardUpdate, OffboardDecisionRequest{Approver: "bob@contoso.com", Reason: "still in use"}, &refused)
	e.ExecuteWorkflow(OffboardTenantWorkflow, offIn)
	require.NoError(t, refused)
	require.NoError(t, e.GetWorkflowError())
	require.Equal(t, []string{"inventory"}, e.calls)
	var st OffboardState
	require.NoError(t, e.GetWorkflowResult(&st))
	require.Equal(t, PhaseOffboardRejected, st.Phase)
	require.False(t, st.Decision.Approve)
	require.Equal(t, "bob@contoso.com", st.Decision.Approver)
	require.Contains(t, st.Summary(), "nothing removed")
}

// Cancelled while it waits: it ends cancelled, removing nothing.
func TestOffboardCancelledRemovesNothing(t *testing.T) {
	e := newOffEnv(t, offInv)
	e.RegisterDelayedCallback(e.CancelWorkflow, time.Hour)
	e.ExecuteWorkflow(OffboardTenantWorkflow, offIn)
	require.True(t, temporal.IsCanceledError(e.GetWorkflowError()), "%v", e.GetWorkflowError())
	require.Equal(t, []string{"inventory"}, e.calls)
	require.Equal(t, PhaseOffboardCancelled, e.lastMemo(t).Phase)
}

// Nothing found: it completes at once saying so, without asking anyone.
func TestOffboardNothingToRemove(t *testing.T) {
	e := newOffEnv(t, Inventory{})
	e.ExecuteWorkflow(OffboardTenantWorkflow, offIn)
	require.NoError(t, e.GetWorkflowError())
	var st OffboardState
	require.NoError(t, e.GetWorkflowResult(&st))
	require.Equal(t, PhaseNothingToRemove, st.Phase)
	require.Equal(t, []string{"inventory"}, e.calls)
	require.Contains(t, st.Summary(), "nothing to remove")
	for _, sa := range e.sas {
		_, ok := sa.GetBool(SearchAwaitingApproval)
		require.False(t, ok, "never awaited anyone")
	}
}

// The validator refuses, before the history, a bad approver or reason, an
// approver not on the allow-list, and a second decision.
func TestOffboardValidatorRefusesBadDecisions(t *testing.T) {
	in := offIn
	in.Approvers = []string{"alice@contoso.com"}
	e := newOffEnv(t, offInv)
	// The deletes take a while: a second decision arrives meanwhile.
	e.OnActivity(StopWatchingActivity, mock.Anything, mock.Anything).After(time.Hour).Return(StepReport{Step: StepStopWatching, Outcome: OutcomeUnchanged}, nil)
	errs := make([]error, 6)
	e.decideAt(time.Minute, ApproveOffboardUpdate, OffboardDecisionRequest{Approver: "alice", Reason: "x"}, &errs[0])
	e.decideAt(2*time.Minute, ApproveOffboardUpdate, OffboardDecisionRequest{Approver: "alice@contoso.com", Reason: " "}, &errs[1])
	e.decideAt(3*time.Minute, ApproveOffboardUpdate, OffboardDecisionRequest{Approver: "alice@contoso.com", Reason: strings.Repeat("r", MaxReasonLength+1)}, &errs[2])
	e.decideAt(4*time.Minute, RejectOffboardUpdate, OffboardDecisionRequest{Approver: "mallory@contoso.com", Reason: "x"}, &errs[3])
	e.decideAt(5*time.Minute, ApproveOffboardUpdate, OffboardDecisionRequest{Approver: "ALICE@contoso.com", Reason: "retired"}, &errs[4])
	e.decideAt(10*time.Minute, RejectOffboardUpdate, alice, &errs[5])
	e.ExecuteWorkflow(OffboardTenantWorkflow, in)
	require.NoError(t, e.GetWorkflowError())
	require.ErrorContains(t, errs[0], "not an e-mail address")
	require.ErrorContains(t, errs[1], "reason is required")
	require.ErrorContains(t, errs[2], "at most 1000")
	require.ErrorContains(t, errs[3], "not an allowed approver")
	require.NoError(t, errs[4], "an allowed approver, case aside")
	require.ErrorContains(t, errs[5], "already decided: approved by ALICE@contoso.com (retired)")
	var st OffboardState
	require.NoError(t, e.GetWorkflowResult(&st))
	require.Equal(t, PhaseOffboarded, st.Phase, "the first valid decision stands")
}

// A decision sent before the inventory is published is refused: nobody
// approves what they have not seen.
func TestOffboardRefusesADecisionBeforeTheInventory(t *testing.T) {
	e := newOffEnv(t, offInv)
	e.OnActivity(InventoryConfigurationActivity, mock.Anything, mock.Anything).After(time.Hour).Return(offInv, nil)
	var early, late error
	e.decideAt(time.Minute, ApproveOffboardUpdate, alice, &early)
	e.decideAt(2*time.Hour, RejectOffboardUpdate, alice, &late)
	e.ExecuteWorkflow(OffboardTenantWorkflow, offIn)
	require.ErrorContains(t, early, "nothing awaits approval yet")
	require.NoError(t, late)
	require.NoError(t, e.GetWorkflowError())
}

// A delete refused (the object now belongs to another domain's
// configuration) fails the offboarding with what was done so far.
func TestOffboardFailsWithWhatWasDone(t *testing.T) {
	e := newOffEnv(t, offInv)
	e.OnActivity(DeleteServicePrincipalActivity, mock.Anything, mock.Anything).Return(StepReport{},
		temporal.NewNonRetryableApplicationError("service principal sp-1 now syncs eu.contoso.com", ErrNotThisConfiguration, nil))
	var refused error
	e.decideAt(time.Hour, ApproveOffboardUpdate, alice, &refused)
	e.ExecuteWorkflow(OffboardTenantWorkflow, offIn)
	err := e.GetWorkflowError()
	var ae *temporal.ApplicationError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, OffboardFailureType, ae.Type())
	require.Contains(t, ae.Message(), "failed at step delete-service-principal: service principal sp-1 now syncs eu.contoso.com")
	var st OffboardState
	require.NoError(t, ae.Details(&st))
	require.Equal(t, PhaseOffboardFailed, st.Phase)
	require.Equal(t, OutcomeFailed, st.Steps[len(st.Steps)-1].Outcome)
	require.NotContains(t, strings.Join(e.calls, " "), "delete-app", "nothing after the refusal")
}

// Graph's reads that never catch up (within the step's 10 minutes) do not
// fail an offboarding whose deletes all succeeded: the step says so.
func TestOffboardUnconfirmedIsStillOffboarded(t *testing.T) {
	e := newOffEnv(t, offInv)
	e.OnActivity(ConfirmRemovedActivity, mock.Anything, mock.Anything).Return(StepReport{},
		temporal.NewApplicationError("Graph's reads still show service principal sp-1", ErrStillVisible))
	var refused error
	e.decideAt(time.Hour, ApproveOffboardUpdate, alice, &refused)
	e.ExecuteWorkflow(OffboardTenantWorkflow, offIn)
	require.NoError(t, e.GetWorkflowError())
	var st OffboardState
	require.NoError(t, e.GetWorkflowResult(&st))
	require.Equal(t, PhaseOffboarded, st.Phase)
	confirm := st.Steps[len(st.Steps)-2]
	require.Equal(t, StepConfirmRemoved, confirm.Step)
	require.Equal(t, OutcomeSkipped, confirm.Outcome)
	require.Contains(t, confirm.Detail, "catch up by themselves")
}

// Bad input fails before anything is read.
func TestOffboardRefusesBadInput(t *testing.T) {
	e := newOffEnv(t, offInv)
	e.ExecuteWorkflow(OffboardTenantWorkflow, OffboardInput{TenantID: "contoso", Domain: "x"})
	require.Error(t, e.GetWorkflowError())
	require.Empty(t, e.calls)
}
