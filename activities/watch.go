package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.uber.org/zap"

	"github.com/cloudsync/cloudsync/graph"
	wf "github.com/cloudsync/cloudsync/workflows"
)

// PollJob reads a job's status and returns it once it differs from in.Last
// (or in.RefreshAfter has passed). Until then it fails with JobUnchanged, and
// its retry policy, one attempt per poll interval, is the poll loop: no
// history grows while nothing happens.
func (a *Activities) PollJob(ctx context.Context, in wf.PollJobInput) (wf.JobStatus, error) {
	c, err := a.client(in.TenantID)
	if err != nil {
		return wf.JobStatus{}, err
	}
	j, err := c.GetJob(ctx, in.ServicePrincipalID, in.JobID)
	var s wf.JobStatus
	switch {
	case graph.IsNotFound(err):
		// Job deleted, or its service principal removed: either ends the watch.
		s = wf.JobStatus{Gone: true}
	case err != nil:
		// Throttling, outages, even a revoked permission: a months-long watcher
		// keeps trying at its interval (the failure shows on the pending activity).
		ge, _ := graph.AsError(err)
		opts := temporal.ApplicationErrorOptions{}
		if ge != nil && ge.RetryAfter > 0 {
			opts.NextRetryDelay = ge.RetryAfter
		}
		return s, temporal.NewApplicationErrorWithOptions(err.Error(), "PollFailed", opts)
	default:
		s = statusOf(j)
	}
	s.ObservedAt = time.Now().UTC()
	if in.Last != nil && s.SameState(*in.Last) && s.ObservedAt.Sub(in.Last.ObservedAt) < in.RefreshAfter {
		return s, temporal.NewApplicationError("job "+in.JobID+" unchanged ("+s.StatusCode+")", wf.ErrJobUnchanged)
	}
	return s, nil
}

func statusOf(j graph.Job) wf.JobStatus {
	s := wf.JobStatus{ScheduleState: j.ScheduleState, StatusCode: j.StatusCode, EntryCounts: j.EntryCounts}
	if q := j.Quarantine; q != nil {
		s.QuarantineReason, s.QuarantineError, s.QuarantineMessage = q.Reason, q.ErrorCode, q.ErrorMessage
		s.TenantActionable, s.QuarantineSince = q.TenantActionable, q.CurrentBegan
	}
	if e := j.LastExecution; e != nil {
		s.LastExecutionState, s.LastExecutionEnded, s.LastExecutionError, s.CountExported = e.State, e.TimeEnded, e.ErrorCode, e.CountExported
	}
	return s
}

// RestartForceDeletes restarts a job with ForceDeletes on behalf of an
// approval. It looks first: only a job still quarantined for too many deletes
// is restarted, so a retried or late activity never forces deletions nobody
// approved.
func (a *Activities) RestartForceDeletes(ctx context.Context, in wf.RestartInput) (wf.RestartResult, error) {
	c, err := a.client(in.TenantID)
	if err != nil {
		return wf.RestartResult{}, err
	}
	if !in.Decision.Approve || in.Decision.Approver == "" {
		return wf.RestartResult{}, temporal.NewNonRetryableApplicationError("a ForceDeletes restart needs an approval with an approver", "NotApproved", nil)
	}
	j, err := c.GetJob(ctx, in.ServicePrincipalID, in.JobID)
	if err != nil {
		return wf.RestartResult{}, toTemporal(err, false)
	}
	if j.Quarantine == nil || j.Quarantine.Reason != "TooManyDeletes" {
		return wf.RestartResult{Detail: "the job is no longer quarantined for too many deletes (status " + j.StatusCode + ")"}, nil
	}
	if err := c.RestartJob(ctx, in.ServicePrincipalID, in.JobID, graph.ScopeForceDeletes); err != nil {
		return wf.RestartResult{}, toTemporal(err, false)
	}
	a.log().Info("ForceDeletes restart issued", zap.String("tenant", in.TenantID), zap.String("job", in.JobID),
		zap.String("approver", in.Decision.Approver), zap.String("reason", in.Decision.Reason))
	return wf.RestartResult{Restarted: true, Detail: "restarted with ForceDeletes"}, nil
}

// Notify tells the humans in charge: always a log line, and a JSON POST to the
// webhook when one is configured.
func (a *Activities) Notify(ctx context.Context, n wf.Notification) error {
	a.log().Warn("cloudsync notification", zap.String("kind", n.Kind), zap.String("tenant", n.TenantID),
		zap.String("job", n.JobID), zap.String("workflowId", n.WorkflowID), zap.String("message", n.Message))
	if n.WebhookURL == "" {
		return nil
	}
	body, _ := json.Marshal(n)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return temporal.NewNonRetryableApplicationError("webhook URL: "+err.Error(), "BadWebhook", nil)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return nil
}

func (a *Activities) log() *zap.Logger {
	if a.Logger == nil {
		return zap.NewNop()
	}
	return a.Logger
}
