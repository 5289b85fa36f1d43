package view

import (
	"fmt"
	"io"
	"time"

	"github.com/cloudsync/cloudsync/starter/pkg/text"
	"github.com/cloudsync/cloudsync/workflows"
)

// PrintWatcher prints one watcher.
func PrintWatcher(w io.Writer, indent string, v WatcherView) {
	row := func(k, val string) {
		if val != "" {
			fmt.Fprintf(w, "%s%-16s %s\n", indent, k+":", val)
		}
	}
	row("job id", v.JobID)
	row("tenant", v.TenantID)
	row("domain", v.Domain)
	row("workflow id", v.WorkflowID)
	st := v.Status
	if v.Closed != nil {
		st += " at " + v.Closed.Local().Format(time.RFC3339)
	}
	row("status", st)
	if v.State == nil && v.StateError != "" {
		row("phase", "unknown: "+v.StateError)
	}
	if v.State == nil {
		// What the search attributes say.
		if v.Running && v.AwaitingApproval {
			row("awaiting", "deletions held back: awaits an approval (starter approve) or a rejection (starter reject)")
		}
		row("job status", v.JobState)
	} else {
		PrintWatchState(row, *v.State)
	}
	row("started", v.Started.Local().Format(time.RFC3339))
	row("web ui", v.WebUI)
}

func PrintWatchState(row func(k, v string), s workflows.WatchState) {
	row("phase", s.Phase)
	j := s.Job
	if !j.ObservedAt.IsZero() || j.StatusCode != "" {
		js := fmt.Sprintf("schedule %s, status %s", text.OrDash(j.ScheduleState), text.OrDash(j.StatusCode))
		switch {
		case j.Gone:
			js = "deleted (the job or its service principal)"
		case j.Missing:
			js = "not in its service principal's job list since " + j.MissingSince.Local().Format(time.RFC3339)
		case j.Unreachable != "":
			js = "unreachable: " + text.OneLine(j.Unreachable)
		}
		row("job status", js)
	} else {
		row("job status", "not observed yet")
	}
	if j.QuarantineReason != "" {
		q := j.QuarantineReason
		if j.QuarantineError != "" {
			q += " (" + j.QuarantineError + ")"
		}
		if j.QuarantineMessage != "" {
			q += ": " + text.OneLine(j.QuarantineMessage)
		}
		if !j.SeriesBegan.IsZero() {
			q += ", series began " + j.SeriesBegan.Local().Format(time.RFC3339)
		}
		if !j.QuarantineSince.IsZero() {
			q += ", last evaluated " + j.QuarantineSince.Local().Format(time.RFC3339)
		}
		row("quarantine", q)
	}
	if j.LastExecutionState != "" {
		le := j.LastExecutionState
		if !j.LastExecutionEnded.IsZero() {
			le += ", ended " + j.LastExecutionEnded.Local().Format(time.RFC3339)
		}
		if j.LastExecutionError != "" {
			le += ": " + text.OneLine(j.LastExecutionError)
		}
		row("last run", le)
	}
	if s.Presented != nil {
		row("awaiting decision", "episode "+s.Presented.ID()+" (starter approve/reject act on this episode only)")
	}
	row("advice", text.OneLine(s.Advice))
	if !s.AwaitingSince.IsZero() && s.Phase == workflows.PhaseAwaitingApproval {
		row("awaiting since", fmt.Sprintf("%s (%s ago)", s.AwaitingSince.Local().Format(time.RFC3339), time.Since(s.AwaitingSince).Round(time.Second)))
	}
	if s.Reminders > 0 {
		row("reminders", fmt.Sprint(s.Reminders))
	}
	for i := max(0, len(s.Decisions)-3); i < len(s.Decisions); i++ {
		row("decision", DecisionLine(s.Decisions[i]))
	}
	row("outcome", s.Outcome)
	if !j.ObservedAt.IsZero() {
		row("observed", fmt.Sprintf("%s (%d changes reported, run %d)", j.ObservedAt.Local().Format(time.RFC3339), s.Observations, s.Runs))
	}
	if s.Silent {
		row("poller", "silent since "+s.LastHeard.Local().Format(time.RFC3339)+": is a worker running?")
	}
}

func DecisionLine(d workflows.Decision) string {
	// "approved by" only for a decision that settled its episode; one that
	// was not acted upon, refused or failed reads "approval by …: <outcome>".
	verb := "rejected"
	switch {
	case d.Resume:
		verb = "start asked"
	case d.Approve:
		verb = "approved"
	}
	if d.Outcome != "" && !d.Acted() {
		verb = "rejection"
		if d.Approve {
			verb = "approval"
		}
	}
	s := fmt.Sprintf("%s by %s (%s)", verb, text.OrDash(d.Approver), text.OneLine(d.Reason))
	if d.Episode != "" {
		s += " for episode " + d.Episode
	}
	if !d.At.IsZero() {
		s += " at " + d.At.Local().Format(time.RFC3339)
	}
	if d.Outcome != "" {
		s += ": " + text.OneLine(d.Outcome)
	}
	return s
}
