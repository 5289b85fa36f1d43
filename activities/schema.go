package activities

import (
	"context"
	"strings"

	"go.temporal.io/sdk/temporal"

	"github.com/cloudsync/cloudsync/graph"
	wf "github.com/cloudsync/cloudsync/workflows"
)

// adDirectoryName is the source directory of the AD2AAD schema.
const adDirectoryName = "Active Directory"

// PatchSchema adds the CredentialData mapping (password hash sync) to the
// provisioning job's schema. The schema is read, patched and written inside
// this activity; only a summary crosses into the workflow.
func (a *Activities) PatchSchema(ctx context.Context, in wf.JobInput) (wf.SchemaResult, error) {
	res := wf.SchemaResult{Report: wf.StepReport{Step: wf.StepSchema}}
	c, err := a.client(in.TenantID)
	if err != nil {
		return res, err
	}
	schema, err := c.GetSchema(ctx, in.ServicePrincipalID, in.JobID)
	if err != nil {
		return res, a.syncErr(err, in.SPCreated)
	}
	if id, err := graph.DirectoryID(schema, adDirectoryName); err == nil {
		res.ADDirectoryID = id
	}
	patched, rep, err := graph.PatchCredentialData(schema)
	if err != nil {
		return res, temporal.NewNonRetryableApplicationError("the job's schema is not a JSON object: "+err.Error(), wf.ErrSchemaMappingMissing, nil)
	}
	if len(rep.Missing) > 0 {
		return res, temporal.NewNonRetryableApplicationError("the job's schema has no object mapping "+strings.Join(rep.Missing, " or ")+
			": it is not an AD2AAD provisioning schema, or someone renamed the mapping", wf.ErrSchemaMappingMissing, nil)
	}
	if !rep.Changed() {
		res.Report.Outcome, res.Report.Detail = wf.OutcomeUnchanged, "CredentialData already mapped in "+strings.Join(rep.AlreadyPresent, ", ")
		return res, nil
	}
	if err := c.PutSchema(ctx, in.ServicePrincipalID, in.JobID, patched); err != nil {
		return res, a.syncErr(err, in.SPCreated)
	}
	res.Report.Outcome, res.Report.Detail = wf.OutcomeChanged, "added CredentialData to "+strings.Join(rep.Added, ", ")
	if len(rep.AlreadyPresent) > 0 {
		res.Report.Detail += "; already in " + strings.Join(rep.AlreadyPresent, ", ")
	}
	return res, nil
}

// CheckExchangeSchema discovers the AD directory and looks for mailNickname on
// users, which Exchange hybrid writeback needs. Discover often answers 500 at
// first; the workflow bounds the retries.
func (a *Activities) CheckExchangeSchema(ctx context.Context, in wf.ExchangeCheckInput) (wf.ExchangeCheckResult, error) {
	var res wf.ExchangeCheckResult
	c, err := a.client(in.TenantID)
	if err != nil {
		return res, err
	}
	dirID := in.ADDirectoryID
	if dirID == "" {
		schema, err := c.GetSchema(ctx, in.ServicePrincipalID, in.JobID)
		if err != nil {
			return res, a.syncErr(err, in.SPCreated)
		}
		if dirID, err = graph.DirectoryID(schema, adDirectoryName); err != nil {
			return res, temporal.NewNonRetryableApplicationError(err.Error(), wf.ErrDirectoryNotInSchema, nil)
		}
	}
	res.ADDirectoryID = dirID
	dir, err := c.Discover(ctx, in.ServicePrincipalID, in.JobID, dirID)
	if err != nil {
		return res, a.syncErr(err, in.SPCreated)
	}
	res.MailNicknamePresent = dir.HasAttribute("user", "mailNickname")
	return res, nil
}

// StartJobs starts the listed jobs that were never started (disabled, never
// run, not quarantined: as Graph creates them). Everything else is left alone:
// Graph's start clears a quarantine, so starting a job quarantined for too many
// deletes would let the deletions through without the human decision the
// watcher asks for; starting a paused job would undo an admin's pause; and
// Graph asks not to start a running job. It reads the jobs' status first (on
// its first attempt, from the listing the jobs step handed on: see JobsSeen).
func (a *Activities) StartJobs(ctx context.Context, in wf.StartJobsInput) (wf.StartJobsResult, error) {
	res := wf.StartJobsResult{Report: wf.StepReport{Step: wf.StepStartJobs}}
	c, err := a.client(in.TenantID)
	if err != nil {
		return res, err
	}
	jobs, err := a.jobs(ctx, c, in.ServicePrincipalID, in.Seen)
	if err != nil {
		return res, a.syncErr(err, in.SPCreated)
	}
	byID := map[string]wf.SeenJob{}
	for _, j := range jobs {
		byID[j.ID] = j
	}
	var notes []string
	for _, id := range in.JobIDs {
		j, ok := byID[id]
		if !ok {
			return res, toTemporal(&graph.Error{Op: "start sync job " + id, Kind: graph.KindNotFound, Status: 404, Message: "job not in the service principal's job list"}, true)
		}
		if j.Running {
			res.AlreadyRunning = append(res.AlreadyRunning, id)
			continue
		}
		if why := leaveAlone(j); why != "" {
			if res.LeftAlone == nil {
				res.LeftAlone = map[string]string{}
			}
			res.LeftAlone[id] = why
			notes = append(notes, id+" "+why)
			continue
		}
		if err := c.StartJob(ctx, in.ServicePrincipalID, id); err != nil {
			return res, a.syncErr(err, in.SPCreated)
		}
		res.Started = append(res.Started, id)
	}
	res.Report.Outcome = wf.OutcomeUnchanged
	if len(res.Started) > 0 {
		res.Report.Outcome = wf.OutcomeChanged
	}
	d := wf.JoinDetail(wf.JoinDetail("", "started", res.Started), "already running", res.AlreadyRunning)
	for _, n := range notes {
		if d != "" {
			d += "; "
		}
		d += n
	}
	res.Report.Detail = d
	return res, nil
}

// leaveAlone says why a job that is not running must not be started, or ""
// when it was never started.
func leaveAlone(j wf.SeenJob) string {
	switch {
	case j.QuarantineReason == "TooManyDeletes":
		return "quarantined (TooManyDeletes): left alone; approve or reject it with starter approve/reject"
	case j.QuarantineReason != "":
		return "quarantined (" + j.QuarantineReason + "): left alone"
	case j.ScheduleState == "Paused":
		return "paused by an admin: left alone"
	case j.NeverStarted():
		return ""
	default:
		return "started before (schedule " + j.ScheduleState + ", status " + j.StatusCode + "): left alone"
	}
}
