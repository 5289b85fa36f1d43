package view

import (
	"fmt"
	"io"
	"time"

	"github.com/cloudsync/cloudsync/starter/pkg/text"
	"github.com/cloudsync/cloudsync/starter/pkg/visibility"
	"github.com/cloudsync/cloudsync/workflows"
)

// DriftView is one drift check: its CloudSyncDrift and what it publishes.
type DriftView struct {
	WorkflowID string                `json:"workflowId"`
	TenantID   string                `json:"tenantId"`
	Domain     string                `json:"domain"`
	Status     string                `json:"status"` // of the drift check's workflow
	Drift      string                `json:"drift,omitempty"`
	State      *workflows.DriftState `json:"state,omitempty"`
	StateError string                `json:"stateError,omitempty"`
	WebUI      string                `json:"webUi"`

	// Exec is the drift check's run (for the printer, not in JSON).
	Exec visibility.Execution `json:"-"`
}

func DriftViewOf(c *visibility.Conn, e visibility.Execution) DriftView {
	d := DriftView{WorkflowID: e.ID, TenantID: e.Tenant, Domain: e.Domain, Status: visibility.StatusWord(e.Status), Drift: e.DriftSA, State: e.Drift,
		WebUI: c.Link(e.ID), Exec: e}
	if e.DriftErr != nil {
		d.StateError = text.OneLine(e.DriftErr.Error())
	}
	return d
}

// PrintDrift prints one drift check's finding.
func PrintDrift(w io.Writer, label string, e visibility.Execution) {
	const pad = "               "
	row := func(v string) { fmt.Fprintf(w, "%-14s %s\n", label+":", v) }
	st := e.Drift
	switch {
	case e.DriftErr != nil:
		row("cannot be read: " + text.OneLine(e.DriftErr.Error()))
		return
	case !e.Running():
		row("not checked any more (the drift check " + visibility.StatusWord(e.Status) + ")")
		return
	case st == nil:
		row(text.OrDash(e.DriftSA) + " (no check yet)")
		return
	}
	when := func(t time.Time) string { return t.Local().Format(time.RFC3339) }
	checked := "checked " + when(st.CheckedAt)
	if st.By == "onboarding" {
		checked = "as of the onboarding at " + when(st.CheckedAt)
	}
	if !st.NextCheck.IsZero() {
		checked += "; next check " + when(st.NextCheck)
	}
	switch {
	case st.Status == workflows.DriftUnknown:
		last := workflows.DriftStatus(st.Drift)
		row(fmt.Sprintf("unknown: the last check failed: %s (last known: %s, %s)", text.OneLine(st.LastError), last, checked))
	case st.Status == workflows.DriftNone:
		row("none (" + checked + ")")
	default:
		row(fmt.Sprintf("%s since %s (%s)", st.Status, when(st.Since), checked))
		for _, s := range st.Changes {
			fmt.Fprintf(w, "%s  %s %s: %s\n", pad, PlanSymbol(s.Action), s.Step, text.OneLine(s.Detail))
		}
		fmt.Fprintf(w, "%srepair: starter onboard with this tenant's spec (starter plan shows the same)\n", pad)
	}
}
