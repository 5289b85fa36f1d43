package graphsim

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/stretchr/testify/require"
)

// A name no test machine is called (os.Hostname is always in the certificate).
const composeHost = "graphsim-compose.invalid"

// viaListener is a client that reaches any host name at the simulator's
// listener, as a container resolving a compose service name would.
func viaListener(s *Server) *http.Client {
	addr := s.ln.Addr().String()
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: s.CertPool()},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}}
}

func handshake(s *Server, serverName string) (*tls.Conn, error) {
	return tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", s.ln.Addr().String(),
		&tls.Config{RootCAs: s.CertPool(), ServerName: serverName})
}

func TestCertificateWithoutHostsCoversLoopbackOnly(t *testing.T) {
	s := newSim(t, Options{})
	require.Contains(t, s.GraphURL(), "https://127.0.0.1:")
	for _, name := range []string{"localhost", "127.0.0.1"} {
		c, err := handshake(s, name)
		require.NoError(t, err, name)
		c.Close()
	}
	_, err := handshake(s, composeHost)
	require.Error(t, err)
}

func TestHostsExtendCertificateAndAdvertisedURLs(t *testing.T) {
	s := newSim(t, Options{Hosts: []string{composeHost, "10.11.12.13"}})
	_, port, _ := net.SplitHostPort(s.ln.Addr().String())
	base := "https://" + net.JoinHostPort(composeHost, port)
	require.Equal(t, base+"/beta", s.GraphURL())
	require.Equal(t, base+"/", s.AuthorityHost())
	require.Equal(t, base+"/_sim", s.ControlURL())

	for _, name := range []string{composeHost, "10.11.12.13", "localhost", "127.0.0.1"} {
		c, err := handshake(s, name)
		require.NoError(t, err, name)
		c.Close()
	}

	// The OpenID metadata names the same host: MSAL refuses an issuer whose
	// host differs from the authority's.
	res, err := viaListener(s).Get(s.AuthorityHost() + tenantA + "/v2.0/.well-known/openid-configuration")
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, 200, res.StatusCode)
	var meta struct {
		Issuer        string `json:"issuer"`
		TokenEndpoint string `json:"token_endpoint"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&meta))
	for _, u := range []string{meta.Issuer, meta.TokenEndpoint} {
		parsed, err := url.Parse(u)
		require.NoError(t, err)
		require.Equal(t, net.JoinHostPort(composeHost, port), parsed.Host, u)
	}

	// The real azidentity credential, as the worker builds it, gets a token.
	cred := credentialVia(t, s, tenantA, testSecret, viaListener(s))
	tok, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{graphScope}})
	require.NoError(t, err)
	require.NotEmpty(t, tok.Token)
}
