package graph

import (
	"errors"
	"fmt"
	"net/http"
)

// ErrReadOnly is the error of a request a read-only client refused to send.
var ErrReadOnly = errors.New("read-only Graph client")

// readOnlyError names the refused request. It never holds a body.
type readOnlyError struct{ method, route string }

func (e *readOnlyError) Error() string {
	return fmt.Sprintf("refused %s %s: this Graph client is read-only (plans and drift checks only read)", e.method, e.route)
}

func (e *readOnlyError) Unwrap() error { return ErrReadOnly }

// readOnlyTransport refuses every request but GET before it leaves the
// process: a plan or a drift check holds a client that cannot write, whatever
// code calls it (the token request goes through the credential's own
// transport, not this one).
type readOnlyTransport struct{ next http.RoundTripper }

func (t readOnlyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method != http.MethodGet {
		if r.Body != nil {
			_ = r.Body.Close() // a RoundTripper must close the body, even on error
		}
		return nil, &readOnlyError{method: r.Method, route: Route(r.URL.Path)}
	}
	return t.next.RoundTrip(r)
}

// IsReadOnlyRefusal reports an error of a request a read-only client refused.
func IsReadOnlyRefusal(err error) bool { return errors.Is(err, ErrReadOnly) }
