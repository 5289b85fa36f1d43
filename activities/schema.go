package activities

import (
	"context"
	"errors"
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
	return a.editSchema(ctx, in, func(schema []byte) ([]byte, wf.StepReport, error) {
		patched, rep, err := graph.PatchCredentialData(schema)
		switch {
		case err != nil:
			return nil, wf.StepReport{}, err
		case len(rep.Missing) > 0:
			return nil, wf.StepReport{}, temporal.NewNonRetryableApplicationError("the job's schema has no object mapping "+strings.Join(rep.Missing, " or ")+
				": it is not an AD2AAD provisioning schema, or someone renamed the mapping", wf.ErrSchemaMappingMissing, nil)
		case !rep.Changed():
			return nil, wf.StepReport{Outcome: wf.OutcomeUnchanged, Detail: "CredentialData already mapped in " + strings.Join(rep.AlreadyPresent, ", ")}, nil
		}
		r := wf.StepReport{Outcome: wf.OutcomeChanged, Detail: "added CredentialData to " + strings.Join(rep.Added, ", ")}
		if len(rep.AlreadyPresent) > 0 {
			r.Detail += "; already in " + strings.Join(rep.AlreadyPresent, ", ")
		}
		return patched, r, nil
	})
}

// UnpatchSchema removes the CredentialData mapping(s) from the provisioning
// job's schema (password hash sync turned off), byte-preserving like the
// patch. One read; one write only when a mapping is there. It reports the AD
// directory id too, so the exchange step need not read the schema again.
func (a *Activities) UnpatchSchema(ctx context.Context, in wf.JobInput) (wf.SchemaResult, error) {
	return a.editSchema(ctx, in, func(schema []byte) ([]byte, wf.StepReport, error) {
		cleaned, rep, err := graph.RemoveCredentialData(schema)
		switch {
		case err != nil:
			return nil, wf.StepReport{}, err
		case !rep.Changed():
			return nil, wf.StepReport{Outcome: wf.OutcomeUnchanged, Detail: "no CredentialData mapping: " + wf.FeaturePasswordHash + " off"}, nil
		}
		return cleaned, wf.StepReport{Outcome: wf.OutcomeChanged,
			Detail: "changed: removed CredentialData from " + strings.Join(rep.Removed, ", ") + " (" + wf.FeaturePasswordHash + " turned off)"}, nil
	})
}

// editSchema reads the provisioning job's schema, applies edit (raw JSON,
// every other byte kept) and writes it back when edit returns new bytes.
// The AD directory id is reported as well.
func (a *Activities) editSchema(ctx context.Context, in wf.JobInput, edit func([]byte) ([]byte, wf.StepReport, error)) (wf.SchemaResult, error) {
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
	edited, rep, err := edit(schema)
	if err != nil {
		var ae *temporal.ApplicationError
		if errors.As(err, &ae) {
			return res, err
		}
		return res, temporal.NewNonRetryableApplicationError("the job's schema is not a JSON object: "+err.Error(), wf.ErrSchemaMappingMissing, nil)
	}
	if edited != nil {
		if err := c.PutSchema(ctx, in.ServicePrincipalID, in.JobID, edited); err != nil {
			return res, a.syncErr(err, in.SPCreated)
		}
	}
	rep.Step = wf.StepSchema
	res.Report = rep
	return res, nil
}

// PauseJobs pauses the jobs of features the spec turned off, never deletes
// them. A job the service is not running (already paused, or disabled as
// Graph creates it) is left as it is: it stays stopped on later re-runs. It
// reads the jobs' status from the listing the jobs step handed on (first
// attempt) or lists them: no request at all when nothing needs pausing.
func (a *Activities) PauseJobs(ctx context.Context, in wf.PauseJobsInput) (wf.PauseJobsResult, error) {
	res := wf.PauseJobsResult{Report: wf.StepReport{Step: wf.StepPauseJobs}}
	c, err := a.client(in.TenantID)
	if err != nil {
		return res, err
	}
	jobs, err := a.jobs(ctx, c, in.ServicePrincipalID, in.Seen)
	if err != nil {
		return res, a.syncErr(err, in.SPCreated)
	}
	var paused, stopped []string
	for _, fj := range in.Jobs {
		i := -1
		for k, j := range jobs {
			if j.ID == fj.ID {
				i = k
			}
		}
		if i < 0 {
			stopped = append(stopped, fj.ID+" is gone")
			continue
		}
		j := jobs[i]
		if j.ScheduleState != "Active" {
			stopped = append(stopped, fj.ID+" already stopped (schedule "+j.ScheduleState+", "+fj.Feature+" off)")
			continue
		}
		if err := c.PauseJob(ctx, in.ServicePrincipalID, fj.ID); err != nil {
			return res, a.syncErr(err, in.SPCreated)
		}
		jobs[i].ScheduleState, jobs[i].StatusCode, jobs[i].Running = "Paused", "Paused", false
		res.Paused = append(res.Paused, fj.ID)
		paused = append(paused, fj.ID+" ("+fj.Feature+" turned off)")
	}
	res.Seen = newSeen(ctx, jobs)
	if in.Seen != nil && seenUsable(ctx, in.Seen) {
		res.Seen.At = in.Seen.At // no fresher than the listing it came from
	}
	res.Report.Outcome = wf.OutcomeUnchanged
	d := ""
	if len(paused) > 0 {
		res.Report.Outcome = wf.OutcomeChanged
		d = "changed: paused " + strings.Join(paused, ", ")
	}
	for _, n := range stopped {
		if d != "" {
			d += "; "
		}
		d += n
	}
	res.Report.Detail = d
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
	resume := map[string]string{}
	for _, fj := range in.Resume {
		resume[fj.ID] = fj.Feature
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
		if f, ok := resume[id]; ok && j.ScheduleState == "Paused" && j.QuarantineReason == "" {
			// Paused while its feature was off (its configuration was found
			// removed and this run restored it): the spec asks for it again.
			if err := c.StartJob(ctx, in.ServicePrincipalID, id); err != nil {
				return res, a.syncErr(err, in.SPCreated)
			}
			res.Resumed = append(res.Resumed, id)
			notes = append(notes, "resumed "+id+": the spec asks for "+f)
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
	if len(res.Started) > 0 || len(res.Resumed) > 0 {
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
	case j.ScheduleState == "Paused" && j.TemplateID == wf.TemplateExchangeWriteback:
		// cloudsync pauses it when the spec turns Exchange writeback off, and
		// Graph keeps nothing that tells that pause from an admin's.
		return "paused (by an admin, or by an onboarding while Exchange hybrid writeback was off): left alone; start it with starter resume"
	case j.ScheduleState == "Paused":
		return "paused by an admin: left alone"
	case j.NeverStarted():
		return ""
	default:
		return "started before (schedule " + j.ScheduleState + ", status " + j.StatusCode + "): left alone"
	}
}
