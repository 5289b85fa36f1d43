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

// statusOf is what a watcher keeps of a job.
func statusOf(j graph.Job) wf.JobStatus {
	s := wf.JobStatus{ScheduleState: j.ScheduleState, StatusCode: j.StatusCode, EntryCounts: j.EntryCounts}
	if q := j.Quarantine; q != nil {
		s.QuarantineReason, s.QuarantineError, s.QuarantineMessage = q.Reason, q.ErrorCode, q.ErrorMessage
		s.TenantActionable, s.QuarantineSince, s.SeriesBegan = q.TenantActionable, q.CurrentBegan, q.SeriesBegan.UTC()
	}
	if e := j.LastExecution; e != nil {
		s.LastExecutionState, s.LastExecutionEnded, s.LastExecutionError, s.CountExported = e.State, e.TimeEnded, e.ErrorCode, e.CountExported
	}
	return s
}

// LookAtJob reads one job's status now, from its service principal's job
// list (a job read by id can answer 404 for a while after it is created).
func (a *Activities) LookAtJob(ctx context.Context, in wf.WatchTarget) (wf.JobStatus, error) {
	c, err := a.client(in.TenantID)
	if err != nil {
		return wf.JobStatus{}, err
	}
	jobs, err := c.ListJobs(ctx, in.ServicePrincipalID)
	if err != nil && !graph.IsNotFound(err) {
		return wf.JobStatus{}, toTemporal(err, false)
	}
	now := time.Now().UTC()
	for _, j := range jobs {
		if j.ID == in.JobID {
			s := statusOf(j)
			s.ObservedAt = now
			return s, nil
		}
	}
	return wf.JobStatus{Missing: true, MissingSince: now, ObservedAt: now}, nil
}

// RestartForceDeletes restarts a job with ForceDeletes on behalf of an
// approval of one episode. It reads the job first and refuses unless the job
// is still quarantined for too many deletes in that very series and not
// paused: a retry after a lost answer, a late activity, or a quarantine
// lifted and imposed again between two polls never forces deletions nobody
// saw. A refusal is a result (with the job's status), not an error.
func (a *Activities) RestartForceDeletes(ctx context.Context, in wf.RestartInput) (wf.RestartResult, error) {
	c, err := a.client(in.TenantID)
	if err != nil {
		return wf.RestartResult{}, err
	}
	if !in.Decision.Approve || in.Decision.Approver == "" || in.Episode.JobID != in.JobID {
		return wf.RestartResult{}, temporal.NewNonRetryableApplicationError("a ForceDeletes restart needs an approval of this job's episode, with an approver", "NotApproved", nil)
	}
	j, err := c.GetJob(ctx, in.ServicePrincipalID, in.JobID)
	if err != nil {
		return wf.RestartResult{}, toTemporal(err, true)
	}
	s := statusOf(j)
	s.ObservedAt = time.Now().UTC()
	refuse := func(why string) (wf.RestartResult, error) {
		a.log().Info("ForceDeletes restart refused", zap.String("tenant", in.TenantID), zap.String("job", in.JobID),
			zap.String("episode", in.Episode.ID()), zap.String("why", why))
		return wf.RestartResult{Detail: why, Job: s}, nil
	}
	ep, ok := s.Episode(in.JobID)
	switch {
	case !ok:
		return refuse("the job is no longer quarantined for too many deletes (status " + j.StatusCode + ")")
	case ep.ID() != in.Episode.ID():
		return refuse("the quarantine is a new series (" + ep.ID() + "), not the approved " + in.Episode.ID() + ": its deletions need their own approval")
	case s.Paused():
		return refuse("the job is paused: resume it first, then approve again")
	}
	if err := c.RestartJob(ctx, in.ServicePrincipalID, in.JobID, graph.ScopeForceDeletes); err != nil {
		return wf.RestartResult{}, toTemporal(err, false)
	}
	a.log().Info("ForceDeletes restart issued", zap.String("tenant", in.TenantID), zap.String("job", in.JobID),
		zap.String("episode", in.Episode.ID()), zap.String("approver", in.Decision.Approver), zap.String("reason", in.Decision.Reason))
	return wf.RestartResult{Restarted: true, Detail: "restarted with ForceDeletes", Job: s}, nil
}

// ResumeJob starts a job again on an operator's explicit request (through its
// watcher, which records who and why). A running job is left as it is.
func (a *Activities) ResumeJob(ctx context.Context, in wf.ResumeInput) (wf.ResumeResult, error) {
	c, err := a.client(in.TenantID)
	if err != nil {
		return wf.ResumeResult{}, err
	}
	if in.By == "" {
		return wf.ResumeResult{}, temporal.NewNonRetryableApplicationError("starting a job again needs who asks", "NotApproved", nil)
	}
	jobs, err := c.ListJobs(ctx, in.ServicePrincipalID)
	if err != nil {
		return wf.ResumeResult{}, toTemporal(err, true)
	}
	for _, j := range jobs {
		if j.ID != in.JobID {
			continue
		}
		s := statusOf(j)
		s.ObservedAt = time.Now().UTC()
		if j.Running() {
			return wf.ResumeResult{Detail: "the job is running", Job: s}, nil
		}
		// Start lifts any quarantine: for too many deletes, only the episode a
		// human rejected; one nobody decided on waits for its decision.
		if ep, ok := s.Episode(in.JobID); ok && ep.ID() != in.Rejected {
			return wf.ResumeResult{Refused: true, Detail: "episode " + ep.ID() + " holds deletions back and awaits a decision: approve or reject it first", Job: s}, nil
		}
		if err := c.StartJob(ctx, in.ServicePrincipalID, in.JobID); err != nil {
			return wf.ResumeResult{}, toTemporal(err, false)
		}
		a.log().Info("job started again on request", zap.String("tenant", in.TenantID), zap.String("job", in.JobID),
			zap.String("by", in.By), zap.String("reason", in.Reason))
		return wf.ResumeResult{Started: true, Detail: "started", Job: s}, nil
	}
	return wf.ResumeResult{}, temporal.NewNonRetryableApplicationError("job "+in.JobID+" is not among its service principal's jobs", string(graph.KindNotFound), nil)
}

// Notify tells the humans in charge: always a log line, and a JSON POST to the
// named webhook when one is set. The URL comes from the worker's
// configuration and is never logged.
func (a *Activities) Notify(ctx context.Context, n wf.Notification) error {
	a.log().Info("cloudsync notification", zap.String("kind", n.Kind), zap.String("tenant", n.TenantID),
		zap.String("job", n.JobID), zap.String("workflowId", n.WorkflowID), zap.String("message", n.Message))
	if n.Webhook == "" {
		return nil
	}
	url, ok := a.Webhooks[n.Webhook]
	if !ok {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("webhook %q is not configured on this worker (--webhook %s=https://…)", n.Webhook, n.Webhook), wf.ErrUnknownWebhook, nil)
	}
	body, _ := json.Marshal(n)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return temporal.NewNonRetryableApplicationError("webhook "+n.Webhook+": invalid URL", wf.ErrUnknownWebhook, nil)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.httpClient().Do(req)
	if err != nil {
		// The error text names the URL: keep it out of histories and logs.
		return fmt.Errorf("webhook %s: request failed", n.Webhook)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("webhook %s answered %s", n.Webhook, resp.Status)
	}
	return nil
}

func (a *Activities) httpClient() *http.Client {
	return &http.Client{Timeout: 20 * time.Second}
}

func (a *Activities) log() *zap.Logger {
	if a.Logger == nil {
		return zap.NewNop()
	}
	return a.Logger
}
