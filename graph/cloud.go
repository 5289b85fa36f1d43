package graph

import (
	"fmt"
	"net/url"
	"strings"
)

// Cloud names the endpoints of one Microsoft cloud. Locally only these differ
// (plus the CA the HTTP client trusts): the SDK, azidentity and our code are the same.
type Cloud struct {
	Name          string // "global", "usgov", "usgovdod", "china", or "custom"
	GraphBaseURL  string // e.g. https://graph.microsoft.com/beta
	AuthorityHost string // e.g. https://login.microsoftonline.com/
	// Scope requested for Graph tokens. Entra refuses a scope derived from an
	// unknown host (AADSTS500011), so a simulator still asks for the real resource.
	Scope string
}

// Well-known clouds (Graph national cloud deployments).
var (
	CloudGlobal   = Cloud{Name: "global", GraphBaseURL: "https://graph.microsoft.com/beta", AuthorityHost: "https://login.microsoftonline.com/", Scope: "https://graph.microsoft.com/.default"}
	CloudUSGov    = Cloud{Name: "usgov", GraphBaseURL: "https://graph.microsoft.us/beta", AuthorityHost: "https://login.microsoftonline.us/", Scope: "https://graph.microsoft.us/.default"}
	CloudUSGovDoD = Cloud{Name: "usgovdod", GraphBaseURL: "https://dod-graph.microsoft.us/beta", AuthorityHost: "https://login.microsoftonline.us/", Scope: "https://dod-graph.microsoft.us/.default"}
	CloudChina    = Cloud{Name: "china", GraphBaseURL: "https://microsoftgraph.chinacloudapi.cn/beta", AuthorityHost: "https://login.chinacloudapi.cn/", Scope: "https://microsoftgraph.chinacloudapi.cn/.default"}
)

// CloudByName returns a well-known cloud.
func CloudByName(name string) (Cloud, error) {
	for _, c := range []Cloud{CloudGlobal, CloudUSGov, CloudUSGovDoD, CloudChina} {
		if strings.EqualFold(c.Name, name) {
			return c, nil
		}
	}
	return Cloud{}, fmt.Errorf("unknown cloud %q: use global, usgov, usgovdod or china (or set the Graph base URL and authority host)", name)
}

// WithOverrides replaces endpoints that are set, keeping the rest of c.
// A simulator or a private endpoint keeps the cloud's scope.
func (c Cloud) WithOverrides(graphBaseURL, authorityHost string) Cloud {
	if graphBaseURL != "" {
		c.GraphBaseURL = strings.TrimRight(graphBaseURL, "/")
		c.Name = "custom"
	}
	if authorityHost != "" {
		if !strings.HasSuffix(authorityHost, "/") {
			authorityHost += "/"
		}
		c.AuthorityHost = authorityHost
		c.Name = "custom"
	}
	return c
}

// Validate checks the endpoints are usable URLs. The SDK accepts plain http only
// for localhost, so we require https everywhere else up front.
func (c Cloud) Validate() error {
	for _, e := range []struct{ name, v string }{{"Graph base URL", c.GraphBaseURL}, {"authority host", c.AuthorityHost}} {
		u, err := url.Parse(e.v)
		if err != nil || u.Host == "" {
			return fmt.Errorf("%s %q is not an absolute URL", e.name, e.v)
		}
		if u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())) {
			return fmt.Errorf("%s %q must use https (plain http is only allowed for localhost)", e.name, e.v)
		}
	}
	if c.Scope == "" {
		return fmt.Errorf("cloud %q has no Graph token scope", c.Name)
	}
	return nil
}

// KnownAuthority reports whether the authority host is one of Microsoft's, where
// azidentity's instance discovery works. Anything else needs discovery disabled,
// or MSAL first asks the public cloud about it.
func (c Cloud) KnownAuthority() bool {
	for _, k := range []Cloud{CloudGlobal, CloudUSGov, CloudChina} {
		if strings.EqualFold(strings.TrimRight(c.AuthorityHost, "/"), strings.TrimRight(k.AuthorityHost, "/")) {
			return true
		}
	}
	return false
}

func (c Cloud) graphHost() string {
	u, err := url.Parse(c.GraphBaseURL)
	if err != nil {
		return ""
	}
	// Allowed hosts are host names without a port, or the token is silently not sent.
	return u.Hostname()
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}
