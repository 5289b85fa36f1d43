package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/cloudsync/cloudsync/codec"
)

// envOf is a getenv over a map. TEMPORAL_CONFIG_FILE points at a missing
// file unless given, so the developer's own ~/.config/temporalio/temporal.toml
// never leaks into a test.
func envOf(t *testing.T, kv map[string]string) func(string) string {
	t.Helper()
	m := map[string]string{"TEMPORAL_CONFIG_FILE": filepath.Join(t.TempDir(), "absent.toml")}
	for k, v := range kv {
		m[k] = v
	}
	return func(k string) string { return m[k] }
}

// apiKeyOf calls the SDK's API-key credentials (a func under an interface
// with unexported methods) to read the key it will send.
func apiKeyOf(t *testing.T, c client.Credentials) string {
	t.Helper()
	v := reflect.ValueOf(c)
	if v.Kind() != reflect.Func || v.Type().NumIn() != 1 || v.Type().NumOut() != 2 {
		t.Fatalf("credentials are %T, not API-key credentials", c)
	}
	out := v.Call([]reflect.Value{reflect.ValueOf(context.Background())})
	if err, _ := out[1].Interface().(error); err != nil {
		t.Fatal(err)
	}
	return out[0].String()
}

// pki is a throwaway CA, a server certificate for 127.0.0.1 and a client
// certificate, as PEM files.
type pki struct {
	dir                   string
	caFile                string
	serverCert, serverKey string
	clientCert, clientKey string
	caPool                *x509.CertPool
	clientDER             []byte
	serverTLS             tls.Certificate
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	p := &pki{dir: t.TempDir()}
	write := func(name, typ string, der []byte) string {
		path := filepath.Join(p.dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	keyDER := func(k *ecdsa.PrivateKey) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	now := time.Now()
	caKey := key()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "cloudsync test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	p.caFile = write("ca.pem", "CERTIFICATE", caDER)
	p.caPool = x509.NewCertPool()
	p.caPool.AddCert(ca)

	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage, ips []net.IP) ([]byte, *ecdsa.PrivateKey) {
		k := key()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{usage},
			KeyUsage: x509.KeyUsageDigitalSignature, IPAddresses: ips}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, k
	}
	sDER, sKey := leaf(2, "127.0.0.1", x509.ExtKeyUsageServerAuth, []net.IP{net.ParseIP("127.0.0.1")})
	p.serverCert = write("server.pem", "CERTIFICATE", sDER)
	p.serverKey = write("server.key", "PRIVATE KEY", keyDER(sKey))
	p.serverTLS, err = tls.LoadX509KeyPair(p.serverCert, p.serverKey)
	if err != nil {
		t.Fatal(err)
	}
	cDER, cKey := leaf(3, "cloudsync-worker", x509.ExtKeyUsageClientAuth, nil)
	p.clientCert = write("client.pem", "CERTIFICATE", cDER)
	p.clientKey = write("client.key", "PRIVATE KEY", keyDER(cKey))
	p.clientDER = cDER
	return p
}

// frontend is a fake Temporal frontend over TLS that records what each
// GetSystemInfo call (the first call of client.Dial) carried.
type frontend struct {
	workflowservice.UnimplementedWorkflowServiceServer
	addr string
	mu   sync.Mutex
	auth []string // authorization metadata
	peer []string // client certificate common names
}

func (f *frontend) GetSystemInfo(ctx context.Context, _ *workflowservice.GetSystemInfoRequest) (*workflowservice.GetSystemInfoResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	md, _ := metadata.FromIncomingContext(ctx)
	f.auth = append(f.auth, strings.Join(md.Get("authorization"), ","))
	cn := ""
	if p, ok := peer.FromContext(ctx); ok {
		if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(ti.State.PeerCertificates) > 0 {
			cn = ti.State.PeerCertificates[0].Subject.CommonName
		}
	}
	f.peer = append(f.peer, cn)
	return &workflowservice.GetSystemInfoResponse{Capabilities: &workflowservice.GetSystemInfoResponse_Capabilities{}}, nil
}

func startFrontend(t *testing.T, p *pki, requireClientCert bool) *frontend {
	t.Helper()
	conf := &tls.Config{Certificates: []tls.Certificate{p.serverTLS}, MinVersion: tls.VersionTLS12}
	if requireClientCert {
		conf.ClientAuth = tls.RequireAndVerifyClientCert
		conf.ClientCAs = p.caPool
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &frontend{addr: ln.Addr().String()}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(conf)))
	workflowservice.RegisterWorkflowServiceServer(srv, f)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return f
}

func dialAndClose(t *testing.T, opts client.Options) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	opts.ConnectionOptions.GetSystemInfoTimeout = 5 * time.Second
	c, err := client.DialContext(ctx, opts)
	if err == nil {
		c.Close()
	}
	return err
}

// (1) Temporal Cloud with an API key: credentials set and TLS on, and the key
// is sent over TLS when dialling.
func TestClientOptionsAPIKey(t *testing.T) {
	const key = "tmprl-api-key-for-tests"
	opts, err := clientOptions(config{}, envOf(t, map[string]string{
		"TEMPORAL_ADDRESS":   "ns.acct.tmprl.cloud:7233",
		"TEMPORAL_NAMESPACE": "ns.acct",
		"TEMPORAL_API_KEY":   key,
	}))
	if err != nil {
		t.Fatal(err)
	}
	if opts.HostPort != "ns.acct.tmprl.cloud:7233" || opts.Namespace != "ns.acct" {
		t.Fatalf("address %q namespace %q", opts.HostPort, opts.Namespace)
	}
	if opts.Credentials == nil || apiKeyOf(t, opts.Credentials) != key {
		t.Fatal("no API key credentials")
	}
	if opts.ConnectionOptions.TLS == nil || opts.ConnectionOptions.TLSDisabled {
		t.Fatal("TLS is not on with an API key")
	}
	if opts.DataConverter != nil {
		t.Fatal("a data converter without codec keys")
	}

	// Dial a TLS frontend (our CA stands in for the public one Cloud uses).
	p := newPKI(t)
	f := startFrontend(t, p, false)
	opts, err = clientOptions(config{}, envOf(t, map[string]string{
		"TEMPORAL_ADDRESS":                 f.addr,
		"TEMPORAL_NAMESPACE":               "ns.acct",
		"TEMPORAL_API_KEY":                 key,
		"TEMPORAL_TLS_SERVER_CA_CERT_PATH": p.caFile,
	}))
	if err != nil {
		t.Fatal(err)
	}
	if err := dialAndClose(t, opts); err != nil {
		t.Fatalf("dial: %v", err)
	}
	if len(f.auth) == 0 || f.auth[0] != "Bearer "+key {
		t.Fatalf("the frontend saw authorization %q", f.auth)
	}
}

// (2) mTLS: the client certificate is in the TLS config and presented.
func TestClientOptionsMTLS(t *testing.T) {
	p := newPKI(t)
	opts, err := clientOptions(config{}, envOf(t, map[string]string{
		"TEMPORAL_ADDRESS":              "ns.acct.tmprl.cloud:7233",
		"TEMPORAL_NAMESPACE":            "ns.acct",
		"TEMPORAL_TLS_CLIENT_CERT_PATH": p.clientCert,
		"TEMPORAL_TLS_CLIENT_KEY_PATH":  p.clientKey,
	}))
	if err != nil {
		t.Fatal(err)
	}
	tc := opts.ConnectionOptions.TLS
	if tc == nil || len(tc.Certificates) != 1 || !bytes.Equal(tc.Certificates[0].Certificate[0], p.clientDER) {
		t.Fatalf("TLS config does not hold the client certificate: %+v", tc)
	}
	if opts.Credentials != nil {
		t.Fatal("API key credentials without an API key")
	}

	// The frontend requires a client certificate from our CA and sees ours.
	f := startFrontend(t, p, true)
	env := map[string]string{
		"TEMPORAL_ADDRESS":                 f.addr,
		"TEMPORAL_TLS_CLIENT_CERT_PATH":    p.clientCert,
		"TEMPORAL_TLS_CLIENT_KEY_PATH":     p.clientKey,
		"TEMPORAL_TLS_SERVER_CA_CERT_PATH": p.caFile,
	}
	opts, err = clientOptions(config{}, envOf(t, env))
	if err != nil {
		t.Fatal(err)
	}
	if err := dialAndClose(t, opts); err != nil {
		t.Fatalf("dial: %v", err)
	}
	if len(f.peer) == 0 || f.peer[0] != "cloudsync-worker" {
		t.Fatalf("the frontend saw client certificates %q", f.peer)
	}
	// Without the certificate the handshake is refused.
	delete(env, "TEMPORAL_TLS_CLIENT_CERT_PATH")
	delete(env, "TEMPORAL_TLS_CLIENT_KEY_PATH")
	opts, err = clientOptions(config{}, envOf(t, env))
	if err != nil {
		t.Fatal(err)
	}
	if err := dialAndClose(t, opts); err == nil {
		t.Fatal("dialled an mTLS frontend without a client certificate")
	}

	// Half a pair or a missing file is a configuration error, before dialling.
	for name, kv := range map[string]map[string]string{
		"cert only":    {"TEMPORAL_TLS_CLIENT_CERT_PATH": p.clientCert},
		"missing file": {"TEMPORAL_TLS_CLIENT_CERT_PATH": p.clientCert + ".nope", "TEMPORAL_TLS_CLIENT_KEY_PATH": p.clientKey},
	} {
		if _, err := clientOptions(config{}, envOf(t, kv)); err == nil || !strings.Contains(err.Error(), "temporal configuration") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// (3) The TOML profiles of deploy/temporal/temporal.toml.example, with the
// TEMPORAL_* variables and the flags on top.
func TestClientOptionsTOMLProfile(t *testing.T) {
	example, err := filepath.Abs("../deploy/temporal/temporal.toml.example")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(example); err != nil {
		t.Fatalf("the example profile file: %v", err)
	}
	withProfile := func(profile string, extra map[string]string) (client.Options, error) {
		kv := map[string]string{"TEMPORAL_CONFIG_FILE": example, "TEMPORAL_PROFILE": profile}
		for k, v := range extra {
			kv[k] = v
		}
		return clientOptions(config{}, envOf(t, kv))
	}

	opts, err := withProfile("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if opts.HostPort != "localhost:7233" || opts.Namespace != "default" || opts.ConnectionOptions.TLS != nil || opts.Credentials != nil {
		t.Fatalf("default profile: %+v", opts)
	}

	opts, err = withProfile("cloud-api-key", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(opts.HostPort, ".tmprl.cloud:7233") || opts.Namespace != "<namespace>.<account>" ||
		opts.ConnectionOptions.TLS == nil || opts.Credentials == nil {
		t.Fatalf("cloud-api-key profile: %+v", opts)
	}
	// TEMPORAL_API_KEY wins over the file's key; flags win over both for the address.
	opts, err = withProfile("cloud-api-key", map[string]string{"TEMPORAL_API_KEY": "from-env"})
	if err != nil {
		t.Fatal(err)
	}
	if apiKeyOf(t, opts.Credentials) != "from-env" {
		t.Fatal("TEMPORAL_API_KEY did not override the profile")
	}
	opts, err = clientOptions(config{TemporalAddress: "10.0.0.1:7233", TemporalNamespace: "flag-ns"},
		envOf(t, map[string]string{"TEMPORAL_CONFIG_FILE": example, "TEMPORAL_PROFILE": "cloud-api-key", "TEMPORAL_ADDRESS": "env:7233"}))
	if err != nil || opts.HostPort != "10.0.0.1:7233" || opts.Namespace != "flag-ns" {
		t.Fatalf("flags over profile and env: %q %q %v", opts.HostPort, opts.Namespace, err)
	}

	// cloud-mtls names /etc/temporal/tls (the Kubernetes overlay's mount): here
	// the files are missing, and the error says so; the TEMPORAL_TLS_* paths
	// override the profile's.
	_, err = withProfile("cloud-mtls", nil)
	if err == nil || !strings.Contains(err.Error(), "client cert") {
		t.Fatalf("cloud-mtls without its files: %v", err)
	}
	p := newPKI(t)
	opts, err = withProfile("cloud-mtls", map[string]string{"TEMPORAL_TLS_CLIENT_CERT_PATH": p.clientCert, "TEMPORAL_TLS_CLIENT_KEY_PATH": p.clientKey})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(opts.HostPort, ".tmprl.cloud:7233") || opts.ConnectionOptions.TLS == nil ||
		len(opts.ConnectionOptions.TLS.Certificates) != 1 || opts.Credentials != nil {
		t.Fatalf("cloud-mtls profile: %+v", opts)
	}

	if _, err := withProfile("nope", nil); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("unknown profile: %v", err)
	}
}

// An empty TEMPORAL_TLS_* variable (compose passes "${X:-}") is unset: no TLS.
func TestClientOptionsEmptyVariablesAreUnset(t *testing.T) {
	opts, err := clientOptions(config{}, envOf(t, map[string]string{
		"TEMPORAL_ADDRESS":              "temporal:7233",
		"TEMPORAL_TLS_CLIENT_CERT_PATH": "",
		"TEMPORAL_TLS_SERVER_NAME":      "",
		"TEMPORAL_API_KEY":              "",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if opts.HostPort != "temporal:7233" || opts.ConnectionOptions.TLS != nil || opts.Credentials != nil {
		t.Fatalf("empty variables changed the options: %+v", opts)
	}
}

// With codec keys the client encrypts payloads.
func TestClientOptionsCodec(t *testing.T) {
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	cfg, err := loadConfig(nil, envOf(t, map[string]string{
		"AZURE_CLIENT_ID": "app", "AZURE_CLIENT_SECRET": "s",
		"CLOUDSYNC_CODEC_KEYS": "kid1=" + key, "CLOUDSYNC_CODEC_KEY_ID": "kid1",
	}))
	if err != nil {
		t.Fatal(err)
	}
	opts, err := clientOptions(cfg, envOf(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	if opts.DataConverter == nil {
		t.Fatal("no data converter with codec keys")
	}
	p, err := opts.DataConverter.ToPayload(map[string]string{"domain": "contoso.com"})
	if err != nil {
		t.Fatal(err)
	}
	if string(p.Metadata["encoding"]) != codec.MetadataEncoding || string(p.Metadata[codec.MetadataKeyID]) != "kid1" || bytes.Contains(p.Data, []byte("contoso")) {
		t.Fatalf("payload not encrypted: %v", p)
	}
	if s := codecSummary(cfg); strings.Contains(s, key) || !strings.Contains(s, "kid1") {
		t.Fatalf("codec summary %q", s)
	}
}
