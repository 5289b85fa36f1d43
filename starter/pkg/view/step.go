package view

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/cloudsync/cloudsync/starter/pkg/text"
	"github.com/cloudsync/cloudsync/workflows"
)

// StepPrinter prints each step report once, in order, and a line when the
// onboarding moves on to another step.
type StepPrinter struct {
	W       io.Writer
	Printed int
	step    string
	attempt int32
	lastErr string
}

func (p *StepPrinter) Steps(s []workflows.StepReport) {
	for ; p.Printed < len(s); p.Printed++ {
		fmt.Fprintln(p.W, StepLine(s[p.Printed]))
	}
}

func (p *StepPrinter) Progress(prog workflows.Progress) {
	p.Steps(prog.Result.Steps)
	if prog.Status != workflows.OnboardingRunning || prog.CurrentStep == "" || prog.CurrentStep == workflows.StepDone {
		return
	}
	attempt := max(prog.Attempt, 1)
	switch {
	case prog.CurrentStep != p.step:
	case attempt != p.attempt && prog.LastError != p.lastErr:
		// Retrying with a new error: say so once per distinct error, not per attempt.
	default:
		return
	}
	// The attempt only when retrying: "(attempt 1)" reads as a retry.
	fmt.Fprintf(p.W, "… waiting on %s%s\n", WithAttempt(prog.CurrentStep, attempt), ErrSuffix(prog.LastError))
	p.step, p.attempt, p.lastErr = prog.CurrentStep, attempt, prog.LastError
}

func ErrSuffix(msg string) string {
	if msg == "" {
		return ""
	}
	return ": last error: " + text.OneLine(msg)
}

func StepLine(r workflows.StepReport) string {
	return strings.TrimRight(fmt.Sprintf("  %-25s %-9s %s", r.Step, r.Outcome, text.OneLine(r.Detail)), " ")
}

// PrintResult lists what an onboarding found or made.
func PrintResult(w io.Writer, r workflows.OnboardResult) {
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(w, "  %-19s %s\n", k+":", v)
		}
	}
	row("tenant", r.TenantID)
	row("domain", r.Domain)
	app := r.AppID
	if r.ApplicationObjectID != "" {
		app += " (object id " + r.ApplicationObjectID + ")"
	}
	row("application", strings.TrimSpace(app))
	row("service principal", r.ServicePrincipalID)
	if len(r.Jobs) > 0 {
		templates := make([]string, 0, len(r.Jobs))
		for t := range r.Jobs {
			templates = append(templates, t)
		}
		sort.Strings(templates)
		fmt.Fprintln(w, "  jobs:")
		for _, t := range templates {
			id := r.Jobs[t]
			if id == "" {
				id = "(none)"
			}
			fmt.Fprintf(w, "    %-30s %s\n", t, id)
		}
	}
	row("exchange writeback", r.Exchange)
	row("watchers", strings.Join(r.Watchers, ", "))
	row("drift check", r.DriftCheck)
}
