package activities

import (
	"context"
	"encoding/json"
	"reflect"
	"sort"
	"strings"

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

// DesiredSecrets builds the secret values for a spec. Built here, inside the
// activity, so the payloads never enter workflow inputs or histories.
func DesiredSecrets(in wf.SecretsInput) []graph.Secret {
	scenario := wf.TemplateProvisioning // sync only
	if in.PasswordHashSync {
		scenario = wf.TemplatePasswordHash // sync + password hash
	}
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
	rep := wf.StepReport{Step: wf.StepSecrets}
	c, err := a.client(in.TenantID)
	if err != nil {
		return rep, err
	}
	current, err := c.GetSecrets(ctx, in.ServicePrincipalID)
	if err != nil {
		return rep, toTemporal(err, true)
	}
	desired := DesiredSecrets(in)
	owned := map[string]string{}
	for _, s := range desired {
		owned[s.Key] = s.Value
	}
	have := map[string]string{}
	var foreign []graph.Secret
	var erased []string
	for _, s := range current {
		if _, ours := owned[s.Key]; ours {
			have[s.Key] = s.Value
			continue
		}
		if s.Value == graph.Masked {
			erased = append(erased, s.Key)
			continue
		}
		foreign = append(foreign, s)
	}
	if len(erased) > 0 {
		sort.Strings(erased)
		return rep, temporal.NewNonRetryableApplicationError(
			"the service principal holds secrets cloudsync does not manage and Graph masks ("+strings.Join(erased, ", ")+
				"); replacing the secret set would erase them. Re-enter them together with ours, or remove them, then re-run", wf.ErrSecretWouldBeErased, nil)
	}
	changed := false
	for _, s := range desired {
		got, ok := have[s.Key]
		switch {
		case !ok:
			changed = true
		case got == graph.Masked:
			// Graph hides it: we cannot compare, so we re-assert it below.
		case !sameJSON(got, s.Value):
			changed = true
		}
	}
	if err := c.PutSecrets(ctx, in.ServicePrincipalID, append(desired, foreign...)); err != nil {
		return rep, toTemporal(err, true)
	}
	rep.Outcome = wf.OutcomeUnchanged
	rep.Detail = "Domain, AppKey and SyncNotificationSettings already as desired (AppKey re-asserted: Graph masks it)"
	if changed {
		rep.Outcome = wf.OutcomeChanged
		rep.Detail = "wrote Domain, AppKey and SyncNotificationSettings"
	}
	if len(foreign) > 0 {
		rep.Detail += "; kept " + itoa(len(foreign)) + " other secret(s)"
	}
	return rep, nil
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
