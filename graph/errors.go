package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-beta-sdk-go/models/odataerrors"
)

// Kind is the classification a caller acts on. Stable strings: they become
// Temporal error types.
type Kind string

const (
	KindThrottled    Kind = "GraphThrottled"    // 429
	KindUnavailable  Kind = "GraphUnavailable"  // 5xx, 408
	KindTransport    Kind = "GraphTransport"    // no HTTP answer: network, TLS, timeout
	KindNotFound     Kind = "GraphNotFound"     // 404
	KindBadRequest   Kind = "GraphBadRequest"   // 400 and other 4xx
	KindUnauthorized Kind = "GraphUnauthorized" // 401, or no token could be obtained
	KindForbidden    Kind = "GraphForbidden"    // 403
	KindConflict     Kind = "GraphConflict"     // 409, 412
)

// Error is every failure of a Graph operation: what we asked, what Graph said,
// and the ids Microsoft support asks for. It never holds request bodies.
type Error struct {
	Op              string // our operation, e.g. "create job AD2AADPasswordHash"
	Kind            Kind
	Status          int    // HTTP status, 0 when no answer arrived
	Code            string // Graph error code, e.g. Authorization_RequestDenied
	InnerCode       string // sync back end code wrapped in the message, e.g. InvalidNotificationSettings
	Message         string
	RequestID       string
	ClientRequestID string
	RetryAfter      time.Duration // from Retry-After (decimal seconds allowed); 0 when absent
	Hint            string        // what the admin should do
	Err             error         // underlying transport or token error
	// errSummarised: Message already says what Err says (a token request's
	// multi-line report, condensed), so Error prints it once.
	errSummarised bool
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "graph: %s: ", e.Op)
	if e.Status != 0 {
		fmt.Fprintf(&b, "HTTP %d", e.Status)
	} else {
		b.WriteString(string(e.Kind))
	}
	if e.Code != "" {
		fmt.Fprintf(&b, " %s", e.Code)
	}
	if e.InnerCode != "" {
		fmt.Fprintf(&b, " (%s)", e.InnerCode)
	}
	if e.Message != "" && e.InnerCode == "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if e.Err != nil && !e.errSummarised {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	if e.Hint != "" {
		if !strings.HasSuffix(b.String(), ".") {
			b.WriteString(".")
		}
		fmt.Fprintf(&b, " %s", e.Hint)
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " [request-id %s", e.RequestID)
		if e.ClientRequestID != "" {
			fmt.Fprintf(&b, ", client-request-id %s", e.ClientRequestID)
		}
		b.WriteString("]")
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether the same request may succeed later without anyone
// changing anything. 404 is not retryable here: only the caller knows whether
// the object was just created (replication lag) or does not exist.
func (e *Error) Retryable() bool {
	switch e.Kind {
	case KindThrottled, KindUnavailable, KindTransport:
		return true
	}
	return false
}

// AsError returns the *Error in err's chain.
func AsError(err error) (*Error, bool) {
	var ge *Error
	ok := errors.As(err, &ge)
	return ge, ok
}

// IsNotFound reports a 404 from Graph.
func IsNotFound(err error) bool {
	ge, ok := AsError(err)
	return ok && ge.Kind == KindNotFound
}

// op describes an operation for error messages, with the least-privilege
// application permission it needs (named in 403 hints).
type op struct {
	name       string
	permission string
}

const (
	permOrganization = "Organization.ReadWrite.All"
	permApplication  = "Application.ReadWrite.OwnedBy (or Application.ReadWrite.All)"
	permSync         = "Synchronization.ReadWrite.All"
)

// refuse reports a request we decline to send because its input is invalid.
// The same input fails the same way every time, so it is KindBadRequest (not
// retryable), unlike a transport failure that wrap would make of a plain error.
func (o op) refuse(format string, args ...any) error {
	return &Error{Op: o.name, Kind: KindBadRequest, Message: fmt.Sprintf(format, args...)}
}

// wrap converts whatever the SDK or adapter returned into *Error.
func (o op) wrap(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := AsError(err); ok {
		return err
	}
	e := &Error{Op: o.name}
	var oe *odataerrors.ODataError
	var ae *abs.ApiError
	switch {
	case errors.As(err, &oe):
		e.Status = oe.ResponseStatusCode
		readHeaders(e, oe.ResponseHeaders)
		if me := oe.GetErrorEscaped(); me != nil {
			e.Code = deref(me.GetCode())
			e.Message = deref(me.GetMessage())
			if ie := me.GetInnerError(); ie != nil {
				if v := deref(ie.GetRequestId()); v != "" {
					e.RequestID = v
				}
				if v := deref(ie.GetClientRequestId()); v != "" {
					e.ClientRequestID = v
				}
			}
		}
	case errors.As(err, &ae):
		e.Status = ae.ResponseStatusCode
		readHeaders(e, ae.ResponseHeaders)
		e.Message = ae.Message
	default:
		e.Err = err
		if m := tokenFailure(err); m != "" {
			e.Message, e.errSummarised = m, true
		}
	}
	e.InnerCode = innerCode(e.Message)
	e.Kind = classify(e.Status, err)
	e.Hint = o.hint(e)
	return e
}

func classify(status int, err error) Kind {
	switch {
	case status == 429:
		return KindThrottled
	case status == 408 || status >= 500:
		return KindUnavailable
	case status == 401:
		return KindUnauthorized
	case status == 403:
		return KindForbidden
	case status == 404:
		return KindNotFound
	case status == 409 || status == 412:
		return KindConflict
	case status >= 400:
		return KindBadRequest
	}
	if isAuthFailure(err) {
		return KindUnauthorized
	}
	if IsReadOnlyRefusal(err) {
		return KindBadRequest // refused here: the same call is refused every time
	}
	return KindTransport
}

// isAuthFailure recognises azidentity's "the token endpoint refused us" errors
// (wrong secret, unknown tenant, missing consent), which retrying cannot fix.
// A token endpoint that is down (5xx, network) stays a transport error.
func isAuthFailure(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	// The token endpoint answered, but with an outage (5xx, e.g. AADSTS90033
	// "A transient error has occurred") or a throttle: its body names an AADSTS
	// code too, yet waiting helps.
	var afe *azidentity.AuthenticationFailedError
	if errors.As(err, &afe) && afe.RawResponse != nil {
		if sc := afe.RawResponse.StatusCode; sc >= 500 || sc == 429 || sc == 408 {
			return false
		}
	}
	s := err.Error()
	if !strings.Contains(s, "AADSTS") {
		return false
	}
	return !strings.Contains(s, "AADSTS50196") // a loop-detection throttle: transient
}

func (o op) hint(e *Error) string {
	switch e.Kind {
	case KindForbidden:
		return fmt.Sprintf("The app needs the Microsoft Graph application permission %s with admin consent in this tenant", o.permission)
	case KindUnauthorized:
		return "Check the app's client id and secret or certificate, and that the app is consented in this tenant"
	case KindBadRequest:
		if o.name == opSetSyncFlag && e.Status == 400 {
			// The body is fixed and valid: what Graph refuses is the state.
			return "Directory sync was turned off in this tenant: Entra deactivates it for up to 72 hours and refuses to turn it on meanwhile; run the onboarding again once that is done"
		}
	}
	switch e.InnerCode {
	case "InvalidNotificationSettings":
		return "The notification settings were refused: check the recipients' email addresses and the delete threshold"
	case "HybridIdentityServiceNoActiveAgents":
		return "No provisioning agent is active for this domain: install or restart the Microsoft Entra provisioning agent"
	case "AzureActiveDirectoryInvalidCredential":
		return "The sync credentials are invalid: restart the provisioning agent configuration in the tenant"
	}
	return ""
}

func readHeaders(e *Error, h *abs.ResponseHeaders) {
	if h == nil {
		return
	}
	first := func(k string) string {
		if v := h.Get(k); len(v) > 0 {
			return v[0]
		}
		return ""
	}
	e.RequestID = first("request-id")
	e.ClientRequestID = first("client-request-id")
	e.RetryAfter = ParseRetryAfter(first("retry-after"))
}

// ParseRetryAfter reads Retry-After as (decimal) seconds or an HTTP date.
// Graph sends decimals such as "2.128"; the SDK's retry handler truncates them.
func ParseRetryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		if !(f > 0 && f <= 24*3600) { // also refuses NaN, which would convert to a negative duration
			return 0
		}
		return time.Duration(f * float64(time.Second))
	}
	if t, err := time.Parse(time.RFC1123, v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

var aadstsRe = regexp.MustCompile(`AADSTS\d+:[^"\n]*`)

// tokenFailure condenses azidentity's report of a failed token request (the
// request line, the whole response body, a troubleshooting link, over many
// lines) to one line an operator acts on: the HTTP status and Entra's AADSTS
// description, without its trace and correlation ids. "" if err is not one.
func tokenFailure(err error) string {
	var afe *azidentity.AuthenticationFailedError
	if !errors.As(err, &afe) {
		return ""
	}
	msg := "the token request failed"
	if afe.RawResponse != nil {
		msg += fmt.Sprintf(" (HTTP %d)", afe.RawResponse.StatusCode)
	}
	if d := aadstsRe.FindString(err.Error()); d != "" {
		if i := strings.Index(d, " Trace ID:"); i >= 0 {
			d = d[:i]
		}
		return msg + ": " + strings.TrimSpace(d)
	}
	return msg + ": " + strings.Join(strings.Fields(strings.SplitN(err.Error(), "\n", 2)[0]), " ")
}

// innerCode digs out the sync back end's code, which arrives as a JSON string
// inside error.message under a generic outer code (UnknownError).
func innerCode(message string) string {
	m := strings.TrimSpace(message)
	if !strings.HasPrefix(m, "{") {
		return ""
	}
	var inner struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
		Code string `json:"code"`
	}
	if json.Unmarshal([]byte(m), &inner) != nil {
		return ""
	}
	if inner.Error.Code != "" {
		return inner.Error.Code
	}
	return inner.Code
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
