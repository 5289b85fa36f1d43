package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// planStep retries a plan's reads like an onboarding's steps (throttling,
// 5xx), for at most DefaultPlanTimeout; a refusal (permission, bad
// credential) stops at once.
var planStep = workflow.ActivityOptions{
	StartToCloseTimeout:    60 * time.Second,
	ScheduleToCloseTimeout: DefaultPlanTimeout,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
	},
}

// PlanTenant says what an onboarding of the spec would do now, without
// writing: one activity makes onboarding's reads through a Graph client that
// cannot write, and decides each step with the onboarding's own functions.
func PlanTenant(ctx workflow.Context, in PlanInput) (PlanResult, error) {
	if err := in.Spec.Validate(); err != nil {
		var ve *ValidationError
		errors.As(err, &ve)
		return PlanResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ValidationErrorType, nil, ve)
	}
	s := in.Spec.Normalized()
	opts := planStep
	opts.Summary = "plan for " + s.TenantID + " (" + s.Domain + ")"
	res, err := Execute(workflow.WithActivityOptions(ctx, opts), PlanningActivities.PlanTenant, PlanInput{Spec: s, Exchange: in.Exchange}).Get(ctx)
	if err != nil {
		msg := fmt.Sprintf("plan of %s (%s) failed: %s", s.TenantID, s.Domain, rootMessage(err))
		return res, temporal.NewNonRetryableApplicationError(msg, PlanFailureType, err)
	}
	workflow.SetCurrentDetails(ctx, planDetails(res))
	return res, nil
}

// planDetails is the Markdown the Web UI shows on a plan's page.
func planDetails(r PlanResult) string {
	d := fmt.Sprintf("**Plan** for tenant %s · domain %s · **%d to change**\n\n", r.TenantID, r.Domain, r.Changes)
	for _, s := range r.Steps {
		d += fmt.Sprintf("- %s: **%s** %s\n", s.Step, s.Action, s.Detail)
	}
	return d
}
