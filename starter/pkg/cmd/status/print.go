package status

import (
	"fmt"

	"go.temporal.io/api/enums/v1"

	"github.com/cloudsync/cloudsync/starter/pkg/text"
	"github.com/cloudsync/cloudsync/starter/pkg/view"
	"github.com/cloudsync/cloudsync/starter/pkg/visibility"
)

// printStatus prints a status view as text.
func (opts *StatusOptions) printStatus(v *View) {
	w := opts.IO.Out
	for i, o := range v.Onboardings {
		if i > 0 {
			fmt.Fprintln(w)
		}
		if v.tenantWide {
			fmt.Fprintf(w, "onboarding of %s:\n", text.OrDash(o.Domain))
		}
		view.PrintOnboarding(w, o)
	}
	if v.watchersOf == "" {
		if v.Plan != nil {
			view.PrintPlans(w, *v.Plan)
		}
		for _, d := range v.Drift {
			fmt.Fprintf(w, "%-14s %s\n%-14s %s\n%-14s %s\n", "workflow id:", d.WorkflowID, "tenant:", d.TenantID, "domain:", d.Domain)
			view.PrintDrift(w, "drift", d.Exec)
			fmt.Fprintf(w, "%-14s %s\n", "web ui:", d.WebUI)
		}
		opts.printOffboardings(v)
		// One watcher or offboarding, by its workflow id.
		for _, wv := range v.Watchers {
			if wv.Summary != "" {
				fmt.Fprintf(w, "%-16s %s\n", "summary:", wv.Summary)
			}
			view.PrintWatcher(w, "", wv)
			if wv.Error != "" || (!wv.Running && wv.Status != visibility.StatusWord(enums.WORKFLOW_EXECUTION_STATUS_COMPLETED)) {
				if wv.Error != "" {
					fmt.Fprintf(w, "%-16s %s\n", "error:", wv.Error)
				}
				fmt.Fprintf(w, "%-16s %s\n", "watch again:", "starter watch --tenant-id "+text.OrDash(wv.TenantID)+" --service-principal-id <sp> --job-id "+wv.JobID)
			}
		}
		return
	}
	if len(v.Onboardings) > 0 {
		fmt.Fprintln(w)
	}
	opts.printWatchers(v)
	if len(v.Drift) > 0 {
		fmt.Fprintln(w)
	}
	for _, d := range v.Drift {
		label := "drift"
		if v.tenantWide {
			label = "drift of " + text.OrDash(d.Domain)
		}
		view.PrintDrift(w, label, d.Exec)
	}
	opts.printOffboardings(v)
}

// printWatchers prints the watchers section of a tenant's (or domain's) status.
func (opts *StatusOptions) printWatchers(v *View) {
	w := opts.IO.Out
	if len(v.Watchers) == 0 {
		if v.noneWatchers {
			fmt.Fprintf(w, "%-14s none\n", "watchers:")
		}
		return
	}
	fmt.Fprintf(w, "watchers of %s (%d):\n", v.watchersOf, len(v.Watchers))
	for i, wv := range v.Watchers {
		if i > 0 {
			fmt.Fprintln(w)
		}
		view.PrintWatcher(w, "  ", wv)
	}
	if v.WatchersTruncated {
		fmt.Fprintf(w, "(only the first %d watchers)\n", len(v.Watchers))
	}
}

// printOffboardings prints the offboardings after the rest; one shown by its
// workflow id stands alone.
func (opts *StatusOptions) printOffboardings(v *View) {
	for _, o := range v.Offboardings {
		if v.watchersOf == "" && len(v.Onboardings)+len(v.Watchers) == 0 {
			view.PrintOffboard(opts.IO.Out, v.conn, o.Exec)
			continue
		}
		fmt.Fprintln(opts.IO.Out)
		fmt.Fprintf(opts.IO.Out, "offboarding of %s:\n", text.OrDash(o.Domain))
		view.PrintOffboardState(opts.IO.Out, v.conn, o.Exec, "  ")
	}
}
