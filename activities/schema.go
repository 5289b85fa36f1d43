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
		patched, rep, err := credentialDataEdit(schema, true)
		if err != nil {
			return nil, wf.StepReport{}, err
		}
		if !rep.Changed() {
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
		cleaned, rep, err := credentialDataEdit(schema, false)
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

// credentialDataEdit is the schema step's decision, shared by the onboarding
// and the plan: with password hash sync on, the CredentialData mapping the
// schema needs added; off, the mapping(s) it needs removed. edited is nil
// when nothing needs writing. A schema without the target object mappings
// is not an AD2AAD provisioning schema: a non-retryable error.
func credentialDataEdit(schema []byte, on bool) (edited []byte, rep graph.SchemaPatch, err error) {
	if !on {
		edited, rep, err = graph.RemoveCredentialData(schema)
	} else {
		edited, rep, err = graph.PatchCredentialData(schema)
		if err == nil && len(rep.Missing) > 0 {
			return nil, rep, temporal.NewNonRetryableApplicationError("the job's schema has no object mapping "+strings.Join(rep.Missing, " or ")+
				": it is not an AD2AAD provisioning schema, or someone renamed the mapping", wf.ErrSchemaMappingMissing, nil)
		}
	}
	if err != nil {
		return nil, rep, notSchema(err)
	}
	if !rep.Changed() {
		edited = nil
	}
	return edited, rep, nil
}

// notSchema is the error of a schema that is not a JSON object.
func notSchema(err error) error {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return err
	}
	return temporal.NewNonRetryableApplicationError("the job's schema is not a JSON object: "+err.Error(), wf.ErrSchemaMappingMissing, nil)
}

// editSchema reads the provisioning job's schema, applies edit (raw JSON,
// every other byte kept) and writes it back when edit returns new bytes.
// The AD directory id is reported as well.
func (a *Activities) editSchema(ctx context.Context, in wf.JobInput, edit func([]byte) ([]byte, wf.StepReport, error)) (wf.SchemaResult, error) {
	return settling(ctx, a, in.SPCreated, func(bool) (wf.SchemaResult, error) { return a.editSchemaOnce(ctx, in, edit) })
}

func (a *Activities) editSchemaOnce(ctx context.Context, in wf.JobInput, edit func([]byte) ([]byte, wf.StepReport, error)) (wf.SchemaResult, error) {
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
		return res, notSchema(err)
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
	return settling(ctx, a, in.SPCreated, func(again bool) (wf.PauseJobsResult, error) {
		if again {
			in.Seen = nil
		}
		return a.pauseJobs(ctx, in)
	})
}

func (a *Activities) pauseJobs(ctx context.Context, in wf.PauseJobsInput) (wf.PauseJobsResult, error) {
	res := wf.PauseJobsResult{Report: wf.StepReport{Step: wf.StepPauseJobs}}
	c, jobs, err := a.tenantJobs(ctx, in.TenantID, in.ServicePrincipalID, in.Seen, in.SPCreated)
	if err != nil {
		return res, err
	}
	toPause, stopped := pauseDecision(jobs, in.Jobs)
	var paused []string
	for _, fj := range toPause {
		i := -1
		for k, j := range jobs {
			if j.ID == fj.ID {
				i = k
			}
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
	res.Report.Detail = appendNotes(d, stopped)
	return res, nil
}

// pauseDecision is the pause-jobs step's decision, shared by the onboarding
// and the plan: of the jobs of features turned off, those the service runs
// (schedule Active) are to be paused; the others are said to be stopped or
// gone.
func pauseDecision(jobs []wf.SeenJob, off []wf.FeatureJob) (pause []wf.FeatureJob, stopped []string) {
	for _, fj := range off {
		var j *wf.SeenJob
		for k := range jobs {
			if jobs[k].ID == fj.ID {
				j = &jobs[k]
			}
		}
		switch {
		case j == nil:
			stopped = append(stopped, fj.ID+" is gone")
		case j.ScheduleState != "Active":
			stopped = append(stopped, fj.ID+" already stopped (schedule "+j.ScheduleState+", "+fj.Feature+" off)")
		default:
			pause = append(pause, fj)
		}
	}
	return pause, stopped
}

// CheckExchangeSchema discovers the AD directory and looks for mailNickname on
// users, which Exchange hybrid writeback needs. Discover often answers 500 at
// first; the workflow bounds the retries.
func (a *Activities) CheckExchangeSchema(ctx context.Context, in wf.ExchangeCheckInput) (wf.ExchangeCheckResult, error) {
	return settling(ctx, a, in.SPCreated, func(bool) (wf.ExchangeCheckResult, error) { return a.checkExchangeSchema(ctx, in) })
}

func (a *Activities) checkExchangeSchema(ctx context.Context, in wf.ExchangeCheckInput) (wf.ExchangeCheckResult, error) {
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
	return settling(ctx, a, in.SPCreated, func(again bool) (wf.StartJobsResult, error) {
		if again {
			in.Seen = nil
		}
		return a.startJobs(ctx, in)
	})
}

func (a *Activities) startJobs(ctx context.Context, in wf.StartJobsInput) (wf.StartJobsResult, error) {
	res := wf.StartJobsResult{Report: wf.StepReport{Step: wf.StepStartJobs}}
	c, jobs, err := a.tenantJobs(ctx, in.TenantID, in.ServicePrincipalID, in.Seen, in.SPCreated)
	if err != nil {
		return res, err
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
		f, resumable := resume[id]
		switch v, why := startDecision(j, resumable); v {
		case startRunning:
			res.AlreadyRunning = append(res.AlreadyRunning, id)
		case startResume:
			if err := c.StartJob(ctx, in.ServicePrincipalID, id); err != nil {
				return res, a.syncErr(err, in.SPCreated)
			}
			res.Resumed = append(res.Resumed, id)
			notes = append(notes, "resumed "+id+": the spec asks for "+f)
		case startLeave:
			if res.LeftAlone == nil {
				res.LeftAlone = map[string]string{}
			}
			res.LeftAlone[id] = why
			notes = append(notes, id+" "+why)
		default:
			if err := c.StartJob(ctx, in.ServicePrincipalID, id); err != nil {
				return res, a.syncErr(err, in.SPCreated)
			}
			res.Started = append(res.Started, id)
		}
	}
	res.Report.Outcome = wf.OutcomeUnchanged
	if len(res.Started) > 0 || len(res.Resumed) > 0 {
		res.Report.Outcome = wf.OutcomeChanged
	}
	d := wf.JoinDetail(wf.JoinDetail("", "started", res.Started), "already running", res.AlreadyRunning)
	res.Report.Detail = appendNotes(d, notes)
	return res, nil
}

// startVerdict is the start-jobs step's decision on one job.
type startVerdict int

const (
	startNew     startVerdict = iota // never started: start it
	startRunning                     // running: nothing to do
	startResume                      // paused while its feature was off, turned back on: start it
	startLeave                       // quarantined, paused by an admin, started before: left alone
)

// startDecision decides one job, shared by the onboarding and the plan.
// resumable: the job's feature was turned back on in this run (its
// configuration was found removed, as cloudsync leaves a feature turned off).
func startDecision(j wf.SeenJob, resumable bool) (startVerdict, string) {
	switch {
	case j.Running:
		return startRunning, ""
	case resumable && j.ScheduleState == "Paused" && j.QuarantineReason == "":
		return startResume, ""
	}
	if why := leaveAlone(j); why != "" {
		return startLeave, why
	}
	return startNew, ""
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
