package graphsim

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configures a Server. The zero value is usable.
type Options struct {
	Addr         string            // listen address, default "127.0.0.1:0"
	Dir          string            // where to write ca.pem (default: a fresh temporary directory, removed by Close)
	Clients      map[string]string // clientID -> client secret accepted (multi-tenant app: valid in any tenant)
	KnownTenants []string          // if non-empty, tokens for other tenants are refused with AADSTS90002
	Seed         int64             // deterministic randomness (ids, fault draws)
	// Hosts are extra names (DNS names or IP addresses) the TLS certificate is
	// valid for, besides localhost and 127.0.0.1. The first one is also the host
	// in the advertised URLs (GraphURL, AuthorityHost, ControlURL and the OpenID
	// metadata, whose issuer MSAL checks against the authority host), for
	// clients that reach the simulator by that name, e.g. a compose service.
	Hosts []string

	Latency           time.Duration // added to every Graph request
	ThrottleRate      float64       // fraction of Graph requests answered 429
	UnavailableRate   float64       // fraction of Graph requests answered 503
	RetryAfterSeconds float64       // Retry-After value (decimal seconds); 0 = drawn in [0.2, 1.0)
	ReplicationLag    time.Duration // a fresh service principal answers 404 for this long
	// ListLag keeps a new service principal out of $filter lists for this long
	// (Graph's directory search catches up later than reads by id); 0 lists it at once.
	ListLag          time.Duration
	DiscoverFailures int           // first N discover calls per tenant fail with 500
	SyncInterval     time.Duration // sync engine tick (default 1s)
	// JobReadLag: a new job answers GET …/jobs/{jobId} with 404 for this long
	// after its creation, while the jobs list already shows it (Terraform's
	// azuread provider waits for 5 readable answers in a row). 0 means
	// DefaultJobReadLag; negative, none.
	JobReadLag time.Duration
	// QuarantineReevaluation is how often Graph re-evaluates a quarantined job
	// (about daily): at each re-evaluation the quarantine is imposed again
	// (currentBegan and nextAttempt move, seriesCount grows, seriesBegan stays)
	// or lifted when its cause is gone. 0 or negative means
	// DefaultQuarantineReevaluation.
	QuarantineReevaluation time.Duration
	// SyncSettle: synchronization calls on a service principal younger than
	// this answer 403 Authorization_RequestDenied and 409 Conflict in turn, as
	// Graph does for a few minutes after one is created (Terraform's azuread
	// provider retries exactly these). 0 means DefaultSyncSettle; negative, none.
	SyncSettle time.Duration
	// DeleteLag: after a DELETE, reads (GET by id, lists, the jobs list, the
	// secrets) still show the deleted object for this long, as Graph's
	// replicas catch up (Terraform's azuread provider waits for five
	// "not found" answers in a row after each delete). Writes see it gone at
	// once. 0 means DefaultDeleteLag; negative, none.
	DeleteLag time.Duration
	// ExactJobCreateAnswer: the answer to creating an AD2AADProvisioning job
	// names its template. By default it shows "ADDCInPassthrough", as the
	// documented answer does: clients must recognise jobs by their id too.
	ExactJobCreateAnswer bool
	// SyncDeactivation: turning a tenant's directory sync off (onPremisesSyncEnabled
	// false) runs this long, and Graph refuses to turn it on again meanwhile
	// ("Deactivating DirSync may take up to 72 hours ... must complete before
	// you can take further action, including re-enabling DirSync"). 0 means
	// DefaultSyncDeactivation; negative, none.
	SyncDeactivation time.Duration
}

// Defaults of the Graph-like behaviours that Options turns on by default.
const (
	DefaultJobReadLag             = 2 * time.Second
	DefaultQuarantineReevaluation = 24 * time.Hour
	DefaultSyncSettle             = 3 * time.Second
	DefaultDeleteLag              = 2 * time.Second
	DefaultSyncDeactivation       = 72 * time.Hour
)

// Faults are the runtime-adjustable fault knobs. SetFaults replaces all of
// them at once. In JSON, durations may be given as Go duration strings
// ("250ms", "3s") or as integer nanoseconds.
type Faults struct {
	ThrottleRate      float64       `json:"throttleRate"`
	UnavailableRate   float64       `json:"unavailableRate"`
	RetryAfterSeconds float64       `json:"retryAfterSeconds"`
	Latency           time.Duration `json:"latency"`
	ReplicationLag    time.Duration `json:"replicationLag"`
	DiscoverFailures  int           `json:"discoverFailures"`
	TokenEndpointDown bool          `json:"tokenEndpointDown"`
	// JobReadLag: a job younger than this answers GET by id with 404 (0: none).
	JobReadLag time.Duration `json:"jobReadLag"`
	// QuarantineReevaluation: a quarantined job is re-evaluated this long
	// after the last evaluation (0 or negative: DefaultQuarantineReevaluation).
	QuarantineReevaluation time.Duration `json:"quarantineReevaluation"`
	// DeleteLag: a deleted object still shows in reads this long (0: none).
	DeleteLag time.Duration `json:"deleteLag"`
}

// faultsFields is Faults without its JSON methods.
type faultsFields Faults

// faultsJSON is Faults in JSON: its durations as jsonDuration.
type faultsJSON struct {
	*faultsFields
	Latency                *jsonDuration `json:"latency"`
	ReplicationLag         *jsonDuration `json:"replicationLag"`
	JobReadLag             *jsonDuration `json:"jobReadLag"`
	QuarantineReevaluation *jsonDuration `json:"quarantineReevaluation"`
	DeleteLag              *jsonDuration `json:"deleteLag"`
}

func (f *Faults) wire() *faultsJSON {
	return &faultsJSON{(*faultsFields)(f), (*jsonDuration)(&f.Latency), (*jsonDuration)(&f.ReplicationLag),
		(*jsonDuration)(&f.JobReadLag), (*jsonDuration)(&f.QuarantineReevaluation), (*jsonDuration)(&f.DeleteLag)}
}

// MarshalJSON writes durations as Go duration strings.
func (f Faults) MarshalJSON() ([]byte, error) {
	f.QuarantineReevaluation = f.quarantineReevaluation()
	return json.Marshal(f.wire())
}

// quarantineReevaluation is the re-evaluation period in force.
func (f Faults) quarantineReevaluation() time.Duration {
	if f.QuarantineReevaluation <= 0 {
		return DefaultQuarantineReevaluation
	}
	return f.QuarantineReevaluation
}

// UnmarshalJSON accepts durations as strings ("3s") or integer nanoseconds;
// a knob left out is zero.
func (f *Faults) UnmarshalJSON(b []byte) error {
	var n Faults
	if err := json.Unmarshal(b, n.wire()); err != nil {
		// Name the knob as a caller spells it, not our wire types.
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			want := te.Type.String()
			if te.Type == reflect.TypeFor[time.Duration]() {
				want = `duration (a string such as "250ms", or integer nanoseconds)`
			}
			return fmt.Errorf("%s: %s is not a %s", te.Field[strings.LastIndex(te.Field, ".")+1:], te.Value, want)
		}
		return err
	}
	*f = n
	return nil
}

// jsonDuration is a duration in JSON: a Go duration string ("250ms") when
// written; that or integer nanoseconds when read.
type jsonDuration time.Duration

func (d jsonDuration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *jsonDuration) UnmarshalJSON(b []byte) error {
	var s string
	why := ""
	if json.Unmarshal(b, &s) == nil {
		v, err := time.ParseDuration(s)
		if err == nil {
			*d = jsonDuration(v)
			return nil
		}
		why = " (" + err.Error() + ")"
	} else if n, err := strconv.ParseInt(string(b), 10, 64); err == nil {
		*d = jsonDuration(n)
		return nil
	}
	// The decoder adds the field's name to a type error.
	return &json.UnmarshalTypeError{Value: string(b) + why, Type: reflect.TypeFor[time.Duration]()}
}

// TenantOptions are per-tenant behaviours.
type TenantOptions struct {
	// NoExchangeSchema: the AD directory discovered by discover lacks mailNickname.
	NoExchangeSchema bool `json:"noExchangeSchema"`
	// MissingPermission, when set (e.g. "Synchronization.ReadWrite.All"),
	// makes every Graph write in the tenant answer 403 Authorization_RequestDenied.
	MissingPermission string `json:"missingPermission"`
	// ConsentRevoked: an admin removed the app's consent in the tenant; every
	// Graph request, reads too, answers 403 Authorization_RequestDenied.
	ConsentRevoked bool `json:"consentRevoked"`
	// RejectNotificationSettings makes the sync back end refuse every
	// SyncNotificationSettings secret with 400 UnknownError wrapping
	// InvalidNotificationSettings, as Graph does for settings it finds invalid
	// by rules a client cannot fully know in advance.
	RejectNotificationSettings bool `json:"rejectNotificationSettings"`
}

// Violation is a misuse of the API that Graph would have accepted (or
// answered like any other error) but that a correct client must avoid.
type Violation struct {
	Kind   string    `json:"kind"`
	Tenant string    `json:"tenant"`
	Detail string    `json:"detail"`
	Time   time.Time `json:"time"`
}

// Violation kinds.
const (
	ViolationDuplicateApplication    = "duplicate-application"
	ViolationDuplicateJob            = "duplicate-job"
	ViolationDuplicateCredentialData = "duplicate-credentialdata"
	ViolationMaskedSecretWritten     = "masked-secret-written"
	ViolationStartOnRunningJob       = "start-on-running-job"
	// ViolationStartLiftedQuarantine: start on a job quarantined for
	// TooManyDeletes. Start clears any quarantine, so it lets the held
	// deletions through without the human decision the threshold asks for.
	ViolationStartLiftedQuarantine = "start-lifted-quarantine"
	ViolationCrossTenantToken      = "cross-tenant-token"
	// ViolationDuplicateDomain: a Domain secret written on a service principal
	// while another of the tenant already has that domain (two cloud sync
	// configurations syncing one AD domain).
	ViolationDuplicateDomain = "duplicate-domain"
	// ViolationSyncFlagTurnedOff: PATCH organization with
	// onPremisesSyncEnabled false on a tenant where it was on. The flag is
	// tenant-wide (every domain's sync, Connect Sync's too): cloudsync never
	// turns it off, not even when it offboards a configuration.
	ViolationSyncFlagTurnedOff = "sync-flag-turned-off"
)

// Stats counts requests.
type Stats struct {
	// Requests is keyed by "METHOD route-pattern status", e.g.
	// "POST /servicePrincipals/{id}/synchronization/jobs 201". Token endpoint
	// requests are counted too ("POST /{tenant}/oauth2/v2.0/token 200").
	Requests           map[string]int `json:"requests"`
	TotalGraphRequests int            `json:"totalGraphRequests"`
	// GraphWrites counts non-GET Graph requests that reached the handler
	// (authenticated and not faulted), whatever their answer.
	GraphWrites  int `json:"graphWrites"`
	Throttled    int `json:"throttled"`
	Unavailable  int `json:"unavailable"`
	TokensIssued int `json:"tokensIssued"`
	// Connections counts the TCP connections clients opened (Graph, token
	// and control requests share the port): a measure of connection reuse.
	Connections int `json:"connections"`
	// EngineTicks counts the sync engine's ticks (every SyncInterval), so a
	// test can wait for ticks to have passed instead of sleeping.
	EngineTicks int `json:"engineTicks"`
}

// Request is one Graph request as logged by the simulator.
type Request struct {
	Time   time.Time `json:"time"`
	Method string    `json:"method"`
	Path   string    `json:"path"`  // URL path, e.g. /beta/servicePrincipals/…
	Query  string    `json:"query"` // decoded raw query
	Route  string    `json:"route"` // e.g. "POST /servicePrincipals/{id}/synchronization/jobs/{jobId}/restart"
	Status int       `json:"status"`
	Tenant string    `json:"tenant"`
	// Body is stored only for the start and restart routes (never for
	// secrets).
	Body      string `json:"body,omitempty"`
	RequestID string `json:"requestId"`
}

// Server is a running simulator.
type Server struct {
	opts     Options
	ln       net.Listener
	http     *http.Server
	baseURL  string // https://127.0.0.1:PORT, or https://Hosts[0]:PORT
	caFile   string
	caPEM    []byte
	pool     *x509.CertPool
	ownDir   string
	stop     chan struct{}
	engineWG sync.WaitGroup

	mu         sync.Mutex
	faults     Faults
	idRNG      *rand.Rand
	faultRNG   *rand.Rand
	tenants    map[string]*tenant
	tokens     map[string]tokenInfo
	stats      Stats
	violations []Violation
	log        []Request
	closeOnce  sync.Once
	control    *http.ServeMux
}

// New starts a simulator listening on HTTPS and writes its CA certificate.
func New(opts Options) (*Server, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.SyncInterval <= 0 {
		opts.SyncInterval = time.Second
	}
	opts.JobReadLag = orDefault(opts.JobReadLag, DefaultJobReadLag)
	if opts.QuarantineReevaluation <= 0 {
		opts.QuarantineReevaluation = DefaultQuarantineReevaluation
	}
	opts.SyncSettle = orDefault(opts.SyncSettle, DefaultSyncSettle)
	opts.DeleteLag = orDefault(opts.DeleteLag, DefaultDeleteLag)
	opts.SyncDeactivation = orDefault(opts.SyncDeactivation, DefaultSyncDeactivation)
	s := &Server{
		opts: opts,
		faults: Faults{
			ThrottleRate:           opts.ThrottleRate,
			UnavailableRate:        opts.UnavailableRate,
			RetryAfterSeconds:      opts.RetryAfterSeconds,
			Latency:                opts.Latency,
			ReplicationLag:         opts.ReplicationLag,
			DiscoverFailures:       opts.DiscoverFailures,
			JobReadLag:             opts.JobReadLag,
			QuarantineReevaluation: opts.QuarantineReevaluation,
			DeleteLag:              opts.DeleteLag,
		},
		idRNG:    rand.New(rand.NewPCG(uint64(opts.Seed), 0x9e3779b97f4a7c15)),
		faultRNG: rand.New(rand.NewPCG(uint64(opts.Seed), 0xd1b54a32d192ed03)),
		tenants:  map[string]*tenant{},
		tokens:   map[string]tokenInfo{},
		stop:     make(chan struct{}),
	}
	s.stats.Requests = map[string]int{}
	s.control = s.controlMux()

	dir := opts.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "graphsim-")
		if err != nil {
			return nil, err
		}
		dir, s.ownDir = d, d
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	cert, caPEM, err := makeCertificates(opts.Hosts)
	if err != nil {
		s.cleanupDir()
		return nil, err
	}
	s.caPEM = caPEM
	s.caFile = filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(s.caFile, caPEM, 0o644); err != nil {
		s.cleanupDir()
		return nil, err
	}
	s.pool = x509.NewCertPool()
	s.pool.AppendCertsFromPEM(caPEM)

	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		s.cleanupDir()
		return nil, err
	}
	s.ln = ln
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	if len(opts.Hosts) > 0 {
		host = opts.Hosts[0]
	}
	s.baseURL = "https://" + net.JoinHostPort(host, port)
	s.http = &http.Server{
		Handler:           http.HandlerFunc(s.serveHTTP),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          nil,
		ConnState: func(_ net.Conn, st http.ConnState) {
			if st == http.StateNew {
				s.mu.Lock()
				s.stats.Connections++
				s.mu.Unlock()
			}
		},
	}
	go func() { _ = s.http.ServeTLS(ln, "", "") }()
	s.engineWG.Add(1)
	go s.runEngine()
	return s, nil
}

// orDefault reads an Options duration whose zero means def and whose
// negative values mean none.
func orDefault(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

func (s *Server) cleanupDir() {
	if s.ownDir != "" {
		_ = os.RemoveAll(s.ownDir)
	}
}

// Close stops the server and the sync engine.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.stop)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = s.http.Shutdown(ctx)
		s.engineWG.Wait()
		s.cleanupDir()
	})
}

// GraphURL is the Graph beta base URL, e.g. "https://127.0.0.1:PORT/beta".
func (s *Server) GraphURL() string { return s.baseURL + "/beta" }

// AuthorityHost is the azidentity authority host (with trailing slash).
func (s *Server) AuthorityHost() string { return s.baseURL + "/" }

// ControlURL is the base URL of the unauthenticated control API.
func (s *Server) ControlURL() string { return s.baseURL + "/_sim" }

// CAFile is the path of the PEM file holding the simulator CA certificate.
func (s *Server) CAFile() string { return s.caFile }

// CertPool returns a pool holding the simulator CA.
func (s *Server) CertPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AppendCertsFromPEM(s.caPEM)
	return p
}

// SetFaults replaces the fault knobs. It also restarts the per-tenant
// discover-failure count: the next DiscoverFailures discover calls of each
// tenant fail.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
	for _, t := range s.tenants {
		t.discoverCalls = 0
	}
}

// CurrentFaults returns the fault knobs in force.
func (s *Server) CurrentFaults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

// SetTenantOptions sets per-tenant behaviours (creating the tenant if needed).
func (s *Server) SetTenantOptions(tenantID string, o TenantOptions) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tenantLocked(tenantID).opts = o
}

// Stats returns a copy of the request counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Requests = make(map[string]int, len(s.stats.Requests))
	for k, v := range s.stats.Requests {
		st.Requests[k] = v
	}
	return st
}

// Violations returns the recorded violations, oldest first.
func (s *Server) Violations() []Violation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Violation(nil), s.violations...)
}

// IssuedTokens returns every access token the token endpoint issued, so
// tests can check that none leaked into logs or workflow histories.
func (s *Server) IssuedTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sortedKeys(s.tokens)
}

// Tenants returns the ids (lower-case) of the tenants the simulator knows:
// those that got a token, were configured, or were used.
func (s *Server) Tenants() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sortedKeys(s.tenants)
}

// RequestLog returns the Graph requests seen, oldest first.
func (s *Server) RequestLog() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.log...)
}

func (s *Server) violationLocked(kind, tenant, format string, args ...any) {
	s.violations = append(s.violations, Violation{Kind: kind, Tenant: tenant, Detail: fmt.Sprintf(format, args...), Time: time.Now().UTC()})
}

// serveHTTP dispatches between the token endpoints, Graph and the control API.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == "/beta" || strings.HasPrefix(p, "/beta/"):
		s.serveGraph(w, r)
	case p == "/_sim" || strings.HasPrefix(p, "/_sim/"):
		s.control.ServeHTTP(w, r)
	default:
		s.serveAuth(w, r)
	}
}

// ---- helpers ----

func newGUIDFrom(rng *rand.Rand) string {
	var b [16]byte
	for i := 0; i < 16; i += 8 {
		v := rng.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// newID draws a GUID from the seeded id stream. Caller holds s.mu.
func (s *Server) newIDLocked() string { return newGUIDFrom(s.idRNG) }

func (s *Server) newHexLocked() string {
	return fmt.Sprintf("%016x%016x", s.idRNG.Uint64(), s.idRNG.Uint64())
}

// randomGUID is for correlation ids that must not perturb the seeded streams.
func randomGUID() string {
	var b [16]byte
	_, _ = crand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func formatRetryAfter(v float64) string {
	v = math.Round(v*1000) / 1000
	return strconv.FormatFloat(v, 'f', -1, 64)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func makeCertificates(hosts []string) (tls.Certificate, []byte, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), crand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(now.UnixNano()),
		Subject:               pkix.Name{CommonName: "graphsim test CA", Organization: []string{"graphsim"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(crand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), crand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano() + 1),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(5 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1"), net.IPv6loopback},
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		leafTmpl.DNSNames = append(leafTmpl.DNSNames, h)
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			leafTmpl.IPAddresses = append(leafTmpl.IPAddresses, ip)
		} else {
			leafTmpl.DNSNames = append(leafTmpl.DNSNames, h)
		}
	}
	leafDER, err := x509.CreateCertificate(crand.Reader, leafTmpl, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	cert := tls.Certificate{Certificate: [][]byte{leafDER, caDER}, PrivateKey: leafKey}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	return cert, caPEM, nil
}
