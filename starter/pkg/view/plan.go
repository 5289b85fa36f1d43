package view

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/cloudsync/cloudsync/starter/pkg/cmdutil"
	"github.com/cloudsync/cloudsync/starter/pkg/text"
	"github.com/cloudsync/cloudsync/starter/pkg/visibility"
	"github.com/cloudsync/cloudsync/workflows"
)

// PlanReport is `starter plan --output json` (documented in the README).
type PlanReport struct {
	Tenants []PlanTenant `json:"tenants"`
	Summary PlanSummary  `json:"summary"`
}

// PlanTenant is one tenant's plan, or why it could not be made.
type PlanTenant struct {
	TenantID           string               `json:"tenantId"`
	Domain             string               `json:"domain"`
	WorkflowID         string               `json:"workflowId,omitempty"`
	Status             string               `json:"status"` // changes | no-changes | failed
	Changes            int                  `json:"changes"`
	ServicePrincipalID string               `json:"servicePrincipalId,omitempty"`
	Steps              []workflows.PlanStep `json:"steps,omitempty"`
	Error              string               `json:"error,omitempty"`
}

type PlanSummary struct {
	Tenants   int `json:"tenants"`
	ToChange  int `json:"toChange"`
	Unchanged int `json:"unchanged"`
	Failed    int `json:"failed"`
}

// PlanSymbol is Terraform's mark for an action.
func PlanSymbol(a workflows.PlanAction) string {
	switch a {
	case workflows.PlanCreate:
		return "+"
	case workflows.PlanChange:
		return "~"
	case workflows.PlanPause:
		return "-"
	case workflows.PlanStart:
		return ">"
	case workflows.PlanUnknown:
		return "?"
	}
	return " "
}

// PrintPlans prints every tenant's plan, then the fleet's summary line.
func PrintPlans(w io.Writer, rep PlanReport) {
	for i, t := range rep.Tenants {
		if i > 0 {
			fmt.Fprintln(w)
		}
		head := fmt.Sprintf("tenant %s domain %s", t.TenantID, t.Domain)
		switch t.Status {
		case PlanStatusFailed:
			fmt.Fprintf(w, "%s: plan failed: %s\n", head, t.Error)
			if t.WorkflowID != "" {
				fmt.Fprintf(w, "  workflow id: %s\n", t.WorkflowID)
			}
			continue
		case PlanStatusNoChanges:
			fmt.Fprintf(w, "%s: no changes\n", head)
		default:
			fmt.Fprintf(w, "%s: %d to change\n", head, t.Changes)
		}
		for _, s := range t.Steps {
			d := text.OneLine(s.Detail)
			switch s.Action {
			case workflows.PlanNone:
				d = "no change: " + d
			case workflows.PlanUnknown:
				d = "unknown: " + d
			}
			fmt.Fprintln(w, strings.TrimRight(fmt.Sprintf("  %s %-26s %s", PlanSymbol(s.Action), s.Step, d), " "))
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, PlanSummaryLine(rep.Summary))
}

// PlanSummaryLine is Terraform's "Plan: …" line for the fleet.
func PlanSummaryLine(s PlanSummary) string {
	return fmt.Sprintf("Plan: %d %s to change, %d unchanged, %d failed", s.ToChange, text.Plural(s.ToChange, "tenant", "tenants"), s.Unchanged, s.Failed)
}

// PlanReportOf is one plan found by its workflow id (status --workflow-id);
// exit 1 with it when the plan failed.
func PlanReportOf(ctx context.Context, c *visibility.Conn, desc *client.WorkflowExecutionDescription) (*PlanReport, error) {
	e := c.ExecutionOf(desc.RawResponse.GetWorkflowExecutionInfo())
	t := PlanTenant{TenantID: e.Tenant, Domain: e.Domain, WorkflowID: e.ID, Status: PlanStatusFailed}
	if e.Running() {
		t.Status, t.Error = visibility.StatusWord(e.Status), "the plan is still reading: "+c.Link(e.ID)
		return &PlanReport{Tenants: []PlanTenant{t}, Summary: PlanSummary{Tenants: 1}}, nil
	}
	gctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var res workflows.PlanResult
	err := c.GetWorkflow(gctx, e.ID, e.RunID).Get(gctx, &res)
	switch {
	case err == nil:
		t.Steps, t.Changes, t.Status = res.Steps, res.Changes, PlanStatusNoChanges
		if res.Changes > 0 {
			t.Status = PlanStatusChanges
		}
	default:
		if perr := c.PayloadError(err); errors.Is(perr, visibility.ErrNeedKeys) {
			return nil, cmdutil.Exitf(cmdutil.ExitUsage, "cannot read the plan %s: %v", e.ID, perr)
		}
		t.Error = text.OneLine(DescribeFailure(err).Message)
	}
	rep := &PlanReport{Tenants: []PlanTenant{t}, Summary: PlanSummary{Tenants: 1,
		ToChange: btoi(t.Status == PlanStatusChanges), Unchanged: btoi(t.Status == PlanStatusNoChanges), Failed: btoi(t.Status == PlanStatusFailed)}}
	if t.Status == PlanStatusFailed {
		return rep, &cmdutil.ExitError{Code: cmdutil.ExitFailed}
	}
	return rep, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Plan statuses.
const (
	PlanStatusChanges   = "changes"
	PlanStatusNoChanges = "no-changes"
	PlanStatusFailed    = "failed"
)
