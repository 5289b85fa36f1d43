package view

import (
	"fmt"
	"io"
	"time"

	"github.com/cloudsync/cloudsync/starter/pkg/cmdutil"
	"github.com/cloudsync/cloudsync/starter/pkg/text"
	"github.com/cloudsync/cloudsync/starter/pkg/visibility"
	"github.com/cloudsync/cloudsync/workflows"
)

// OffboardExit is the exit code of an offboarding as shown.
func OffboardExit(e visibility.Execution) error {
	if e.Running() {
		return nil
	}
	if st := e.Offboard; st != nil && st.Settled() && st.Phase != workflows.PhaseOffboardFailed && st.Phase != workflows.PhaseOffboardCancelled {
		return nil
	}
	return &cmdutil.ExitError{Code: cmdutil.ExitFailed}
}

// PrintOffboard prints an offboarding: where it is, what it removes, the
// decision and the steps so far, and how to decide when it waits for one.
func PrintOffboard(w io.Writer, c *visibility.Conn, e visibility.Execution) {
	PrintOffboardState(w, c, e, "")
}

func PrintOffboardState(w io.Writer, c *visibility.Conn, e visibility.Execution, indent string) {
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(w, "%s%-14s %s\n", indent, k+":", v)
		}
	}
	row("offboarding", "tenant "+text.OrDash(e.Tenant)+" domain "+text.OrDash(e.Domain))
	row("workflow id", e.ID)
	st := visibility.StatusWord(e.Status)
	if !e.Running() && !e.Close.IsZero() {
		st += " at " + e.Close.Local().Format(time.RFC3339)
	}
	row("status", st)
	s := e.Offboard
	if s == nil {
		if e.StateErr != nil {
			row("phase", "unknown: "+text.OneLine(e.StateErr.Error()))
		}
		row("web ui", c.Link(e.ID))
		return
	}
	phase := s.Phase
	if s.Phase == workflows.PhaseAwaitingOffboardApproval && !s.AwaitingSince.IsZero() {
		phase += " since " + s.AwaitingSince.Local().Format(time.RFC3339)
	}
	row("phase", phase)
	if inv := s.Inventory; inv != nil && inv.Found && (s.Phase == workflows.PhaseAwaitingOffboardApproval || s.Decision == nil) {
		fmt.Fprintf(w, "%swill remove:\n", indent)
		for _, l := range inv.Lines() {
			fmt.Fprintf(w, "%s  - %s\n", indent, l)
		}
		row("never touched", "the tenant's onPremisesSyncEnabled (tenant-wide)")
	}
	if d := s.Decision; d != nil {
		verb := "rejected"
		if d.Approve {
			verb = "approved"
		}
		row("decision", fmt.Sprintf("%s by %s at %s: %s", verb, d.Approver, d.At.Local().Format(time.RFC3339), d.Reason))
	}
	if len(s.Steps) > 0 {
		fmt.Fprintf(w, "%ssteps:\n", indent)
		for _, r := range s.Steps {
			fmt.Fprintln(w, indent+StepLine(r))
		}
	}
	row("error", text.OneLine(s.Error))
	row("result", map[bool]string{true: s.Summary()}[s.Settled()])
	row("web ui", c.Link(e.ID))
	if e.Running() && s.Phase == workflows.PhaseAwaitingOffboardApproval {
		t, d := s.TenantID, s.Domain
		fmt.Fprintf(w, "%sapprove with:  starter offboard --tenant-id %s --domain %s --approve --approver <you@example.com> --reason <why> --wait\n", indent, t, d)
		fmt.Fprintf(w, "%sreject with:   starter offboard --tenant-id %s --domain %s --reject --approver <you@example.com> --reason <why>\n", indent, t, d)
	}
}
