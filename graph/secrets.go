package graph

import (
	"context"
	"encoding/json"
	"fmt"

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
