package activities

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.uber.org/zap"

	"github.com/cloudsync/cloudsync/graph"
	wf "github.com/cloudsync/cloudsync/workflows"
)

// WorkflowControl is what offboarding needs of Temporal to stop watching: an
// update to end each watcher (recorded with who and why) and a cancellation
// of the drift check. client.Client has both.
type WorkflowControl interface {
	UpdateWorkflow(ctx context.Context, options client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error)
	CancelWorkflow(ctx context.Context, workflowID, runID string) error
}

// InventoryConfiguration finds the configuration of a tenant's domain exactly
// as onboarding's application step does (the service principal whose Domain
// secret names it; with a display name, one the portal made under that name
// too) and lists what an offboarding would remove. It only reads.
func (a *Activities) InventoryConfiguration(ctx context.Context, in wf.InventoryInput) (wf.Inventory, error) {
	c, err := a.client(in.TenantID)
	if err != nil {
		return wf.Inventory{}, err
	}
	l, err := lookupByDomain(ctx, c, graph.NormalizeDomain(in.Domain), in.DisplayName, in.DisplayName != "")
	if err != nil {
		return wf.Inventory{}, toTemporal(err, false)
	}
	sp := l.match
	if sp == nil {
		return wf.Inventory{}, nil
	}
	inv := wf.Inventory{Found: true, ServicePrincipalID: sp.ID, AppID: sp.AppID, DisplayName: sp.DisplayName}
	jobs, err := c.ListJobs(ctx, sp.ID)
	if err != nil && !graph.IsNotFound(err) {
		return wf.Inventory{}, toTemporal(err, false)
	}
	sort.Slice(jobs, func(i, j int) bool { return jobs[i].ID < jobs[j].ID })
	for _, j := range jobs {
		s := seenJob(j)
		inv.Jobs = append(inv.Jobs, wf.InventoryJob{ID: j.ID, TemplateID: j.TemplateID, ScheduleState: j.ScheduleState, StatusCode: j.StatusCode, QuarantineReason: s.QuarantineReason})
	}
	app, err := c.ApplicationByAppID(ctx, sp.AppID)
	switch {
	case err == nil:
		inv.ApplicationObjectID = app.ObjectID
	case !graph.IsNotFound(err):
		return wf.Inventory{}, toTemporal(err, false)
	}
	return inv, nil
}

// StopWatching ends the watchers of the jobs (the unwatch update, recorded
// with who and why; a watcher that is not running is fine) and cancels the
// domain's drift check (one that does not exist is fine).
func (a *Activities) StopWatching(ctx context.Context, in wf.StopWatchingInput) (wf.StepReport, error) {
	rep := wf.StepReport{Step: wf.StepStopWatching}
	if a.Control == nil {
		return rep, temporal.NewNonRetryableApplicationError("this worker has no Temporal client to stop the watchers", "NoTemporalClient", nil)
	}
	// One update id per offboarding run: a retry is the same update.
	runID, _ := runAndAttempt(ctx)
	req := wf.UnwatchRequest{By: in.By, Reason: in.Reason}
	var ended, idle []string
	for _, job := range in.JobIDs {
		id := wf.WatchWorkflowID(in.TenantID, job)
		h, err := a.Control.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
			WorkflowID: id, UpdateID: "offboard/" + runID, UpdateName: wf.UnwatchUpdate, Args: []any{req},
			WaitForStage: client.WorkflowUpdateStageCompleted,
		})
		if err == nil {
			err = h.Get(ctx, nil)
		}
		var ae *temporal.ApplicationError
		switch {
		case err == nil:
			ended = append(ended, job)
		case isWorkflowNotFound(err):
			idle = append(idle, job)
		case errors.As(err, &ae):
			// The watcher's validator refused the request: retrying sends the same.
			return rep, temporal.NewNonRetryableApplicationError("watcher "+id+" refused to stop: "+ae.Message(), "UnwatchRefused", nil)
		default:
			return rep, fmt.Errorf("stop watcher %s: %w", id, err)
		}
	}
	drift := "no drift check running"
	switch err := a.Control.CancelWorkflow(ctx, wf.DriftWorkflowID(in.TenantID, in.Domain), ""); {
	case err == nil:
		drift = "drift check cancelled"
	case !isWorkflowNotFound(err):
		return rep, fmt.Errorf("cancel the drift check: %w", err)
	}
	rep.Outcome = wf.OutcomeUnchanged
	if len(ended) > 0 || drift == "drift check cancelled" {
		rep.Outcome = wf.OutcomeChanged
	}
	rep.Detail = wf.JoinDetail(wf.JoinDetail("", "ended the watchers of", ended), "no watcher running for", idle)
	if rep.Detail != "" {
		rep.Detail += "; "
	}
	rep.Detail += drift
	a.log().Info("offboarding stopped watching", zap.String("tenant", in.TenantID), zap.String("domain", in.Domain),
		zap.Strings("ended", ended), zap.String("by", in.By))
	return rep, nil
}

func isWorkflowNotFound(err error) bool {
	var nf *serviceerror.NotFound
	return errors.As(err, &nf)
}

// DeleteSyncJob deletes one job of the domain's configuration. Its service
// principal must still sync the domain (its Domain secret), or nothing is
// deleted; a 404 (the job or its service principal) is "already gone".
func (a *Activities) DeleteSyncJob(ctx context.Context, in wf.DeleteJobInput) (wf.StepReport, error) {
	rep := wf.StepReport{Step: wf.StepDeleteJobs}
	c, err := a.client(in.TenantID)
	if err != nil {
		return rep, err
	}
	gone, err := stillSyncs(ctx, c, in.ServicePrincipalID, in.Domain)
	if err != nil {
		return rep, err
	}
	if gone {
		rep.Outcome, rep.Detail = wf.OutcomeAlreadyGone, "job "+in.JobID+" (its service principal is gone)"
		return rep, nil
	}
	return deleted(rep, "job "+in.JobID, c.DeleteJob(ctx, in.ServicePrincipalID, in.JobID))
}

// DeleteServicePrincipal deletes the configuration's service principal if it
// still syncs the domain; a 404 is "already gone".
func (a *Activities) DeleteServicePrincipal(ctx context.Context, in wf.DeleteObjectInput) (wf.StepReport, error) {
	rep := wf.StepReport{Step: wf.StepDeleteSP}
	c, err := a.client(in.TenantID)
	if err != nil {
		return rep, err
	}
	gone, err := stillSyncs(ctx, c, in.ServicePrincipalID, in.Domain)
	if err != nil {
		return rep, err
	}
	what := "service principal " + in.ServicePrincipalID
	if gone {
		rep.Outcome, rep.Detail = wf.OutcomeAlreadyGone, what
		return rep, nil
	}
	return deleted(rep, what, c.DeleteServicePrincipal(ctx, in.ServicePrincipalID))
}

// DeleteApplication deletes the configuration's application (found again by
// its appId) unless a service principal of it now syncs another domain; a
// 404 is "already gone". Graph deletes the application's service principal
// with it.
func (a *Activities) DeleteApplication(ctx context.Context, in wf.DeleteObjectInput) (wf.StepReport, error) {
	rep := wf.StepReport{Step: wf.StepDeleteApp}
	c, err := a.client(in.TenantID)
	if err != nil {
		return rep, err
	}
	what := "application of appId " + in.AppID
	app, err := c.ApplicationByAppID(ctx, in.AppID)
	if graph.IsNotFound(err) {
		rep.Outcome, rep.Detail = wf.OutcomeAlreadyGone, what
		return rep, nil
	}
	if err != nil {
		return rep, toTemporal(err, false)
	}
	what = "application " + app.ObjectID + " (appId " + app.AppID + ")"
	if in.ApplicationObjectID != "" && !strings.EqualFold(app.ObjectID, in.ApplicationObjectID) {
		return rep, notThisConfiguration(fmt.Sprintf("appId %s names application %s, not %s as the inventory found: nothing deleted", in.AppID, app.ObjectID, in.ApplicationObjectID))
	}
	sps, err := c.ServicePrincipalsOfApp(ctx, in.AppID)
	if err != nil {
		return rep, toTemporal(err, false)
	}
	for _, sp := range sps {
		if _, err := stillSyncs(ctx, c, sp.ID, in.Domain); err != nil {
			return rep, err
		}
	}
	return deleted(rep, what, c.DeleteApplication(ctx, app.ObjectID))
}

// stillSyncs confirms that a service principal still is the domain's
// configuration (its Domain secret names the domain) before something of it
// is deleted: after the inventory, it may have been re-configured for
// another domain. gone: the service principal is not there (404).
func stillSyncs(ctx context.Context, c *graph.Client, spID, domain string) (gone bool, err error) {
	secrets, err := c.GetSecrets(ctx, spID)
	if graph.IsNotFound(err) {
		return true, nil
	}
	if err != nil {
		return false, toTemporal(err, false)
	}
	want := graph.NormalizeDomain(domain)
	if d, _ := graph.SecretDomain(secrets); d != want {
		if d == "" {
			d = "no domain"
		}
		return false, notThisConfiguration(fmt.Sprintf("service principal %s no longer syncs %s (its Domain secret names %s): it was re-configured since the inventory; nothing deleted. Run the offboarding again to see what is there now",
			spID, want, d))
	}
	return false, nil
}

func notThisConfiguration(msg string) error {
	return temporal.NewNonRetryableApplicationError(msg, wf.ErrNotThisConfiguration, nil)
}

// deleted reports a delete's answer: 204 deleted, 404 already gone.
func deleted(rep wf.StepReport, what string, err error) (wf.StepReport, error) {
	switch {
	case err == nil:
		rep.Outcome, rep.Detail = wf.OutcomeDeleted, what
	case graph.IsNotFound(err):
		rep.Outcome, rep.Detail = wf.OutcomeAlreadyGone, what
	default:
		return rep, toTemporal(err, false)
	}
	return rep, nil
}

// confirmReads is how many reads in a row must agree that the configuration
// is gone (Terraform's azuread provider asks for five, 5 s apart).
const confirmReads = 3

// confirmGap separates those reads.
var confirmGap = time.Second

// ConfirmRemoved succeeds once Graph's reads no longer show what the
// offboarding deleted: the service principal by id, the application by its
// appId, and the lookup by domain a re-run makes, confirmReads times in a
// row. Until then it fails with a benign, retryable ErrStillVisible (the
// retry policy is the poll loop). A new configuration of the domain (another
// service principal) is not what was deleted and does not hold it up.
func (a *Activities) ConfirmRemoved(ctx context.Context, in wf.ConfirmRemovedInput) (wf.StepReport, error) {
	rep := wf.StepReport{Step: wf.StepConfirmRemoved}
	c, err := a.client(in.TenantID)
	if err != nil {
		return rep, err
	}
	for i := 0; i < confirmReads; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return rep, ctx.Err()
			case <-time.After(confirmGap):
			}
		}
		shown, err := stillShown(ctx, c, in)
		if err != nil {
			return rep, toTemporal(err, false)
		}
		if shown != "" {
			return rep, benign("Graph's reads still show "+shown+" (they lag behind a delete): looking again", wf.ErrStillVisible)
		}
	}
	rep.Outcome = wf.OutcomeUnchanged
	rep.Detail = fmt.Sprintf("Graph's reads no longer show the service principal nor the application (%d reads in a row)", confirmReads)
	return rep, nil
}

// stillShown names what a read still shows of the deleted configuration ("":
// nothing).
func stillShown(ctx context.Context, c *graph.Client, in wf.ConfirmRemovedInput) (string, error) {
	if _, err := c.GetServicePrincipal(ctx, in.ServicePrincipalID); err == nil {
		return "service principal " + in.ServicePrincipalID, nil
	} else if !graph.IsNotFound(err) {
		return "", err
	}
	if _, err := c.ApplicationByAppID(ctx, in.AppID); err == nil {
		return "the application of appId " + in.AppID, nil
	} else if !graph.IsNotFound(err) {
		return "", err
	}
	l, err := lookupByDomain(ctx, c, graph.NormalizeDomain(in.Domain), in.DisplayName, in.DisplayName != "")
	if err != nil {
		return "", err
	}
	if l.match != nil && strings.EqualFold(l.match.ID, in.ServicePrincipalID) {
		return "service principal " + in.ServicePrincipalID + " among the configurations of " + in.Domain, nil
	}
	return "", nil
}
