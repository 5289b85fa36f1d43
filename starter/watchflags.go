package main

import (
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"

	"github.com/spf13/pflag"

	"github.com/cloudsync/cloudsync/starter/pkg/text"
	"github.com/cloudsync/cloudsync/workflows"
)

// Limits of the watch options and decisions (checked before Temporal is
// contacted; the workflow checks them again).
const (
	minReminderInterval = workflows.MinReminderInterval
	maxApproverLength   = workflows.MaxApproverLength
	maxReasonLength     = workflows.MaxReasonLength
	maxApprovers        = workflows.MaxApprovers
)

var (
	guidRe  = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	jobIDRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,255}$`)
)

// problems collects flag problems, one per line, and turns them into exit 2.
type problems []string

func (p *problems) add(flag, format string, a ...any) {
	*p = append(*p, flag+": "+fmt.Sprintf(format, a...))
}

func (p problems) err(what string) error {
	if len(p) == 0 {
		return nil
	}
	return exitf(exitUsage, "%s (%d %s):\n  %s", what, len(p), text.Plural(len(p), "problem", "problems"), strings.Join(p, "\n  "))
}

// checkTenant checks --tenant-id (required) and returns it normalized.
func checkTenant(p *problems, tenant string) string {
	t := strings.ToLower(strings.TrimSpace(tenant))
	switch {
	case t == "":
		p.add("--tenant-id", "is required: the directory (tenant) id, a GUID")
	case !guidRe.MatchString(t):
		p.add("--tenant-id", "%q is not a GUID: use the directory (tenant) id, not a domain name", text.Clip(t))
	}
	return t
}

// checkDomain checks an optional --domain and returns it normalized.
func checkDomain(p *problems, domain string, given bool) string {
	if !given {
		return ""
	}
	// The spec's own rules, so the domain matches what onboarding stored.
	err := workflows.TenantSpec{TenantID: goodGUID, Domain: domain}.Validate()
	if ve, ok := err.(*workflows.ValidationError); ok {
		for _, fe := range ve.Errors {
			if fe.Field == "domain" {
				p.add("--domain", "%s", fe.Problem)
			}
		}
	}
	return workflows.TenantSpec{Domain: domain}.Normalized().Domain
}

// goodGUID stands in for the tenant when only the domain is checked.
const goodGUID = "00000000-0000-0000-0000-000000000000"

// checkJobID checks a --job-id given on the command line.
func checkJobID(p *problems, job string) string {
	j := strings.TrimSpace(job)
	switch {
	case j == "":
		p.add("--job-id", "is required: the sync job id, e.g. AD2AADProvisioning.0123456789abcdef0123456789abcdef.0123456789abcdef0123456789abcdef")
	case !jobIDRe.MatchString(j):
		p.add("--job-id", "%q is not a sync job id: letters, digits, dots, hyphens and underscores, at most 256", text.Clip(j))
	}
	return j
}

// checkText checks a required free-text flag (approver, reason).
func checkText(p *problems, flag, v string, max int, why string) string {
	t := strings.TrimSpace(v)
	switch {
	case t == "":
		p.add(flag, "is required: %s", why)
	case len(t) > max:
		p.add(flag, "is %d characters long: at most %d", len(t), max)
	case strings.IndexFunc(t, unicode.IsControl) >= 0:
		p.add(flag, "contains control characters")
	}
	return t
}

// checkApprover checks an approver flag with the workflow's own rule
// (workflows.CheckApprover: an e-mail address), so the starter refuses (exit
// 2) what the watcher would refuse.
func checkApprover(p *problems, flag, v, why string) string {
	t := checkText(p, flag, v, maxApproverLength, why)
	if t == "" || len(t) > maxApproverLength || strings.IndexFunc(t, unicode.IsControl) >= 0 {
		return t
	}
	if err := workflows.CheckApprover(t); err != nil {
		p.add(flag, "%q is not an e-mail address: name the person who decides, e.g. alice@contoso.com", text.Clip(t))
		return ""
	}
	return t
}

// watchFlags configure watchers (onboard and watch).
type watchFlags struct {
	approvers        []string
	reminderInterval time.Duration
	webhook          string
	webhookURL       string
	pollInterval     time.Duration
}

// watchFlagNames are the flags that configure watchers.
var watchFlagNames = []string{"approver", "reminder-interval", "webhook"}

func (f *watchFlags) register(fs *pflag.FlagSet) {
	fs.StringArrayVar(&f.approvers, "approver", nil, "who may approve or reject held-back deletions, e.g. alice@contoso.com (repeat for several; default: anyone)")
	fs.DurationVar(&f.reminderInterval, "reminder-interval", 0, fmt.Sprintf("how often to remind while deletions await a decision, at least %s (default %s)", minReminderInterval, workflows.DefaultReminderInterval))
	fs.StringVar(&f.webhook, "webhook", "", "name of a webhook configured on the worker (--webhook name=url there) that gets the notifications")
	// Gone with the batched poller; kept to explain the move, not shown.
	fs.StringVar(&f.webhookURL, "webhook-url", "", "")
	fs.DurationVar(&f.pollInterval, "poll-interval", 0, "")
	_ = fs.MarkHidden("webhook-url")
	_ = fs.MarkHidden("poll-interval")
}

// minDuration checks a duration flag against its floor; 0 (the default
// applies) when refused.
func minDuration(p *problems, flag string, d, floor time.Duration, why string) time.Duration {
	switch {
	case d <= 0:
		p.add(flag, "%s must be greater than 0", d)
	case d < floor:
		p.add(flag, "%s is too short: at least %s%s", d, floor, why)
	default:
		return d
	}
	return 0
}

// options validates the flags (changed names those given) into WatchOptions.
func (f *watchFlags) options(p *problems, changed func(string) bool) workflows.WatchOptions {
	var o workflows.WatchOptions
	if changed("poll-interval") {
		p.add("--poll-interval", "is the worker's now: one poller lists every watched job (worker --watch-interval, CLOUDSYNC_WATCH_INTERVAL)")
	}
	if changed("webhook-url") {
		p.add("--webhook-url", "a URL is a secret and stays on the worker: configure it there (worker --webhook name=url) and give --webhook name here")
	}
	if changed("reminder-interval") {
		o.ReminderInterval = minDuration(p, "--reminder-interval", f.reminderInterval, minReminderInterval, "")
	}
	if changed("webhook") {
		name := strings.TrimSpace(f.webhook)
		if !workflows.ValidWebhookName(name) {
			p.add("--webhook", "%q is not a webhook name: lower-case letters, digits, . _ - (the name given to the worker's --webhook name=url)", text.Clip(name))
		} else {
			o.Webhook = name
		}
	}
	if len(f.approvers) > maxApprovers {
		p.add("--approver", "%d approvers: at most %d (use a group address)", len(f.approvers), maxApprovers)
	}
	for i, a := range f.approvers {
		flag := "--approver"
		if len(f.approvers) > 1 {
			flag = fmt.Sprintf("--approver[%d]", i)
		}
		if t := strings.TrimSpace(a); strings.ContainsAny(t, ",;") {
			p.add(flag, "%q holds several names: repeat --approver for each", text.Clip(t))
			continue
		}
		if a = checkApprover(p, flag, a, "who may decide, e.g. alice@contoso.com"); a != "" {
			o.Approvers = append(o.Approvers, a)
		}
	}
	return o
}

// anyChanged lists the given flags among names, as --name.
func anyChanged(changed func(string) bool, names ...string) []string {
	var out []string
	for _, n := range names {
		if changed(n) {
			out = append(out, "--"+n)
		}
	}
	return out
}
