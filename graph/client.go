// Package graph is cloudsync's small client for the Microsoft Graph beta
// synchronization API, over msgraph-beta-sdk-go and azidentity. It is the only
// package that imports the SDK.
package graph

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	abs "github.com/microsoft/kiota-abstractions-go"
	absser "github.com/microsoft/kiota-abstractions-go/serialization"
	kauth "github.com/microsoft/kiota-authentication-azure-go"
	khttp "github.com/microsoft/kiota-http-go"
	jsonser "github.com/microsoft/kiota-serialization-json-go"
	textser "github.com/microsoft/kiota-serialization-text-go"
	"github.com/microsoftgraph/msgraph-beta-sdk-go/applicationtemplates"
	"github.com/microsoftgraph/msgraph-beta-sdk-go/models/odataerrors"
	"github.com/microsoftgraph/msgraph-beta-sdk-go/serviceprincipals"
	core "github.com/microsoftgraph/msgraph-sdk-go-core"
)

// Options configure a Client.
type Options struct {
	Cloud Cloud
	// Transport is the base round tripper (TLS trust, proxies). Nil means
	// http.DefaultTransport. Share it with the credential so both trust the same CA.
	Transport http.RoundTripper
	// Observer, if set, sees every HTTP answer (for metrics and request logs).
	Observer func(Observation)
	// WriteRate limits this client's (this tenant's) writes per second, with
	// bursts of WriteBurst; 0 means no limit. See DefaultWriteRate.
	WriteRate  float64
	WriteBurst int
	// ReadOnly makes a client that sends only GET requests: any other method
	// fails before it leaves the process (ErrReadOnly, not retryable).
	ReadOnly bool
}

// Client talks to Graph for one tenant: the tenant is the one the credential
// gets tokens for.
type Client struct {
	adapter  *core.GraphRequestAdapterBase
	sps      *serviceprincipals.ServicePrincipalsRequestBuilder
	tmpl     *applicationtemplates.ApplicationTemplatesRequestBuilder
	baseURL  string
	errorMap abs.ErrorMappings
}

// NewClient builds a client whose requests carry tokens from cred.
//
// Deliberate choices (see REFERENCE.md, "The beta Go SDK"):
//   - the Graph host is the only allowed host, named without a port, so tokens go
//     to it and nowhere else;
//   - the scope is explicit, never derived from the (maybe simulated) host;
//   - request compression is off: after a 429 the SDK can resend a body labelled
//     gzip but not compressed, which Graph rejects with 400;
//   - the SDK's retry handler is off: Temporal owns retries (with Graph's
//     Retry-After as the next delay), so the product of nested retries stays 1 × N.
func NewClient(cred azcore.TokenCredential, opts Options) (*Client, error) {
	if err := opts.Cloud.Validate(); err != nil {
		return nil, err
	}
	auth, err := kauth.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(cred, []string{opts.Cloud.Scope}, []string{opts.Cloud.graphHost()})
	if err != nil {
		return nil, fmt.Errorf("graph auth provider: %w", err)
	}
	httpClient := newHTTPClient(opts)

	// Our own serializer registries, not the SDK's package-level defaults.
	parse := absser.NewParseNodeFactoryRegistry()
	parse.ContentTypeAssociatedFactories["application/json"] = jsonser.NewJsonParseNodeFactory()
	parse.ContentTypeAssociatedFactories["text/plain"] = textser.NewTextParseNodeFactory()
	write := absser.NewSerializationWriterFactoryRegistry()
	write.ContentTypeAssociatedFactories["application/json"] = jsonser.NewJsonSerializationWriterFactory()
	write.ContentTypeAssociatedFactories["text/plain"] = textser.NewTextSerializationWriterFactory()

	adapter, err := core.NewGraphRequestAdapterBaseWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(
		auth, core.GraphClientOptions{GraphServiceVersion: "beta", GraphServiceLibraryVersion: "0.165.0"}, parse, write, httpClient)
	if err != nil {
		return nil, fmt.Errorf("graph request adapter: %w", err)
	}
	adapter.SetBaseUrl(opts.Cloud.GraphBaseURL)
	params := map[string]string{"baseurl": opts.Cloud.GraphBaseURL}
	return &Client{
		adapter:  adapter,
		sps:      serviceprincipals.NewServicePrincipalsRequestBuilderInternal(params, adapter),
		tmpl:     applicationtemplates.NewApplicationTemplatesRequestBuilderInternal(params, adapter),
		baseURL:  opts.Cloud.GraphBaseURL,
		errorMap: abs.ErrorMappings{"XXX": odataerrors.CreateODataErrorFromDiscriminatorValue},
	}, nil
}

func newHTTPClient(opts Options) *http.Client {
	gco := core.GraphClientOptions{GraphServiceVersion: "beta", GraphServiceLibraryVersion: "0.165.0"}
	// ShouldRetry returning false is what turns the SDK's retries off (kiota
	// reads MaxRetries < 1 as its default of 3); it must be set anyway, or
	// per-request options panic.
	noRetry := &khttp.RetryHandlerOptions{
		ShouldRetry: func(time.Duration, int, *http.Request, *http.Response) bool { return false },
	}
	kiota, err := khttp.GetDefaultMiddlewaresWithOptions(noRetry, khttp.NewCompressionOptionsReference(false))
	if err != nil {
		panic(err) // only on an unknown option type: a programming error
	}
	mw := append([]khttp.Middleware{core.NewGraphTelemetryHandler(&gco)}, kiota...)
	base := opts.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	if opts.Observer != nil {
		base = observingTransport{next: base, observe: opts.Observer}
	}
	if l := newWriteLimiter(opts.WriteRate, opts.WriteBurst); l != nil {
		base = limitingTransport{next: base, limiter: l}
	}
	if opts.ReadOnly {
		// Outermost of our transports: a refused request is neither observed
		// (nothing was sent) nor waits for the write budget.
		base = readOnlyTransport{next: base}
	}
	return &http.Client{
		Transport: khttp.NewCustomTransportWithParentTransport(base, mw...),
		// Graph never redirects these calls; a redirect would leak the token to another host.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// raw builds a request for the SDK's gaps, sent through the same adapter so the
// same auth and middleware apply.
func (c *Client) raw(method abs.HttpMethod, template string, params map[string]string) *abs.RequestInformation {
	p := map[string]string{"baseurl": c.baseURL}
	for k, v := range params {
		p[k] = v
	}
	ri := abs.NewRequestInformationWithMethodAndUrlTemplateAndPathParameters(method, template, p)
	ri.Headers.TryAdd("Accept", "application/json")
	return ri
}

func (c *Client) sendBytes(ctx context.Context, ri *abs.RequestInformation) ([]byte, error) {
	res, err := c.adapter.SendPrimitive(ctx, ri, "[]byte", c.errorMap)
	if err != nil {
		return nil, err
	}
	b, _ := res.([]byte)
	if b == nil {
		return nil, errors.New("empty response body")
	}
	return b, nil
}

func (c *Client) sendNoContent(ctx context.Context, ri *abs.RequestInformation) error {
	return c.adapter.SendNoContent(ctx, ri, c.errorMap)
}
