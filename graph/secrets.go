package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	abs "github.com/microsoft/kiota-abstractions-go"
)

// Masked is how Graph shows a sensitive secret value on GET. Writing it back
// would replace the real value with "*".
const Masked = "*"

// Secret is one synchronization secret (key/value; values are often JSON strings).
type Secret struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

const secretsTemplate = "{+baseurl}/servicePrincipals/{servicePrincipal%2Did}/synchronization/secrets"

// GetSecrets reads the service principal's sync secrets, sensitive values masked.
// The SDK has no GET here, and its typed keys drop keys it does not know, so
// this is a raw request through the same adapter.
func (c *Client) GetSecrets(ctx context.Context, spID string) ([]Secret, error) {
	o := op{"get sync secrets", permSync}
	b, err := c.sendBytes(ctx, c.raw(abs.GET, secretsTemplate, map[string]string{"servicePrincipal%2Did": spID}))
	if err != nil {
		return nil, o.wrap(err)
	}
	var res struct {
		Value []Secret `json:"value"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, o.wrap(fmt.Errorf("decode secrets: %w", err))
	}
	return res.Value, nil
}

// PutSecrets replaces the whole secret set (Graph has no PATCH here): send every
// key you want to keep. A masked value is refused before anything is sent.
func (c *Client) PutSecrets(ctx context.Context, spID string, secrets []Secret) error {
	o := op{"put sync secrets", permSync}
	for _, s := range secrets {
		if s.Value == Masked {
			return o.refuse("refusing to write the masked value of %q back", s.Key)
		}
	}
	body, err := json.Marshal(map[string][]Secret{"value": secrets})
	if err != nil {
		return o.wrap(err)
	}
	ri := c.raw(abs.PUT, secretsTemplate, map[string]string{"servicePrincipal%2Did": spID})
	ri.SetStreamContentAndContentType(body, "application/json")
	return o.wrap(c.sendNoContent(ctx, ri))
}

// DomainKey is the secret naming the AD domain a cloud sync configuration
// syncs: its value is {"domain":"contoso.com"}. Graph does not mask it.
const DomainKey = "Domain"

// SecretDomain returns the domain of a Domain secret in the set, and whether
// there is one (with a non-empty domain).
func SecretDomain(secrets []Secret) (string, bool) {
	for _, s := range secrets {
		if !strings.EqualFold(s.Key, DomainKey) || s.Value == Masked {
			continue
		}
		var v struct {
			Domain string `json:"domain"`
		}
		if json.Unmarshal([]byte(s.Value), &v) != nil {
			continue
		}
		if d := NormalizeDomain(v.Domain); d != "" {
			return d, true
		}
	}
	return "", false
}

// NormalizeDomain is how domains compare: case-insensitive, trailing dot ignored.
func NormalizeDomain(d string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
}
