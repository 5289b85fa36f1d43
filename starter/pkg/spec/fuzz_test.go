package spec

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/cloudsync/cloudsync/workflows"
)

// FuzzTenantSpec feeds arbitrary bytes to the spec-file parser. Whatever the
// input: no panic, errors stay bounded; a spec that parses and validates
// survives the trips it makes in production (YAML out and back, the JSON of
// the workflow input), normalises idempotently, still validates once
// normalised, and names the same workflow. Crashers land in
// testdata/fuzz/FuzzTenantSpec and run as regression tests with go test.
func FuzzTenantSpec(f *testing.F) {
	if b, err := os.ReadFile("../../../examples/tenant.yaml"); err == nil {
		f.Add(b)
	}
	for _, s := range []string{
		"tenantId: 11111111-2222-3333-4444-555555555555\ndomain: contoso.com\n",
		"tenantId: 11111111-2222-3333-4444-555555555555\ndomain: Contoso.COM.\ndisplayName: '  x '\nstartJobs: false\n",
		"tenantId: 11111111-2222-3333-4444-555555555555\ndomain: contoso.com\nnotifications: {enabled: true, recipients: [' a@contoso.com ', '']}\n",
		"tenantId: 11111111-2222-3333-4444-555555555555\ndomain: contoso.com\ndeleteThreshold: {enabled: false}\n",
		"deleteThreshold:\n  value: lots\n",
		"notifications:\n  recipient: [a@b.c]\n",
		"tenantId: [unclosed\n",
		"--- \n---\n",
		"&a [*a]",
		"domain: !!binary aGVsbG8=\n",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		spec, err := ParseYAML("tenant.yaml", data)
		if err != nil {
			msg := err.Error()
			if msg == "" {
				t.Fatal("empty error message")
			}
			if len(data) < 4096 && len(msg) > 64*1024 {
				t.Fatalf("a %d-byte file gives a %d-byte error", len(data), len(msg))
			}
			return
		}
		if verr := spec.Validate(); verr != nil {
			if ValidationLines(verr) == "" {
				t.Fatal("empty validation message")
			}
			return
		}
		n := spec.Normalized()
		if again := n.Normalized(); !sameSpec(n, again) {
			t.Fatalf("Normalized is not idempotent:\n%#v\n%#v", n, again)
		}
		if err := n.Validate(); err != nil {
			t.Fatalf("a valid spec is invalid once normalised: %v\n%#v", err, n)
		}
		if workflows.OnboardWorkflowID(spec.TenantID, spec.Domain) != workflows.OnboardWorkflowID(n.TenantID, n.Domain) {
			t.Fatalf("normalising changes the workflow id")
		}
		if !utf8.ValidString(workflows.OnboardWorkflowID(n.TenantID, n.Domain)) {
			t.Fatalf("workflow id is not UTF-8")
		}
		// The workflow input travels as JSON.
		j, err := json.Marshal(workflows.OnboardInput{Spec: spec})
		if err != nil {
			t.Fatalf("json: %v", err)
		}
		var in workflows.OnboardInput
		if err := json.Unmarshal(j, &in); err != nil {
			t.Fatalf("json back: %v\n%s", err, j)
		}
		if !sameSpec(spec, in.Spec) {
			t.Fatalf("JSON round trip changed the spec:\n%#v\n%#v", spec, in.Spec)
		}
		if err := in.Spec.Validate(); err != nil {
			t.Fatalf("valid before JSON, invalid after: %v", err)
		}
		// Written back as YAML (what an operator would save), it reads the same.
		y, err := yaml.Marshal(spec)
		if err != nil {
			t.Fatalf("yaml: %v", err)
		}
		back, err := ParseYAML("tenant.yaml", y)
		if err != nil {
			t.Fatalf("the spec written as YAML does not parse: %v\n%s", err, y)
		}
		if !sameSpec(spec, back) {
			t.Fatalf("YAML round trip changed the spec:\n%#v\n%#v\n%s", spec, back, y)
		}
	})
}

// sameSpec compares specs, an empty recipient list equal to none.
func sameSpec(a, b workflows.TenantSpec) bool {
	if len(a.Notifications.Recipients) == 0 && len(b.Notifications.Recipients) == 0 {
		a.Notifications.Recipients, b.Notifications.Recipients = nil, nil
	}
	return reflect.DeepEqual(a, b) && strings.EqualFold(a.TenantID, b.TenantID)
}
