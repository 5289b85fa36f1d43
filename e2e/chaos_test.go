package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sync"
)

// chaosProxy stands between the worker and graphsim's Graph endpoint. Armed
// for a write, it lets the next such request through to graphsim, and when
// graphsim's success answer comes back it kills the worker before delivering
// it: Graph did the write, the worker never learns it. That is the moment
// where a step that does not look before it writes makes a duplicate on its
// retry; a kill at a uniformly random time almost never lands there.
type chaosProxy struct {
	srv    *httptest.Server
	caFile string // graphsim's CA and the proxy's certificate

	mu    sync.Mutex
	armed *writeRoute
	kill  func() error
	fired chan string
}

// writeRoute is a Graph write the proxy can be armed for.
type writeRoute struct {
	name   string
	method string
	path   *regexp.Regexp
}

var chaosRoutes = []writeRoute{
	{"instantiate", "POST", regexp.MustCompile(`^/beta/applicationTemplates/[^/]+/instantiate$`)},
	{"create job", "POST", regexp.MustCompile(`^/beta/servicePrincipals/[^/]+/synchronization/jobs$`)},
	{"put secrets", "PUT", regexp.MustCompile(`^/beta/servicePrincipals/[^/]+/synchronization/secrets$`)},
	{"put schema", "PUT", regexp.MustCompile(`^/beta/servicePrincipals/[^/]+/synchronization/jobs/[^/]+/schema$`)},
	{"start job", "POST", regexp.MustCompile(`^/beta/servicePrincipals/[^/]+/synchronization/jobs/[^/]+/start$`)},
	{"enable sync flag", "PATCH", regexp.MustCompile(`^/beta/organization/[^/]+$`)},
}

var errKilled = errors.New("chaos proxy: worker killed before the answer")

// newChaosProxy proxies to graphsim (its CA in simCA) and writes a CA file
// the worker trusts for both.
func newChaosProxy(dir, graphURL, simCAFile string) (*chaosProxy, error) {
	target, err := url.Parse(graphURL)
	if err != nil {
		return nil, err
	}
	target.Path = ""
	simCA, err := os.ReadFile(simCAFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(simCA)
	p := &chaosProxy{fired: make(chan string, 1)}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	rp.ModifyResponse = p.modify
	rp.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		if errors.Is(err, errKilled) {
			panic(http.ErrAbortHandler) // drop the connection: nobody is listening anyway
		}
		w.WriteHeader(http.StatusBadGateway)
	}
	p.srv = httptest.NewTLSServer(rp)
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.srv.Certificate().Raw})
	p.caFile = filepath.Join(dir, "ca-with-proxy.pem")
	if err := os.WriteFile(p.caFile, append(append(simCA, '\n'), cert...), 0o600); err != nil {
		p.srv.Close()
		return nil, err
	}
	return p, nil
}

// GraphURL is the Graph base URL the worker uses.
func (p *chaosProxy) GraphURL() string { return p.srv.URL + "/beta" }

// arm makes the next successful answer to route kill the worker (kill) instead
// of reaching it; fired receives the route's name when that happened.
func (p *chaosProxy) arm(route writeRoute, kill func() error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.armed, p.kill = &route, kill
}

func (p *chaosProxy) disarm() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.armed = nil
}

func (p *chaosProxy) modify(resp *http.Response) error {
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil
	}
	p.mu.Lock()
	a, kill := p.armed, p.kill
	hit := a != nil && resp.Request.Method == a.method && a.path.MatchString(resp.Request.URL.Path)
	if hit {
		p.armed = nil
	}
	p.mu.Unlock()
	if !hit {
		return nil
	}
	_ = kill()
	p.fired <- a.name
	return errKilled
}

func (p *chaosProxy) close() { p.srv.Close() }
