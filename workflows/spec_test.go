package workflows

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
)

func TestTenantSpecValidation(t *testing.T) {
	valid := func() TenantSpec {
		return TenantSpec{TenantID: "72f988bf-86f1-41af-91ab-2d7cd011db47", Domain: "corp.contoso.com"}
	}
	cases := []struct {
		name  string
		edit  func(*TenantSpec)
		field string // "" = valid
	}{
		{"valid minimal", func(*TenantSpec) {}, ""},
		{"valid full", func(s *TenantSpec) {
			s.DisplayName, s.PasswordHashSync, s.ExchangeHybridWriteback = "Contoso sync", true, true
			s.Notifications = Notifications{Enabled: true, Recipients: []string{"a@contoso.com", " b@contoso.com "}}
			s.DeleteThreshold = DeleteThreshold{Value: ptr(1)}
		}, ""},
		{"missing tenant", func(s *TenantSpec) { s.TenantID = "" }, "tenantId"},
		{"tenant is a domain", func(s *TenantSpec) { s.TenantID = "contoso.onmicrosoft.com" }, "tenantId"},
		{"tenant guid too short", func(s *TenantSpec) { s.TenantID = "72f988bf-86f1-41af-91ab-2d7cd011db4" }, "tenantId"},
		{"missing domain", func(s *TenantSpec) { s.Domain = " " }, "domain"},
		{"single label domain", func(s *TenantSpec) { s.Domain = "contoso" }, "domain"},
		{"domain label with underscore", func(s *TenantSpec) { s.Domain = "con_toso.com" }, "domain"},
		{"domain label starting with hyphen", func(s *TenantSpec) { s.Domain = "-contoso.com" }, "domain"},
		{"domain too long", func(s *TenantSpec) { s.Domain = strings.Repeat("a.", 130) + "com" }, "domain"},
		{"blank display name", func(s *TenantSpec) { s.DisplayName = "   " }, "displayName"},
		{"display name too long", func(s *TenantSpec) { s.DisplayName = strings.Repeat("x", MaxDisplayNameLength+1) }, "displayName"},
		{"display name control char", func(s *TenantSpec) { s.DisplayName = "a\x00b" }, "displayName"},
		{"bad email", func(s *TenantSpec) { s.Notifications.Recipients = []string{"not-an-email"} }, "notifications.recipients[0]"},
		{"email with display name", func(s *TenantSpec) { s.Notifications.Recipients = []string{"Admin <a@contoso.com>"} }, "notifications.recipients[0]"},
		{"two emails in one", func(s *TenantSpec) { s.Notifications.Recipients = []string{"a@contoso.com,b@contoso.com"} }, "notifications.recipients[0]"},
		{"notify without recipients", func(s *TenantSpec) { s.Notifications.Enabled = true }, "notifications.recipients"},
		{"too many recipients", func(s *TenantSpec) {
			for i := 0; i <= MaxRecipients; i++ {
				s.Notifications.Recipients = append(s.Notifications.Recipients, "a@contoso.com")
			}
		}, "notifications.recipients"},
		{"threshold zero", func(s *TenantSpec) { s.DeleteThreshold.Value = ptr(0) }, "deleteThreshold.value"},
		{"threshold negative", func(s *TenantSpec) { s.DeleteThreshold.Value = ptr(-5) }, "deleteThreshold.value"},
		{"threshold too high", func(s *TenantSpec) { s.DeleteThreshold.Value = ptr(MaxDeleteThreshold + 1) }, "deleteThreshold.value"},
		{"threshold value while disabled", func(s *TenantSpec) { s.DeleteThreshold = DeleteThreshold{Enabled: ptr(false), Value: ptr(10)} }, "deleteThreshold.value"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := valid()
			c.edit(&s)
			err := s.Validate()
			if c.field == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			ve := err.(*ValidationError)
			require.Len(t, ve.Errors, 1, "%v", err)
			require.Equal(t, c.field, ve.Errors[0].Field)
			require.Less(t, len(err.Error()), 400, "oversized values are clipped in messages")
		})
	}
}

func TestTenantSpecNormalizedDefaults(t *testing.T) {
	s := TenantSpec{TenantID: " 72F988BF-86F1-41AF-91AB-2D7CD011DB47 ", Domain: "Corp.Contoso.com."}.Normalized()
	require.Equal(t, "72f988bf-86f1-41af-91ab-2d7cd011db47", s.TenantID)
	require.Equal(t, "corp.contoso.com", s.Domain)
	require.Equal(t, "corp.contoso.com", s.DisplayName)
	require.True(t, *s.DeleteThreshold.Enabled)
	require.Equal(t, DefaultDeleteThreshold, *s.DeleteThreshold.Value)
	require.True(t, *s.StartJobs)
	off := TenantSpec{DeleteThreshold: DeleteThreshold{Enabled: ptr(false)}}.Normalized()
	require.Nil(t, off.DeleteThreshold.Value)
	require.Equal(t, OnboardWorkflowID("72F988BF-86F1-41AF-91AB-2D7CD011DB47", "Corp.Contoso.com"), OnboardWorkflowID(s.TenantID, s.Domain))
}

// The registration list and the typed keys agree: a new attribute added to
// one and not the other would be registered with the wrong type, or not at all.
func TestSearchAttributesListMatchesTheTypedKeys(t *testing.T) {
	typed := TypedSearchAttributes()
	require.Equal(t, len(SearchAttributes), typed.Size())
	types := map[string]string{}
	for k := range typed.GetUntypedValues() {
		types[k.GetName()] = map[enumspb.IndexedValueType]string{
			enumspb.INDEXED_VALUE_TYPE_KEYWORD: "Keyword", enumspb.INDEXED_VALUE_TYPE_BOOL: "Bool", enumspb.INDEXED_VALUE_TYPE_DATETIME: "Datetime",
		}[k.GetValueType()]
	}
	for _, a := range SearchAttributes {
		require.Equal(t, a.Type, types[a.Name], a.Name)
	}
}
