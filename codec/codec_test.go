package codec

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
)

type spec struct {
	TenantID string `json:"tenantId"`
	Domain   string `json:"domain"`
}

func newKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func mustNew(t *testing.T, keys map[string][]byte, active string) *Codec {
	t.Helper()
	c, err := New(keys, active)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func encodeValue(t *testing.T, dc converter.DataConverter, v any) *commonpb.Payload {
	t.Helper()
	p, err := dc.ToPayload(v)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRoundTripThroughTheDataConverter(t *testing.T) {
	c := mustNew(t, map[string][]byte{"kid1": newKey(t)}, "kid1")
	dc := DataConverter(c)
	in := spec{TenantID: "11111111-2222-3333-4444-555555555555", Domain: "contoso.com"}
	p := encodeValue(t, dc, in)

	if got := string(p.Metadata[converter.MetadataEncoding]); got != MetadataEncoding {
		t.Fatalf("encoding %q, want %q", got, MetadataEncoding)
	}
	if got := string(p.Metadata[MetadataKeyID]); got != "kid1" {
		t.Fatalf("key id %q", got)
	}
	if bytes.Contains(p.Data, []byte("contoso")) || bytes.Contains(p.Data, []byte("json/plain")) {
		t.Fatal("plaintext visible in the encrypted payload")
	}
	var out spec
	if err := dc.FromPayload(p, &out); err != nil {
		t.Fatal(err)
	}
	if out != in {
		t.Fatalf("round trip: %+v", out)
	}
	// The original metadata comes back too.
	dec, err := c.Decode([]*commonpb.Payload{p})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(dec[0].Metadata[converter.MetadataEncoding]); got != converter.MetadataEncodingJSON {
		t.Fatalf("decoded encoding %q", got)
	}
	// Nil and empty values survive (a workflow without a result).
	var none *spec
	p = encodeValue(t, dc, none)
	if err := dc.FromPayload(p, &none); err != nil || none != nil {
		t.Fatalf("nil round trip: %v %v", none, err)
	}
}

func TestNonceIsFreshEveryTime(t *testing.T) {
	c := mustNew(t, map[string][]byte{"k": newKey(t)}, "")
	a := encodeValue(t, DataConverter(c), "same")
	b := encodeValue(t, DataConverter(c), "same")
	if bytes.Equal(a.Data, b.Data) {
		t.Fatal("two encryptions of the same value are identical: nonce reused")
	}
	if c.ActiveKeyID() != "k" {
		t.Fatalf("single key not made active: %q", c.ActiveKeyID())
	}
}

func TestRotation(t *testing.T) {
	k1, k2 := newKey(t), newKey(t)
	before := DataConverter(mustNew(t, map[string][]byte{"kid1": k1}, "kid1"))
	old := encodeValue(t, before, spec{Domain: "old.example"})

	// Rotate: add kid2 and make it active, keep kid1 to read old histories.
	after := DataConverter(mustNew(t, map[string][]byte{"kid1": k1, "kid2": k2}, "kid2"))
	fresh := encodeValue(t, after, spec{Domain: "new.example"})
	if string(fresh.Metadata[MetadataKeyID]) != "kid2" {
		t.Fatalf("new payload key id %q", fresh.Metadata[MetadataKeyID])
	}
	for _, tc := range []struct {
		p    *commonpb.Payload
		want string
	}{{old, "old.example"}, {fresh, "new.example"}} {
		var s spec
		if err := after.FromPayload(tc.p, &s); err != nil {
			t.Fatal(err)
		}
		if s.Domain != tc.want {
			t.Fatalf("got %q want %q", s.Domain, tc.want)
		}
	}
	// Once kid1 is retired, its payloads fail clearly.
	retired := DataConverter(mustNew(t, map[string][]byte{"kid2": k2}, "kid2"))
	var s spec
	err := retired.FromPayload(old, &s)
	if err == nil || !strings.Contains(err.Error(), `unknown key id "kid1"`) || !strings.Contains(err.Error(), "kid2") {
		t.Fatalf("want an unknown key id error naming kid1 and the configured kid2, got %v", err)
	}
}

func TestTamperingFails(t *testing.T) {
	k1, k2 := newKey(t), newKey(t)
	c := mustNew(t, map[string][]byte{"kid1": k1, "kid2": k2}, "kid1")
	p := encodeValue(t, DataConverter(c), spec{Domain: "contoso.com"})

	flipped := &commonpb.Payload{Metadata: p.Metadata, Data: bytes.Clone(p.Data)}
	flipped.Data[len(flipped.Data)-20] ^= 0x01
	if _, err := c.Decode([]*commonpb.Payload{flipped}); err == nil || !strings.Contains(err.Error(), "authentication failed") {
		t.Fatalf("tampered ciphertext: %v", err)
	}
	// The key id is bound to the ciphertext: relabelling it fails too.
	relabelled := &commonpb.Payload{Metadata: map[string][]byte{}, Data: p.Data}
	for k, v := range p.Metadata {
		relabelled.Metadata[k] = v
	}
	relabelled.Metadata[MetadataKeyID] = []byte("kid2")
	if _, err := c.Decode([]*commonpb.Payload{relabelled}); err == nil {
		t.Fatal("relabelled payload decrypted")
	}
	short := &commonpb.Payload{Metadata: p.Metadata, Data: p.Data[:10]}
	if _, err := c.Decode([]*commonpb.Payload{short}); err == nil || !strings.Contains(err.Error(), "too short") {
		t.Fatalf("truncated: %v", err)
	}
	noID := &commonpb.Payload{Metadata: map[string][]byte{converter.MetadataEncoding: []byte(MetadataEncoding)}, Data: p.Data}
	if _, err := c.Decode([]*commonpb.Payload{noID}); err == nil || !strings.Contains(err.Error(), "no key id") {
		t.Fatalf("no key id: %v", err)
	}
}

func TestPassthroughOfClearPayloads(t *testing.T) {
	c := mustNew(t, map[string][]byte{"kid1": newKey(t)}, "kid1")
	clear := encodeValue(t, converter.GetDefaultDataConverter(), spec{Domain: "before-encryption.example"})
	out, err := c.Decode([]*commonpb.Payload{clear})
	if err != nil {
		t.Fatal(err)
	}
	if out[0] != clear {
		t.Fatal("a clear payload was changed")
	}
	var s spec
	if err := DataConverter(c).FromPayload(clear, &s); err != nil || s.Domain != "before-encryption.example" {
		t.Fatalf("history from before encryption: %+v %v", s, err)
	}
}

func TestNewRefusesBadKeys(t *testing.T) {
	for name, tc := range map[string]struct {
		keys   map[string][]byte
		active string
		want   string
	}{
		"none":              {nil, "", "no keys"},
		"short key":         {map[string][]byte{"a": make([]byte, 16)}, "a", "16 bytes, want 32"},
		"bad id":            {map[string][]byte{"a b": make([]byte, 32)}, "a b", "key id"},
		"unknown active":    {map[string][]byte{"a": make([]byte, 32)}, "b", `active key id "b" is not among the keys (a)`},
		"several no active": {map[string][]byte{"a": make([]byte, 32), "b": make([]byte, 32)}, "", "set CLOUDSYNC_CODEC_KEY_ID to one of a, b"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := New(tc.keys, tc.active)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want error containing %q, got %v", tc.want, err)
			}
		})
	}
}

func TestParseKeys(t *testing.T) {
	k1, k2 := newKey(t), newKey(t)
	std := base64.StdEncoding.EncodeToString(k1)
	url := base64.RawURLEncoding.EncodeToString(k2)
	keys, err := ParseKeys("kid1=" + std + ", kid2=" + url)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(keys["kid1"], k1) || !bytes.Equal(keys["kid2"], k2) || len(keys) != 2 {
		t.Fatalf("keys %v", keys)
	}
	// File format: one per line, comments.
	keys, err = ParseKeys("# rotated 2026-01\nkid1=" + std + "\n\nkid2=" + url + "\n")
	if err != nil || len(keys) != 2 {
		t.Fatalf("file format: %v %v", keys, err)
	}
	for in, want := range map[string]string{
		"kid1":                         "not id=<base64 key>",
		"=" + std:                      "not id=<base64 key>",
		"kid1=!!!!":                    "not base64",
		"kid1=" + std[:20]:             "want 32",
		"kid1=" + std + ",kid1=" + std: `"kid1" given twice`,
		"k/1=" + std:                   "key id",
	} {
		_, err := ParseKeys(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseKeys(%q): want %q, got %v", in, want, err)
		}
		if err != nil && strings.Contains(err.Error(), std) {
			t.Errorf("error message leaks the key: %v", err)
		}
	}
}

func TestConfigLoad(t *testing.T) {
	k1, k2 := newKey(t), newKey(t)
	spec := "kid1=" + base64.StdEncoding.EncodeToString(k1) + ",kid2=" + base64.StdEncoding.EncodeToString(k2)
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

	c, err := FromEnv(env(nil))
	if c != nil || err != nil {
		t.Fatalf("no configuration must mean no codec: %v %v", c, err)
	}
	c, err = FromEnv(env(map[string]string{EnvKeys: spec, EnvKeyID: "kid2"}))
	if err != nil || c.ActiveKeyID() != "kid2" || strings.Join(c.KeyIDs(), ",") != "kid1,kid2" {
		t.Fatalf("inline: %v %v", c, err)
	}
	if s := c.String(); strings.Contains(s, base64.StdEncoding.EncodeToString(k1)) || !strings.Contains(s, "active=kid2") {
		t.Fatalf("String: %s", s)
	}
	file := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(file, []byte(strings.ReplaceAll(spec, ",", "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = FromEnv(env(map[string]string{EnvKeysFile: file, EnvKeyID: "kid1"}))
	if err != nil || c.ActiveKeyID() != "kid1" {
		t.Fatalf("file: %v %v", c, err)
	}
	for name, tc := range map[string]struct {
		env  map[string]string
		want string
	}{
		"id without keys":   {map[string]string{EnvKeyID: "kid1"}, "no keys are set"},
		"both sources":      {map[string]string{EnvKeys: spec, EnvKeysFile: file, EnvKeyID: "kid1"}, "not both"},
		"missing file":      {map[string]string{EnvKeysFile: file + ".nope"}, "no such file"},
		"unknown active":    {map[string]string{EnvKeys: spec, EnvKeyID: "kid3"}, `"kid3" is not among`},
		"several no active": {map[string]string{EnvKeys: spec}, "set CLOUDSYNC_CODEC_KEY_ID"},
		"only commas":       {map[string]string{EnvKeys: " , "}, "no keys in CLOUDSYNC_CODEC_KEYS"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := FromEnv(env(tc.env))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want %q, got %v", tc.want, err)
			}
		})
	}
}
