package activities

import (
	"context"
	"encoding/json"
	"go.uber.org/zap"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/cloudsync/cloudsync/graph"
	wf "github.com/cloudsync/cloudsync/workflows"
)

// Secret keys cloudsync owns on the AD2AAD service principal.
const (
	keyDomain        = "Domain"
	keyAppKey        = "AppKey"
	keyNotifications = "SyncNotificationSettings"
)

func appKeyScenario(in wf.SecretsInput) string {
	if in.PasswordHashSync {
		return wf.TemplatePasswordHash // sync + password hash
	}
	return wf.TemplateProvisioning // sync only
}

// DesiredSecrets builds the secret values for a spec. Built here, inside the
// activity, so the payloads never enter workflow inputs or histories.
func DesiredSecrets(in wf.SecretsInput) []graph.Secret {
	scenario := appKeyScenario(in)
	domain, _ := json.Marshal(map[string]string{"domain": in.Domain})
	appKey, _ := json.Marshal(map[string]string{"appKeyScenario": scenario})
	n := map[string]any{"Enabled": in.Notifications.Enabled}
	if len(in.Notifications.Recipients) > 0 {
		n["Recipients"] = strings.Join(in.Notifications.Recipients, ",")
	}
	enabled := in.DeleteThreshold.Enabled == nil || *in.DeleteThreshold.Enabled
	n["DeleteThresholdEnabled"] = enabled
	if enabled {
		v := wf.DefaultDeleteThreshold
		if in.DeleteThreshold.Value != nil {
			v = *in.DeleteThreshold.Value
		}
		n["DeleteThresholdValue"] = v
	}
	notif, _ := json.Marshal(n)
	return []graph.Secret{
		{Key: keyDomain, Value: string(domain)},
		{Key: keyAppKey, Value: string(appKey)},
		{Key: keyNotifications, Value: string(notif)},
	}
}

// ApplySecrets makes the secret set hold our desired values. PUT replaces the
// whole set, so keys we do not own are carried over; a masked value ("*") can
// never be written back, so a foreign masked key stops the step rather than
// being erased.
func (a *Activities) ApplySecrets(ctx context.Context, in wf.SecretsInput) (wf.StepReport, error) {
	return settling(ctx, a, in.SPCreated, func(bool) (wf.StepReport, error) { return a.applySecrets(ctx, in) })
}

func (a *Activities) applySecrets(ctx context.Context, in wf.SecretsInput) (wf.StepReport, error) {
	rep := wf.StepReport{Step: wf.StepSecrets}
	c, err := a.client(in.TenantID)
	if err != nil {
		return rep, err
	}
	current, err := c.GetSecrets(ctx, in.ServicePrincipalID)
	if err != nil {
		return rep, a.syncErr(err, in.SPCreated)
	}
	desired := DesiredSecrets(in)
	d := diffSecrets(current, desired)
	if len(d.erased) > 0 {
		return rep, temporal.NewNonRetryableApplicationError(erasedMessage(d.erased), wf.ErrSecretWouldBeErased, nil)
	}
	changed, diffs, foreign := d.changed(), d.diffs, d.foreign
	if err := c.PutSecrets(ctx, in.ServicePrincipalID, append(desired, foreign...)); err != nil {
		return rep, a.syncErr(err, in.SPCreated)
	}
	rep.Outcome = wf.OutcomeUnchanged
	rep.Detail = "Domain, AppKey and SyncNotificationSettings already as desired (AppKey re-asserted, scenario " + appKeyScenario(in) + ": Graph masks it)"
	if changed {
		rep.Outcome = wf.OutcomeChanged
		rep.Detail = "wrote Domain, AppKey and SyncNotificationSettings"
		if len(diffs) > 0 {
			rep.Detail = "changed: " + strings.Join(diffs, ", ") + "; " + rep.Detail
		}
	}
	if len(foreign) > 0 {
		rep.Detail += "; kept " + itoa(len(foreign)) + " other secret(s)"
	}
	if in.ProvisioningJobID != "" {
		rep.Detail += "; " + a.confirmThreshold(ctx, c, in)
	}
	return rep, nil
}

// secretsDiff is the secrets step's decision, shared by the onboarding and
// the plan: what the desired set changes in the current one.
type secretsDiff struct {
	missing []string       // our keys the service principal lacks
	diffs   []string       // our values that differ, named ("delete threshold 500 → 50")
	foreign []graph.Secret // keys we do not own, carried over by the PUT
	erased  []string       // keys we do not own that Graph masks: a PUT would erase them
}

// changed: the set must be written for a change (the AppKey is masked by
// Graph and re-asserted anyway: never a change by itself).
func (d secretsDiff) changed() bool { return len(d.missing) > 0 || len(d.diffs) > 0 }

func diffSecrets(current, desired []graph.Secret) secretsDiff {
	var d secretsDiff
	owned := map[string]string{}
	for _, s := range desired {
		owned[s.Key] = s.Value
	}
	have := map[string]string{}
	for _, s := range current {
		if _, ours := owned[s.Key]; ours {
			have[s.Key] = s.Value
			continue
		}
		if s.Value == graph.Masked {
			d.erased = append(d.erased, s.Key)
			continue
		}
		d.foreign = append(d.foreign, s)
	}
	sort.Strings(d.erased)
	for _, s := range desired {
		got, ok := have[s.Key]
		switch {
		case !ok:
			d.missing = append(d.missing, s.Key)
		case got == graph.Masked:
			// Graph hides it: it cannot be compared, so it is re-asserted.
		case !sameJSON(got, s.Value):
			d.diffs = append(d.diffs, secretDiff(s.Key, got, s.Value)...)
		}
	}
	return d
}

func erasedMessage(erased []string) string {
	return "the service principal holds secrets cloudsync does not manage and Graph masks (" + strings.Join(erased, ", ") +
		"); replacing the secret set would erase them. Re-enter them together with ours, or remove them, then re-run"
}

// thresholdSetting is the job setting Graph derives from the delete threshold
// of SyncNotificationSettings (and the successor of the secrets for it).
const thresholdSetting = "QuarantineTooManyDeletesThreshold"

// confirmThreshold reads the provisioning job back (from the jobs list: a new
// job may not be readable by id yet) and says which delete threshold Graph
// applies. It never fails the step: Graph may not report the setting, or may
// take a moment to derive it.
func (a *Activities) confirmThreshold(ctx context.Context, c *graph.Client, in wf.SecretsInput) string {
	enabled := in.DeleteThreshold.Enabled == nil || *in.DeleteThreshold.Enabled
	want := wf.DefaultDeleteThreshold
	if in.DeleteThreshold.Value != nil {
		want = *in.DeleteThreshold.Value
	}
	got := ""
	for attempt := 0; attempt < 3; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return "delete threshold not confirmed: " + ctx.Err().Error()
			case <-time.After(time.Second):
			}
		}
		jobs, err := c.ListJobs(ctx, in.ServicePrincipalID)
		if err != nil {
			return "delete threshold not confirmed (" + err.Error() + ")"
		}
		got = ""
		for _, j := range jobs {
			if j.ID == in.ProvisioningJobID {
				got = j.Settings[thresholdSetting]
			}
		}
		switch {
		case got == "":
			return "Graph does not report the job's effective delete threshold (" + thresholdSetting + ")"
		case !enabled:
			return "delete threshold off; the job reports " + thresholdSetting + " " + got
		case got == strconv.Itoa(want):
			return "effective delete threshold " + got + " confirmed on the provisioning job"
		}
	}
	a.log().Warn("delete threshold not applied", zap.String("tenant", in.TenantID), zap.String("job", in.ProvisioningJobID),
		zap.Int("want", want), zap.String("graph", got))
	return "WARNING: Graph still reports delete threshold " + got + " on the provisioning job, not " + strconv.Itoa(want) + ": check it in the portal"
}

// secretDiff names what differs between a secret's current and desired
// value, e.g. "delete threshold 500 → 50" or "notifications on → off".
func secretDiff(key, got, want string) []string {
	var g, w map[string]any
	if json.Unmarshal([]byte(got), &g) != nil || json.Unmarshal([]byte(want), &w) != nil {
		return []string{key}
	}
	show := func(v any, ok bool) string {
		switch x := v.(type) {
		case nil:
			if !ok {
				return "none"
			}
			return "null"
		case bool:
			if x {
				return "on"
			}
			return "off"
		case string:
			if x == "" {
				return "none"
			}
			return x
		case float64:
			return strconv.FormatFloat(x, 'f', -1, 64)
		}
		b, _ := json.Marshal(v)
		return string(b)
	}
	names := map[string]string{
		"domain": "domain", "Enabled": "notifications", "Recipients": "recipients",
		"DeleteThresholdEnabled": "delete threshold", "DeleteThresholdValue": "delete threshold",
	}
	order := []string{"domain", "Enabled", "Recipients", "DeleteThresholdEnabled", "DeleteThresholdValue"}
	seen := map[string]bool{}
	for k := range g {
		seen[k] = true
	}
	for k := range w {
		seen[k] = true
	}
	var rest []string
	for k := range seen {
		if _, known := names[k]; !known {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	var out []string
	for _, k := range append(order, rest...) {
		gv, gok := g[k]
		wv, wok := w[k]
		if (!gok && !wok) || reflect.DeepEqual(gv, wv) {
			continue
		}
		if k == "DeleteThresholdValue" && w["DeleteThresholdEnabled"] == false {
			continue // said by "delete threshold on → off"
		}
		name := names[k]
		if name == "" {
			name = key + "." + k
		}
		out = append(out, name+" "+show(gv, gok)+" → "+show(wv, wok))
	}
	if len(out) == 0 {
		return []string{key}
	}
	return out
}

func sameJSON(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return a == b
	}
	return reflect.DeepEqual(x, y)
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
