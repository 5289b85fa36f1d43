package workflows

import (
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"unicode"

	"github.com/cloudsync/cloudsync/internal/clip"
)

// TenantSpec is what an operator asks for one tenant. Pointers mark fields whose
// default is not the zero value (Graph's defaults: threshold on, 500).
type TenantSpec struct {
	TenantID                string          `json:"tenantId" yaml:"tenantId"`
	Domain                  string          `json:"domain" yaml:"domain"`
	DisplayName             string          `json:"displayName,omitempty" yaml:"displayName,omitempty"`
	PasswordHashSync        bool            `json:"passwordHashSync" yaml:"passwordHashSync"`
	ExchangeHybridWriteback bool            `json:"exchangeHybridWriteback" yaml:"exchangeHybridWriteback"`
	Notifications           Notifications   `json:"notifications" yaml:"notifications"`
	DeleteThreshold         DeleteThreshold `json:"deleteThreshold" yaml:"deleteThreshold"`
	StartJobs               *bool           `json:"startJobs,omitempty" yaml:"startJobs,omitempty"`
}

// Notifications are the sync notification emails (SyncNotificationSettings).
type Notifications struct {
	Enabled    bool     `json:"enabled" yaml:"enabled"`
	Recipients []string `json:"recipients,omitempty" yaml:"recipients,omitempty"`
}

// DeleteThreshold is the accidental-delete protection.
type DeleteThreshold struct {
	Enabled *bool `json:"enabled,omitempty" yaml:"enabled,omitempty"`
	Value   *int  `json:"value,omitempty" yaml:"value,omitempty"`
}

// Defaults and limits.
const (
	DefaultDeleteThreshold = 500
	MaxDeleteThreshold     = 100000
	MaxDisplayNameLength   = 120
	MaxRecipients          = 20
)

// FieldError is one invalid field.
type FieldError struct {
	Field   string `json:"field"`
	Problem string `json:"problem"`
}

// ValidationError lists every invalid field at once.
type ValidationError struct {
	Errors []FieldError `json:"errors"`
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Errors))
	for i, f := range e.Errors {
		parts[i] = f.Field + ": " + f.Problem
	}
	return "invalid tenant spec: " + strings.Join(parts, "; ")
}

// ValidationErrorType is the Temporal error type of an invalid spec.
const ValidationErrorType = "InvalidTenantSpec"

var (
	guidRe  = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	labelRe = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
)

// Normalized returns the spec with defaults applied and names canonicalised.
// It is pure, so the workflow can call it.
func (s TenantSpec) Normalized() TenantSpec {
	s.TenantID = strings.ToLower(strings.TrimSpace(s.TenantID))
	s.Domain = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s.Domain)), ".")
	s.DisplayName = strings.TrimSpace(s.DisplayName)
	if s.DisplayName == "" {
		s.DisplayName = s.Domain
		if len(s.DisplayName) > MaxDisplayNameLength {
			s.DisplayName = s.DisplayName[:MaxDisplayNameLength]
		}
	}
	rec := make([]string, 0, len(s.Notifications.Recipients))
	for _, r := range s.Notifications.Recipients {
		if r = strings.TrimSpace(r); r != "" {
			rec = append(rec, r)
		}
	}
	s.Notifications.Recipients = rec
	if s.DeleteThreshold.Enabled == nil {
		s.DeleteThreshold.Enabled = ptr(true)
	}
	if s.DeleteThreshold.Value == nil && *s.DeleteThreshold.Enabled {
		s.DeleteThreshold.Value = ptr(DefaultDeleteThreshold)
	}
	if s.StartJobs == nil {
		s.StartJobs = ptr(true)
	}
	return s
}

// Validate checks a spec; call it on the raw spec (before Normalized) so an
// explicitly empty display name is caught. Every problem is reported.
func (s TenantSpec) Validate() error {
	var errs []FieldError
	add := func(field, format string, a ...any) {
		errs = append(errs, FieldError{Field: field, Problem: fmt.Sprintf(format, a...)})
	}
	tid := strings.TrimSpace(s.TenantID)
	switch {
	case tid == "":
		add("tenantId", "is required: the directory (tenant) id, a GUID like 72f988bf-86f1-41af-91ab-2d7cd011db47")
	case !guidRe.MatchString(tid):
		add("tenantId", "%q is not a GUID: use the directory (tenant) id shown in the Entra admin center, not a domain name", clipValue(tid))
	}
	if msg := domainProblem(s.Domain); msg != "" {
		add("domain", "%s", msg)
	}
	if s.DisplayName != "" {
		dn := strings.TrimSpace(s.DisplayName)
		switch {
		case dn == "":
			add("displayName", "is only spaces: leave it out to use the domain, or give a name")
		case len(dn) > MaxDisplayNameLength:
			add("displayName", "is %d characters long: at most %d", len(dn), MaxDisplayNameLength)
		case strings.IndexFunc(dn, unicode.IsControl) >= 0:
			add("displayName", "contains control characters")
		}
	}
	recipients := 0
	for i, r := range s.Notifications.Recipients {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		recipients++
		if msg := emailProblem(r); msg != "" {
			add(fmt.Sprintf("notifications.recipients[%d]", i), "%s", msg)
		}
	}
	if recipients > MaxRecipients {
		add("notifications.recipients", "has %d addresses: at most %d (use a distribution list)", recipients, MaxRecipients)
	}
	if s.Notifications.Enabled && recipients == 0 {
		add("notifications.recipients", "is empty but notifications are enabled: give at least one email address, or disable notifications")
	}
	if v := s.DeleteThreshold.Value; v != nil {
		if s.DeleteThreshold.Enabled != nil && !*s.DeleteThreshold.Enabled {
			add("deleteThreshold.value", "is set but the threshold is disabled: remove the value, or enable the threshold")
		} else if *v < 1 || *v > MaxDeleteThreshold {
			add("deleteThreshold.value", "%d is out of range: between 1 and %d (Graph's default is %d)", *v, MaxDeleteThreshold, DefaultDeleteThreshold)
		}
	}
	if len(errs) > 0 {
		return &ValidationError{Errors: errs}
	}
	return nil
}

func domainProblem(d string) string {
	d = strings.TrimSpace(d)
	if d == "" {
		return "is required: the on-premises Active Directory domain, e.g. contoso.com"
	}
	d = strings.TrimSuffix(strings.ToLower(d), ".")
	if len(d) > 253 {
		return fmt.Sprintf("is %d characters long: a DNS name has at most 253", len(d))
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return fmt.Sprintf("%q is not a fully qualified domain name: use the AD DNS domain, e.g. corp.contoso.com", clipValue(d))
	}
	for _, l := range labels {
		if !labelRe.MatchString(l) {
			return fmt.Sprintf("%q is not a valid DNS name: label %q must be 1-63 letters, digits or hyphens, not starting or ending with a hyphen", clipValue(d), clipValue(l))
		}
	}
	return ""
}

func emailProblem(r string) string {
	if len(r) > 254 {
		return fmt.Sprintf("%q is %d characters long: an email address has at most 254", clipValue(r), len(r))
	}
	if strings.ContainsAny(r, ",;") {
		return fmt.Sprintf("%q holds several addresses: list each one separately", clipValue(r))
	}
	a, err := mail.ParseAddress(r)
	if err != nil || a.Address != r || !strings.Contains(r[strings.LastIndex(r, "@")+1:], ".") {
		return fmt.Sprintf("%q is not an email address like admin@contoso.com", clipValue(r))
	}
	return ""
}

// clipValue keeps oversized values out of error messages and histories.
func clipValue(s string) string { return clip.To(s, 64, 61, "...") }

func ptr[T any](v T) *T { return &v }
