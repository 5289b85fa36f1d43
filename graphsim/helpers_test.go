package graphsim

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/stretchr/testify/require"
)

const (
	testClient = "11111111-2222-4333-8444-555555555555"
	testSecret = "s3cr3t~value"
	tenantA    = "aaaaaaaa-0000-4000-8000-00000000000a"
	tenantB    = "bbbbbbbb-0000-4000-8000-00000000000b"
)

func newSim(t *testing.T, opts Options) *Server {
	t.Helper()
	if opts.Clients == nil {
		opts.Clients = map[string]string{testClient: testSecret}
	}
	if opts.SyncSettle == 0 {
		// Most tests call the sync API on a service principal made a moment
		// ago; TestSyncSettle covers the settling itself.
		opts.SyncSettle = -1
	}
	s, err := New(opts)
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s
}

// waitTicks waits until the sync engine has ticked n more times: what a tick
// would change has then changed (instead of sleeping "a few ticks").
func waitTicks(t *testing.T, s *Server, n int) {
	t.Helper()
	before := s.Stats().EngineTicks
	require.Eventually(t, func() bool { return s.Stats().EngineTicks >= before+n }, 5*time.Second, 5*time.Millisecond, "%d engine ticks", n)
}

func httpClient(s *Server) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.CertPool()}}}
}

func credential(t *testing.T, s *Server, tenant, secret string) *azidentity.ClientSecretCredential {
	t.Helper()
	return credentialVia(t, s, tenant, secret, httpClient(s))
}

// credentialVia builds the real azidentity credential, as the worker does,
// over a given transport.
func credentialVia(t *testing.T, s *Server, tenant, secret string, transport policy.Transporter) *azidentity.ClientSecretCredential {
	t.Helper()
	cred, err := azidentity.NewClientSecretCredential(tenant, testClient, secret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions: azcore.ClientOptions{
			Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: s.AuthorityHost()},
			Transport: transport,
			Retry:     policy.RetryOptions{MaxRetries: -1},
		},
		DisableInstanceDiscovery: true,
	})
	require.NoError(t, err)
	return cred
}

// token gets a token through the real azidentity credential.
func token(t *testing.T, s *Server, tenant string) string {
	t.Helper()
	tok, err := credential(t, s, tenant, testSecret).GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{graphScope}})
	require.NoError(t, err)
	return tok.Token
}

type resp struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &m), "body: %s", r.Body)
	return m
}

// errCode returns error.code of an OData error body.
func (r resp) errCode(t *testing.T) string {
	t.Helper()
	e, ok := r.json(t)["error"].(map[string]any)
	require.True(t, ok, "no error object in %s", r.Body)
	return e["code"].(string)
}

func (r resp) errMessage(t *testing.T) string {
	t.Helper()
	return r.json(t)["error"].(map[string]any)["message"].(string)
}

type caller struct {
	t   *testing.T
	s   *Server
	c   *http.Client
	tok string
}

func newCaller(t *testing.T, s *Server, tenant string) *caller {
	return &caller{t: t, s: s, c: httpClient(s), tok: token(t, s, tenant)}
}

func (c *caller) do(method, path string, body any, hdr ...string) resp {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		require.NoError(c.t, err)
		rd = bytes.NewReader(j)
	}
	u := path
	if !strings.HasPrefix(path, "https://") {
		u = c.s.GraphURL() + path
	}
	req, err := http.NewRequest(method, u, rd)
	require.NoError(c.t, err)
	if c.tok != "" {
		req.Header.Set("Authorization", "Bearer "+c.tok)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := c.c.Do(req)
	require.NoError(c.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(c.t, err)
	return resp{res.StatusCode, res.Header, b}
}

// instantiate creates app+SP and returns the SP id.
func (c *caller) instantiate(name string) string {
	c.t.Helper()
	r := c.do("POST", "/applicationTemplates/"+AD2AADTemplateID+"/instantiate", map[string]any{"displayName": name})
	require.Equal(c.t, 201, r.Status, "%s", r.Body)
	return r.json(c.t)["servicePrincipal"].(map[string]any)["objectId"].(string)
}

func (c *caller) createJob(sp, template string) string {
	c.t.Helper()
	r := c.do("POST", "/servicePrincipals/"+sp+"/synchronization/jobs", map[string]any{"templateId": template})
	require.Equal(c.t, 201, r.Status, "%s", r.Body)
	return r.json(c.t)["id"].(string)
}

func (c *caller) job(sp, id string) map[string]any {
	c.t.Helper()
	r := c.do("GET", "/servicePrincipals/"+sp+"/synchronization/jobs/"+id, nil)
	require.Equal(c.t, 200, r.Status, "%s", r.Body)
	return r.json(c.t)
}

func jobCode(j map[string]any) string {
	return j["status"].(map[string]any)["code"].(string)
}

func violationsOf(s *Server, kind string) []Violation {
	var out []Violation
	for _, v := range s.Violations() {
		if v.Kind == kind {
			out = append(out, v)
		}
	}
	return out
}

func postForm(t *testing.T, s *Server, tenant string, form url.Values) resp {
	t.Helper()
	res, err := httpClient(s).PostForm(s.AuthorityHost()+tenant+"/oauth2/v2.0/token", form)
	require.NoError(t, err)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, res.Header, b}
}
