package codec

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"
)

const (
	uiOrigin = "http://localhost:8233"
	token    = "operator-token-for-tests"
)

func testServer(t *testing.T, opts ServerOptions) (*httptest.Server, *Codec) {
	t.Helper()
	c := mustNew(t, map[string][]byte{"kid1": newKey(t)}, "kid1")
	if opts.Codec == nil {
		opts.Codec = c
	}
	srv := httptest.NewServer(NewHandler(opts))
	t.Cleanup(srv.Close)
	return srv, c
}

func post(t *testing.T, url string, body []byte, headers map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func payloadsJSON(t *testing.T, ps ...*commonpb.Payload) []byte {
	t.Helper()
	b, err := protojson.Marshal(&commonpb.Payloads{Payloads: ps})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func parsePayloads(t *testing.T, b []byte) []*commonpb.Payload {
	t.Helper()
	var ps commonpb.Payloads
	if err := protojson.Unmarshal(b, &ps); err != nil {
		t.Fatalf("answer %s: %v", b, err)
	}
	return ps.Payloads
}

// The JSON protocol, both path forms, with a Web UI-shaped body.
func TestServerEncodeDecodeProtocol(t *testing.T) {
	srv, c := testServer(t, ServerOptions{AllowedOrigins: []string{uiOrigin}})
	clear := encodeValue(t, converter.GetDefaultDataConverter(), spec{Domain: "contoso.com"})

	resp, body := post(t, srv.URL+"/default/encode", payloadsJSON(t, clear), nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("encode: %d %s", resp.StatusCode, body)
	}
	enc := parsePayloads(t, body)
	if len(enc) != 1 || string(enc[0].Metadata["encoding"]) != MetadataEncoding || bytes.Contains(body, []byte("contoso")) {
		t.Fatalf("encode answer %s", body)
	}
	// The Web UI form: POST /decode with X-Namespace; bytes as base64 strings.
	if !bytes.Contains(payloadsJSON(t, enc...), []byte(`"metadata":{"`)) {
		t.Fatal("unexpected JSON shape")
	}
	resp, body = post(t, srv.URL+"/decode", payloadsJSON(t, enc...), map[string]string{"X-Namespace": "default", "Origin": uiOrigin})
	if resp.StatusCode != 200 {
		t.Fatalf("decode: %d %s", resp.StatusCode, body)
	}
	if resp.Header.Get("Access-Control-Allow-Origin") != uiOrigin {
		t.Fatalf("no CORS header on the answer: %v", resp.Header)
	}
	dec := parsePayloads(t, body)
	var s spec
	if err := converter.GetDefaultDataConverter().FromPayload(dec[0], &s); err != nil || s.Domain != "contoso.com" {
		t.Fatalf("decoded %+v %v", s, err)
	}
	// Decoding a payload this codec made directly works too, and clear payloads pass.
	direct, _ := c.Encode([]*commonpb.Payload{clear})
	resp, body = post(t, srv.URL+"/ns2/decode", payloadsJSON(t, direct[0], clear), nil)
	if resp.StatusCode != 200 || len(parsePayloads(t, body)) != 2 {
		t.Fatalf("decode two: %d %s", resp.StatusCode, body)
	}
	// Errors: bad body, unknown key, wrong method, unknown path.
	resp, body = post(t, srv.URL+"/default/decode", []byte(`{"payloads":`), nil)
	if resp.StatusCode != 400 {
		t.Fatalf("bad JSON: %d %s", resp.StatusCode, body)
	}
	other := mustNew(t, map[string][]byte{"kid9": newKey(t)}, "kid9")
	foreign, _ := other.Encode([]*commonpb.Payload{clear})
	resp, body = post(t, srv.URL+"/default/decode", payloadsJSON(t, foreign...), nil)
	if resp.StatusCode != 400 || !strings.Contains(string(body), `unknown key id "kid9"`) {
		t.Fatalf("unknown key: %d %s", resp.StatusCode, body)
	}
	r, _ := http.Get(srv.URL + "/default/decode")
	if r.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d", r.StatusCode)
	}
	resp, _ = post(t, srv.URL+"/default/other", payloadsJSON(t, clear), nil)
	if resp.StatusCode != 404 {
		t.Fatalf("unknown path: %d", resp.StatusCode)
	}
	r, _ = http.Get(srv.URL + "/healthz")
	if r.StatusCode != 200 {
		t.Fatalf("healthz: %d", r.StatusCode)
	}
}

// The SDK's own remote codec client talks to the server.
func TestServerWithTheSDKRemoteCodec(t *testing.T) {
	srv, _ := testServer(t, ServerOptions{AuthToken: token})
	remote := converter.NewRemoteDataConverter(converter.GetDefaultDataConverter(), converter.RemoteDataConverterOptions{
		Endpoint: srv.URL + "/default",
		ModifyRequest: func(r *http.Request) error {
			r.Header.Set("Authorization", "Bearer "+token)
			return nil
		},
	})
	p, err := remote.ToPayload(spec{Domain: "fabrikam.com"})
	if err != nil {
		t.Fatal(err)
	}
	if string(p.Metadata["encoding"]) != MetadataEncoding {
		t.Fatalf("remote encode: %v", p.Metadata)
	}
	var s spec
	if err := remote.FromPayload(p, &s); err != nil || s.Domain != "fabrikam.com" {
		t.Fatalf("remote decode: %+v %v", s, err)
	}
}

func TestServerCORSPreflight(t *testing.T) {
	srv, _ := testServer(t, ServerOptions{AllowedOrigins: []string{uiOrigin}, AuthToken: token})
	preflight := func(origin string) *http.Response {
		req, _ := http.NewRequest(http.MethodOptions, srv.URL+"/decode", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization,content-type,x-namespace")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	// Allowed origin, no token needed for the preflight (browsers send none).
	resp := preflight(uiOrigin)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("preflight: %d", resp.StatusCode)
	}
	h := resp.Header
	if h.Get("Access-Control-Allow-Origin") != uiOrigin || h.Get("Access-Control-Allow-Credentials") != "true" ||
		!strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") {
		t.Fatalf("preflight headers: %v", h)
	}
	for _, want := range []string{"Authorization", "Content-Type", "X-Namespace"} {
		if !strings.Contains(h.Get("Access-Control-Allow-Headers"), want) {
			t.Fatalf("Allow-Headers lacks %s: %v", want, h)
		}
	}
	// Another origin gets no CORS grant, and its requests are refused.
	resp = preflight("https://evil.example")
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("foreign preflight: %d %v", resp.StatusCode, resp.Header)
	}
	r, _ := post(t, srv.URL+"/decode", payloadsJSON(t), map[string]string{"Origin": "https://evil.example", "Authorization": "Bearer " + token})
	if r.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin request: %d", r.StatusCode)
	}
	// "*" allows any origin, without credentials.
	srv2, _ := testServer(t, ServerOptions{AllowedOrigins: []string{"*"}})
	r, _ = post(t, srv2.URL+"/decode", payloadsJSON(t), map[string]string{"Origin": "https://any.example"})
	if r.StatusCode != 200 || r.Header.Get("Access-Control-Allow-Origin") != "*" || r.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Fatalf("wildcard: %d %v", r.StatusCode, r.Header)
	}
}

func TestServerAuthToken(t *testing.T) {
	srv, c := testServer(t, ServerOptions{AllowedOrigins: []string{uiOrigin}, AuthToken: token})
	enc, _ := c.Encode([]*commonpb.Payload{encodeValue(t, converter.GetDefaultDataConverter(), spec{Domain: "secret.example"})})
	body := payloadsJSON(t, enc...)
	for name, hdr := range map[string]map[string]string{
		"no token":    {"Origin": uiOrigin},
		"wrong token": {"Authorization": "Bearer nope"},
		"not bearer":  {"Authorization": token},
	} {
		resp, b := post(t, srv.URL+"/default/decode", body, hdr)
		if resp.StatusCode != http.StatusUnauthorized || strings.Contains(string(b), "secret.example") {
			t.Errorf("%s: %d %s", name, resp.StatusCode, b)
		}
		if resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: no WWW-Authenticate", name)
		}
		if hdr["Origin"] != "" && resp.Header.Get("Access-Control-Allow-Origin") != uiOrigin {
			t.Errorf("%s: the browser cannot read the 401 without CORS headers", name)
		}
	}
	resp, b := post(t, srv.URL+"/default/decode", body, map[string]string{"Authorization": "Bearer " + token})
	if resp.StatusCode != 200 {
		t.Fatalf("with token: %d %s", resp.StatusCode, b)
	}
	dec := parsePayloads(t, b)
	if !bytes.Contains(dec[0].Data, []byte("secret.example")) {
		t.Fatalf("decoded data %q", dec[0].Data)
	}
	// Encode needs the token as well.
	resp, _ = post(t, srv.URL+"/default/encode", body, nil)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("encode without token: %d", resp.StatusCode)
	}
}
