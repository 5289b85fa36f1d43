package graph

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// Observation is one Graph HTTP exchange, for metrics and logs. It holds no
// body, token or query string.
type Observation struct {
	Method     string
	Route      string // path with ids replaced by {id}, e.g. /beta/servicePrincipals/{id}/synchronization/jobs
	Status     int    // 0 when no answer arrived
	Code       string // Graph error code on error answers
	RetryAfter time.Duration
	Elapsed    time.Duration
}

type observingTransport struct {
	next    http.RoundTripper
	observe func(Observation)
}

func (t observingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.next.RoundTrip(r)
	o := Observation{Method: r.Method, Route: Route(r.URL.Path), Elapsed: time.Since(start)}
	if resp != nil {
		o.Status = resp.StatusCode
		if resp.StatusCode >= 400 {
			o.Code = peekErrorCode(resp)
			o.RetryAfter = ParseRetryAfter(resp.Header.Get("Retry-After"))
		}
	}
	t.observe(o)
	return resp, err
}

// peekErrorCode reads error.code from an error body and puts the body back.
func peekErrorCode(resp *http.Response) string {
	if resp.Body == nil {
		return ""
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	rest := resp.Body
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(b), rest), rest}
	if err != nil {
		return ""
	}
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(b, &e)
	return e.Error.Code
}

var idSegment = regexp.MustCompile(`^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[A-Za-z0-9]+\.[0-9a-f]{32}\.[0-9a-fA-F-]{36}|[A-Za-z0-9]+\.[0-9a-f]{32})$`)

// Route replaces ids in a Graph path so metrics keep a bounded cardinality.
func Route(path string) string {
	parts := strings.Split(path, "/")
	for i, p := range parts {
		if idSegment.MatchString(p) || (i > 0 && parts[i-1] == "organization" && p != "") {
			parts[i] = "{id}"
		}
	}
	return strings.Join(parts, "/")
}
