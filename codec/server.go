package codec

import (
	"crypto/subtle"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"
)

// ServerOptions configure the codec server handler.
type ServerOptions struct {
	// Codec encodes and decodes.
	Codec converter.PayloadCodec
	// AllowedOrigins are the browser origins (scheme://host[:port]) allowed to
	// call the server: the Temporal Web UI's, e.g. http://localhost:8233.
	// "*" allows any origin (without credentials). Empty: no CORS headers, so
	// only non-browser clients (the Temporal CLI, the SDK) can use it.
	AllowedOrigins []string
	// AuthToken, when set, is required as "Authorization: Bearer <token>" on
	// every encode and decode request (CLOUDSYNC_CODEC_AUTH_TOKEN).
	AuthToken string
	// MaxBodyBytes bounds a request body (default 32 MiB).
	MaxBodyBytes int64
}

// NewHandler serves Temporal's remote codec protocol:
//
//	POST /{namespace}/encode, POST /{namespace}/decode
//	POST /encode, POST /decode   (namespace in the X-Namespace header)
//
// with a JSON body {"payloads":[...]} (payloads in protobuf JSON, bytes as
// base64) and the same shape in the answer. OPTIONS answers CORS preflights
// for the allowed origins; GET /healthz answers "ok".
func NewHandler(opts ServerOptions) http.Handler {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 32 << 20
	}
	return &server{opts: opts}
}

type server struct{ opts ServerOptions }

const allowedHeaders = "Authorization, Content-Type, X-Namespace"

// cors sets the CORS answer headers for an allowed origin and reports whether
// the origin (if any) is allowed.
func (s *server) cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true // not a browser cross-origin request
	}
	w.Header().Add("Vary", "Origin")
	switch {
	case slices.Contains(s.opts.AllowedOrigins, strings.TrimRight(origin, "/")):
		w.Header().Set("Access-Control-Allow-Origin", origin)
		w.Header().Set("Access-Control-Allow-Credentials", "true")
	case slices.Contains(s.opts.AllowedOrigins, "*"):
		w.Header().Set("Access-Control-Allow-Origin", "*")
	default:
		return false
	}
	return true
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.URL.Path == "/healthz" {
		_, _ = io.WriteString(w, "ok\n")
		return
	}
	allowed := s.cors(w, r)
	if r.Method == http.MethodOptions {
		if !allowed {
			http.Error(w, "origin not allowed", http.StatusForbidden)
			return
		}
		w.Header().Set("Access-Control-Allow-Methods", "POST, OPTIONS")
		w.Header().Set("Access-Control-Allow-Headers", allowedHeaders)
		w.Header().Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if !allowed {
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return
	}
	op, namespace, ok := route(r)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST, OPTIONS")
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	if !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="cloudsync-codec"`)
		http.Error(w, "unauthorized: send Authorization: Bearer <token>", http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes))
	if err != nil {
		http.Error(w, "read body: "+err.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	var in commonpb.Payloads
	if err := protojson.Unmarshal(body, &in); err != nil {
		http.Error(w, "body is not {\"payloads\":[...]}: "+err.Error(), http.StatusBadRequest)
		return
	}
	var out []*commonpb.Payload
	if op == "encode" {
		out, err = s.opts.Codec.Encode(in.Payloads)
	} else {
		out, err = s.opts.Codec.Decode(in.Payloads)
	}
	if err != nil {
		http.Error(w, fmt.Sprintf("%s (namespace %q): %v", op, namespace, err), http.StatusBadRequest)
		return
	}
	resp, err := protojson.Marshal(&commonpb.Payloads{Payloads: out})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(resp)
}

// route finds the operation and namespace: /{namespace}/{op} or /{op} with
// the X-Namespace header.
func route(r *http.Request) (op, namespace string, ok bool) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	op = parts[len(parts)-1]
	if op != "encode" && op != "decode" {
		return "", "", false
	}
	switch len(parts) {
	case 1:
		return op, r.Header.Get("X-Namespace"), true
	case 2:
		return op, parts[0], parts[0] != ""
	}
	return "", "", false
}

func (s *server) authorized(r *http.Request) bool {
	if s.opts.AuthToken == "" {
		return true
	}
	got := r.Header.Get("Authorization")
	want := "Bearer " + s.opts.AuthToken
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}
