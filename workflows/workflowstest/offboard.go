package workflowstest

import (
	"context"

	"github.com/cloudsync/cloudsync/workflows"
)

// InventoryConfiguration implements workflows.OffboardingActivities: a
// tenant onboarded through the fake has one configuration with its
// provisioning job.
func (a *Activities) InventoryConfiguration(ctx context.Context, in workflows.InventoryInput) (workflows.Inventory, error) {
	if err := a.f.before(ctx, workflows.InventoryConfigurationActivity, in); err != nil {
		return workflows.Inventory{}, err
	}
	a.f.mu.Lock()
	defer a.f.mu.Unlock()
	if !a.f.apps[in.TenantID] {
		return workflows.Inventory{}, nil
	}
	return workflows.Inventory{Found: true, ServicePrincipalID: "sp-1", AppID: "app-1", ApplicationObjectID: "app-obj-1", DisplayName: in.Domain,
		Jobs: []workflows.InventoryJob{{ID: workflows.TemplateProvisioning + ".job-1", TemplateID: workflows.TemplateProvisioning}}}, nil
}

// StopWatching implements workflows.OffboardingActivities.
func (a *Activities) StopWatching(ctx context.Context, in workflows.StopWatchingInput) (workflows.StepReport, error) {
	if err := a.f.before(ctx, workflows.StopWatchingActivity, in); err != nil {
		return workflows.StepReport{}, err
	}
	return workflows.StepReport{Step: workflows.StepStopWatching, Outcome: workflows.OutcomeChanged}, nil
}

// DeleteSyncJob implements workflows.OffboardingActivities.
func (a *Activities) DeleteSyncJob(ctx context.Context, in workflows.DeleteJobInput) (workflows.StepReport, error) {
	if err := a.f.before(ctx, workflows.DeleteSyncJobActivity, in); err != nil {
		return workflows.StepReport{}, err
	}
	return changed(workflows.StepDeleteJobs, "deleted "+in.JobID), nil
}

// DeleteServicePrincipal implements workflows.OffboardingActivities.
func (a *Activities) DeleteServicePrincipal(ctx context.Context, in workflows.DeleteObjectInput) (workflows.StepReport, error) {
	if err := a.f.before(ctx, workflows.DeleteServicePrincipalActivity, in); err != nil {
		return workflows.StepReport{}, err
	}
	return changed(workflows.StepDeleteSP, "deleted "+in.ServicePrincipalID), nil
}

// DeleteApplication implements workflows.OffboardingActivities: the
// configuration is gone.
func (a *Activities) DeleteApplication(ctx context.Context, in workflows.DeleteObjectInput) (workflows.StepReport, error) {
	if err := a.f.before(ctx, workflows.DeleteApplicationActivity, in); err != nil {
		return workflows.StepReport{}, err
	}
	a.f.mu.Lock()
	delete(a.f.apps, in.TenantID)
	a.f.mu.Unlock()
	return changed(workflows.StepDeleteApp, "deleted "+in.AppID), nil
}

// ConfirmRemoved implements workflows.OffboardingActivities.
func (a *Activities) ConfirmRemoved(ctx context.Context, in workflows.ConfirmRemovedInput) (workflows.StepReport, error) {
	if err := a.f.before(ctx, workflows.ConfirmRemovedActivity, in); err != nil {
		return workflows.StepReport{}, err
	}
	return workflows.StepReport{Step: workflows.StepConfirmRemoved, Outcome: workflows.OutcomeUnchanged}, nil
}
