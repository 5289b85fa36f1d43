package graph

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// AuthMode selects how the worker proves who it is.
type AuthMode string

const (
	AuthClientSecret     AuthMode = "client-secret"
	AuthCertificate      AuthMode = "certificate"
	AuthWorkloadIdentity AuthMode = "workload-identity"
	AuthManagedIdentity  AuthMode = "managed-identity"
)

// CredentialConfig describes the one multi-tenant app the worker uses in every
// customer tenant. Secrets are read here and never copied anywhere else.
type CredentialConfig struct {
	Mode            AuthMode
	ClientID        string
	ClientSecret    string // client-secret
	CertificatePath string // certificate: PEM or PFX with the private key
	CertificatePass string
	TokenFilePath   string // workload-identity: the federated token file
	// Overrides holds per-tenant differences (e.g. another app in one tenant).
	Overrides map[string]CredentialConfig
}

// Redacted is safe to log.
func (c CredentialConfig) Redacted() string {
	return fmt.Sprintf("mode=%s client_id=%s secret_set=%t certificate=%q overrides=%d", c.Mode, c.ClientID, c.ClientSecret != "", c.CertificatePath, len(c.Overrides))
}

// NewCredential builds an azidentity credential for one tenant. A custom
// authority host (simulator, private cloud) turns off instance discovery, or
// MSAL would first ask the public cloud about it.
func NewCredential(cfg CredentialConfig, tenantID string, c Cloud, transport http.RoundTripper) (azcore.TokenCredential, error) {
	if o, ok := cfg.Overrides[tenantID]; ok {
		cfg = o
	}
	opts := azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: c.AuthorityHost}}
	if transport != nil {
		opts.Transport = &http.Client{Transport: transport}
	}
	noDiscovery := !c.KnownAuthority()
	switch cfg.Mode {
	case AuthClientSecret, "":
		if cfg.ClientID == "" || cfg.ClientSecret == "" {
			return nil, fmt.Errorf("client-secret auth needs AZURE_CLIENT_ID and AZURE_CLIENT_SECRET")
		}
		return azidentity.NewClientSecretCredential(tenantID, cfg.ClientID, cfg.ClientSecret,
			&azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: noDiscovery})
	case AuthCertificate:
		data, err := os.ReadFile(cfg.CertificatePath)
		if err != nil {
			return nil, fmt.Errorf("read certificate: %w", err)
		}
		var pass []byte
		if cfg.CertificatePass != "" {
			pass = []byte(cfg.CertificatePass)
		}
		certs, key, err := azidentity.ParseCertificates(data, pass)
		if err != nil {
			return nil, fmt.Errorf("parse certificate %s: %w", cfg.CertificatePath, err)
		}
		return azidentity.NewClientCertificateCredential(tenantID, cfg.ClientID, certs, key,
			&azidentity.ClientCertificateCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: noDiscovery})
	case AuthWorkloadIdentity:
		return azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
			ClientOptions: opts, ClientID: cfg.ClientID, TenantID: tenantID, TokenFilePath: cfg.TokenFilePath,
			DisableInstanceDiscovery: noDiscovery,
		})
	case AuthManagedIdentity:
		// A managed identity lives in one tenant: only useful for the home tenant.
		mi := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: opts}
		if cfg.ClientID != "" {
			mi.ID = azidentity.ClientID(cfg.ClientID)
		}
		return azidentity.NewManagedIdentityCredential(mi)
	}
	return nil, fmt.Errorf("unknown auth mode %q: use client-secret, certificate, workload-identity or managed-identity", cfg.Mode)
}

// Connection pool of the Graph transport. Every tenant's client shares it, and
// Graph is one host: HTTP/2 multiplexes the requests over a few connections;
// without HTTP/2 (a proxy), up to maxIdlePerHost idle connections are kept so
// a worker running its 200 activities at once does not open and close a TLS
// connection per request (Go's default keeps 2).
const (
	maxIdlePerHost = 256
	maxIdle        = 512
)

// TransportWithCA returns the Graph transport, which also trusts the PEM CAs
// in caFile (for a simulator or a TLS-inspecting proxy; empty: the system's).
func TransportWithCA(caFile string) (http.RoundTripper, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns, t.MaxIdleConnsPerHost = maxIdle, maxIdlePerHost
	t.ForceAttemptHTTP2 = true
	if caFile == "" {
		return t, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA file %s holds no PEM certificate", caFile)
	}
	t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return t, nil
}

// Factory hands out one Client per tenant and reuses it (and its connections
// and token cache) across activities.
type Factory struct {
	Cloud       Cloud
	Credentials CredentialConfig
	Transport   http.RoundTripper
	Observer    func(Observation)
	// WriteRate and WriteBurst limit each tenant's writes (see Options).
	WriteRate  float64
	WriteBurst int

	mu       sync.Mutex
	creds    map[string]azcore.TokenCredential
	clients  map[string]*Client
	readOnly map[string]*Client
}

// ForTenant returns the tenant's client.
func (f *Factory) ForTenant(tenantID string) (*Client, error) {
	return f.client(tenantID, false)
}

// ReadOnlyForTenant returns the tenant's read-only client (Options.ReadOnly:
// only GET requests leave the process), for plans and drift checks. It shares
// the tenant's credential, so its token cache, with ForTenant's client.
func (f *Factory) ReadOnlyForTenant(tenantID string) (*Client, error) {
	return f.client(tenantID, true)
}

func (f *Factory) client(tenantID string, readOnly bool) (*Client, error) {
	tenantID = strings.ToLower(strings.TrimSpace(tenantID))
	f.mu.Lock()
	defer f.mu.Unlock()
	cache := &f.clients
	if readOnly {
		cache = &f.readOnly
	}
	if c, ok := (*cache)[tenantID]; ok {
		return c, nil
	}
	cred, ok := f.creds[tenantID]
	if !ok {
		var err error
		if cred, err = NewCredential(f.Credentials, tenantID, f.Cloud, f.Transport); err != nil {
			return nil, err
		}
		if f.creds == nil {
			f.creds = map[string]azcore.TokenCredential{}
		}
		f.creds[tenantID] = cred
	}
	c, err := NewClient(cred, Options{Cloud: f.Cloud, Transport: f.Transport, Observer: f.Observer, WriteRate: f.WriteRate, WriteBurst: f.WriteBurst, ReadOnly: readOnly})
	if err != nil {
		return nil, err
	}
	if *cache == nil {
		*cache = map[string]*Client{}
	}
	(*cache)[tenantID] = c
	return c, nil
}
