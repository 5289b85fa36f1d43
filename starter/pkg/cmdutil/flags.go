package cmdutil

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
	MinReminderInterval = workflows.MinReminderInterval
	MaxApproverLength   = workflows.MaxApproverLength
	MaxReasonLength     = workflows.MaxReasonLength
	MaxApprovers        = workflows.MaxApprovers
)

var (
	GUIDRe  = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	jobIDRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,255}$`)
)

// Problems collects flag Problems, one per line, and turns them into exit 2.
type Problems []string

// Add records the problem of one flag.
func (p *Problems) Add(flag, format string, a ...any) {
	*p = append(*p, flag+": "+fmt.Sprintf(format, a...))
}

// Err is nil without problems, else exit 2 listing them all.
func (p Problems) Err(what string) error {
	if len(p) == 0 {
		return nil
	}
	return Exitf(ExitUsage, "%s (%d %s):\n  %s", what, len(p), text.Plural(len(p), "problem", "problems"), strings.Join(p, "\n  "))
}

// CheckTenant checks --tenant-id (required) and returns it normalized.
func CheckTenant(p *Problems, tenant string) string {
	t := strings.ToLower(strings.TrimSpace(tenant))
	switch {
	case t == "":
		p.Add("--tenant-id", "is required: the directory (tenant) id, a GUID")
	case !GUIDRe.MatchString(t):
		p.Add("--tenant-id", "%q is not a GUID: use the directory (tenant) id, not a domain name", text.Clip(t))
	}
	return t
}

// CheckDomain checks an optional --domain and returns it normalized.
func CheckDomain(p *Problems, domain string, given bool) string {
	if !given {
		return ""
	}
	// The spec's own rules, so the domain matches what onboarding stored.
	err := workflows.TenantSpec{TenantID: GoodGUID, Domain: domain}.Validate()
	if ve, ok := err.(*workflows.ValidationError); ok {
		for _, fe := range ve.Errors {
			if fe.Field == "domain" {
				p.Add("--domain", "%s", fe.Problem)
			}
		}
	}
	return workflows.TenantSpec{Domain: domain}.Normalized().Domain
}

// GoodGUID stands in for the tenant when only the domain is checked.
const GoodGUID = "00000000-0000-0000-0000-000000000000"

// CheckJobID checks a --job-id given on the command line.
func CheckJobID(p *Problems, job string) string {
	j := strings.TrimSpace(job)
	switch {
	case j == "":
		p.Add("--job-id", "is required: the sync job id, e.g. AD2AADProvisioning.0123456789abcdef0123456789abcdef.0123456789abcdef0123456789abcdef")
	case !jobIDRe.MatchString(j):
		p.Add("--job-id", "%q is not a sync job id: letters, digits, dots, hyphens and underscores, at most 256", text.Clip(j))
	}
	return j
}

// CheckText checks a required free-text flag (approver, reason).
func CheckText(p *Problems, flag, v string, max int, why string) string {
	t := strings.TrimSpace(v)
	switch {
	case t == "":
		p.Add(flag, "is required: %s", why)
	case len(t) > max:
		p.Add(flag, "is %d characters long: at most %d", len(t), max)
	case strings.IndexFunc(t, unicode.IsControl) >= 0:
		p.Add(flag, "contains control characters")
	}
	return t
}

// CheckApprover checks an approver flag with the workflow's own rule
// (workflows.CheckApprover: an e-mail address), so the starter refuses (exit
// 2) what the watcher would refuse.
func CheckApprover(p *Problems, flag, v, why string) string {
	t := CheckText(p, flag, v, MaxApproverLength, why)
	if t == "" || len(t) > MaxApproverLength || strings.IndexFunc(t, unicode.IsControl) >= 0 {
		return t
	}
	if err := workflows.CheckApprover(t); err != nil {
		p.Add(flag, "%q is not an e-mail address: name the person who decides, e.g. alice@contoso.com", text.Clip(t))
		return ""
	}
	return t
}

// WatchFlags configure watchers (onboard and watch).
type WatchFlags struct {
	approvers        []string
	reminderInterval time.Duration
	webhook          string
	webhookURL       string
	pollInterval     time.Duration
}

// WatchFlagNames are the flags that configure watchers.
var WatchFlagNames = []string{"approver", "reminder-interval", "webhook"}

// Register adds the watch flags to fs.
func (f *WatchFlags) Register(fs *pflag.FlagSet) {
	fs.StringArrayVar(&f.approvers, "approver", nil, "who may approve or reject held-back deletions, e.g. alice@contoso.com (repeat for several; default: anyone)")
	fs.DurationVar(&f.reminderInterval, "reminder-interval", 0, fmt.Sprintf("how often to remind while deletions await a decision, at least %s (default %s)", MinReminderInterval, workflows.DefaultReminderInterval))
	fs.StringVar(&f.webhook, "webhook", "", "name of a webhook configured on the worker (--webhook name=url there) that gets the notifications")
	// Gone with the batched poller; kept to explain the move, not shown.
	fs.StringVar(&f.webhookURL, "webhook-url", "", "")
	fs.DurationVar(&f.pollInterval, "poll-interval", 0, "")
	_ = fs.MarkHidden("webhook-url")
	_ = fs.MarkHidden("poll-interval")
}

// MinDuration checks a duration flag against its floor; 0 (the default
// applies) when refused.
func MinDuration(p *Problems, flag string, d, floor time.Duration, why string) time.Duration {
	switch {
	case d <= 0:
		p.Add(flag, "%s must be greater than 0", d)
	case d < floor:
		p.Add(flag, "%s is too short: at least %s%s", d, floor, why)
	default:
		return d
	}
	return 0
}

// Options validates the flags (changed names those given) into WatchOptions.
func (f *WatchFlags) Options(p *Problems, changed func(string) bool) workflows.WatchOptions {
	var o workflows.WatchOptions
	if changed("poll-interval") {
		p.Add("--poll-interval", "is the worker's now: one poller lists every watched job (worker --watch-interval, CLOUDSYNC_WATCH_INTERVAL)")
	}
	if changed("webhook-url") {
		p.Add("--webhook-url", "a URL is a secret and stays on the worker: configure it there (worker --webhook name=url) and give --webhook name here")
	}
	if changed("reminder-interval") {
		o.ReminderInterval = MinDuration(p, "--reminder-interval", f.reminderInterval, MinReminderInterval, "")
	}
	if changed("webhook") {
		name := strings.TrimSpace(f.webhook)
		if !workflows.ValidWebhookName(name) {
			p.Add("--webhook", "%s", workflows.WebhookNameProblem(name))
		} else {
			o.Webhook = name
		}
	}
	if len(f.approvers) > MaxApprovers {
		p.Add("--approver", "%d approvers: at most %d (use a group address)", len(f.approvers), MaxApprovers)
	}
	for i, a := range f.approvers {
		flag := "--approver"
		if len(f.approvers) > 1 {
			flag = fmt.Sprintf("--approver[%d]", i)
		}
		if t := strings.TrimSpace(a); strings.ContainsAny(t, ",;") {
			p.Add(flag, "%q holds several names: repeat --approver for each", text.Clip(t))
			continue
		}
		if a = CheckApprover(p, flag, a, "who may decide, e.g. alice@contoso.com"); a != "" {
			o.Approvers = append(o.Approvers, a)
		}
	}
	return o
}

// AnyChanged lists the given flags among names, as --name.
func AnyChanged(changed func(string) bool, names ...string) []string {
	var out []string
	for _, n := range names {
		if changed(n) {
			out = append(out, "--"+n)
		}
	}
	return out
}
