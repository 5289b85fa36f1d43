// Package codec encrypts cloudsync's Temporal payloads (workflow and activity
// inputs and results, query answers, signals, summaries) with AES-256-GCM
// before they leave the process, so the Temporal service, its database and
// anyone reading histories without a key see only ciphertext.
//
// Keys carry an id. The active key encrypts; every configured key decrypts the
// payloads that name it, so a key is rotated by adding a new one, making it
// active, and keeping the old one until no open history needs it. Payloads
// that are not encrypted pass through unchanged: histories written before
// encryption was turned on still read.
//
// The package imports only the standard library and Temporal's SDK and API
// (and the protobuf runtime they use): the starter links it.
package codec

import (
	"bufio"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
)

const (
	// MetadataEncoding is the "encoding" metadata value of an encrypted payload.
	MetadataEncoding = "binary/encrypted"
	// MetadataKeyID names the key that encrypted a payload.
	MetadataKeyID = "encryption-key-id"
	// MetadataCipher names the algorithm, for tools that look at raw histories.
	MetadataCipher = "encryption-cipher"
	cipherName     = "AES-256-GCM"

	// Environment variables read by FromEnv (the worker reads the same names).
	EnvKeys      = "CLOUDSYNC_CODEC_KEYS"
	EnvKeysFile  = "CLOUDSYNC_CODEC_KEYS_FILE"
	EnvKeyID     = "CLOUDSYNC_CODEC_KEY_ID"
	EnvAuthToken = "CLOUDSYNC_CODEC_AUTH_TOKEN"

	// KeySize is the AES-256 key length in bytes.
	KeySize = 32
)

var keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// Codec is a converter.PayloadCodec. It is safe for concurrent use.
type Codec struct {
	active string
	aeads  map[string]cipher.AEAD
}

var _ converter.PayloadCodec = (*Codec)(nil)

// New builds a codec from keys (id -> 32 bytes) with active as the encrypting
// key.
func New(keys map[string][]byte, active string) (*Codec, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("codec: no keys")
	}
	c := &Codec{active: active, aeads: make(map[string]cipher.AEAD, len(keys))}
	for id, k := range keys {
		if !keyIDPattern.MatchString(id) {
			return nil, fmt.Errorf("codec: key id %q: use 1-64 letters, digits, '.', '_' or '-'", id)
		}
		if len(k) != KeySize {
			return nil, fmt.Errorf("codec: key %q is %d bytes, want %d (AES-256)", id, len(k), KeySize)
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("codec: key %q: %w", id, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("codec: key %q: %w", id, err)
		}
		c.aeads[id] = aead
	}
	if active == "" {
		if len(keys) != 1 {
			return nil, fmt.Errorf("codec: %d keys and no active key id: set %s to one of %s", len(keys), EnvKeyID, strings.Join(c.KeyIDs(), ", "))
		}
		for id := range keys {
			c.active = id
		}
	}
	if _, ok := c.aeads[c.active]; !ok {
		return nil, fmt.Errorf("codec: active key id %q is not among the keys (%s)", c.active, strings.Join(c.KeyIDs(), ", "))
	}
	return c, nil
}

// ActiveKeyID is the id of the key that encrypts.
func (c *Codec) ActiveKeyID() string { return c.active }

// KeyIDs lists the ids of every key, sorted.
func (c *Codec) KeyIDs() []string {
	ids := make([]string, 0, len(c.aeads))
	for id := range c.aeads {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// String is safe to log: ids, never key material.
func (c *Codec) String() string {
	return fmt.Sprintf("%s active=%s keys=%s", cipherName, c.active, strings.Join(c.KeyIDs(), ","))
}

// additionalData binds the ciphertext to the key id and the format version.
func additionalData(keyID string) []byte { return []byte("cloudsync-codec/v1/" + keyID) }

// Encode encrypts every payload with the active key: the whole original
// payload (metadata and data) becomes the ciphertext, behind a random nonce.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	aead := c.aeads[c.active]
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := p.Marshal()
		if err != nil {
			return nil, fmt.Errorf("codec: marshal payload: %w", err)
		}
		nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
		if _, err := rand.Read(nonce); err != nil {
			return nil, fmt.Errorf("codec: nonce: %w", err)
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{
				converter.MetadataEncoding: []byte(MetadataEncoding),
				MetadataKeyID:              []byte(c.active),
				MetadataCipher:             []byte(cipherName),
			},
			Data: aead.Seal(nonce, nonce, plain, additionalData(c.active)),
		}
	}
	return out, nil
}

// Decode decrypts the encrypted payloads with the key each one names and
// passes the others through.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[converter.MetadataEncoding]) != MetadataEncoding {
			out[i] = p
			continue
		}
		id := string(p.GetMetadata()[MetadataKeyID])
		aead, ok := c.aeads[id]
		if !ok {
			if id == "" {
				return nil, fmt.Errorf("codec: encrypted payload names no key id (metadata %q)", MetadataKeyID)
			}
			return nil, fmt.Errorf("codec: payload encrypted with unknown key id %q (configured: %s): add that key to %s", id, strings.Join(c.KeyIDs(), ", "), EnvKeys)
		}
		data := p.GetData()
		if len(data) < aead.NonceSize()+aead.Overhead() {
			return nil, fmt.Errorf("codec: encrypted payload (key %q) is too short", id)
		}
		plain, err := aead.Open(nil, data[:aead.NonceSize()], data[aead.NonceSize():], additionalData(id))
		if err != nil {
			return nil, fmt.Errorf("codec: decrypt payload with key %q: authentication failed (wrong key or tampered data)", id)
		}
		var orig commonpb.Payload
		if err := orig.Unmarshal(plain); err != nil {
			return nil, fmt.Errorf("codec: decrypted payload (key %q) is not a payload: %w", id, err)
		}
		out[i] = &orig
	}
	return out, nil
}

// DataConverter wraps Temporal's default converter with c.
func DataConverter(c *Codec) converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
}

// ParseKeys reads "id=base64,id=base64" (commas or newlines; blank lines and
// lines starting with '#' ignored). Keys are 32 bytes in standard or URL-safe
// base64, with or without padding (e.g. `openssl rand -base64 32`).
func ParseKeys(spec string) (map[string][]byte, error) {
	keys := map[string][]byte{}
	sc := bufio.NewScanner(strings.NewReader(spec))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		for _, item := range strings.Split(line, ",") {
			item = strings.TrimSpace(item)
			if item == "" {
				continue
			}
			id, b64, ok := strings.Cut(item, "=")
			id = strings.TrimSpace(id)
			if !ok || id == "" {
				return nil, fmt.Errorf("codec keys: %q is not id=<base64 key>", redactItem(item))
			}
			if !keyIDPattern.MatchString(id) {
				return nil, fmt.Errorf("codec keys: key id %q: use 1-64 letters, digits, '.', '_' or '-'", id)
			}
			if _, dup := keys[id]; dup {
				return nil, fmt.Errorf("codec keys: key id %q given twice", id)
			}
			k, err := decodeKey(strings.TrimSpace(b64))
			if err != nil {
				return nil, fmt.Errorf("codec keys: key %q: %w", id, err)
			}
			keys[id] = k
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("codec keys: %w", err)
	}
	return keys, nil
}

// redactItem keeps a malformed entry's shape without its secret part.
func redactItem(s string) string {
	if len(s) > 8 {
		return s[:4] + "…"
	}
	return s
}

func decodeKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil {
			if len(k) != KeySize {
				return nil, fmt.Errorf("%d bytes, want %d (AES-256: openssl rand -base64 32)", len(k), KeySize)
			}
			return k, nil
		}
	}
	return nil, fmt.Errorf("not base64")
}

// Config names where the keys come from.
type Config struct {
	Keys     string // inline "id=base64,..." (CLOUDSYNC_CODEC_KEYS)
	KeysFile string // a file in the same format (CLOUDSYNC_CODEC_KEYS_FILE)
	KeyID    string // the active key id (CLOUDSYNC_CODEC_KEY_ID)
}

// Enabled reports whether any key source is set.
func (cfg Config) Enabled() bool { return cfg.Keys != "" || cfg.KeysFile != "" }

// Load builds the codec, or returns nil (no error) when no keys are configured:
// payloads are then written in clear, as before.
func (cfg Config) Load() (*Codec, error) {
	if !cfg.Enabled() {
		if cfg.KeyID != "" {
			return nil, fmt.Errorf("codec: %s is %q but no keys are set (%s or %s)", EnvKeyID, cfg.KeyID, EnvKeys, EnvKeysFile)
		}
		return nil, nil
	}
	if cfg.Keys != "" && cfg.KeysFile != "" {
		return nil, fmt.Errorf("codec: set %s or %s, not both", EnvKeys, EnvKeysFile)
	}
	spec := cfg.Keys
	if cfg.KeysFile != "" {
		raw, err := os.ReadFile(cfg.KeysFile)
		if err != nil {
			return nil, fmt.Errorf("codec: %s: %w", EnvKeysFile, err)
		}
		spec = string(raw)
	}
	keys, err := ParseKeys(spec)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		where := EnvKeys
		if cfg.KeysFile != "" {
			where = cfg.KeysFile
		}
		return nil, fmt.Errorf("codec: no keys in %s", where)
	}
	return New(keys, strings.TrimSpace(cfg.KeyID))
}

// ConfigFromEnv reads CLOUDSYNC_CODEC_KEYS, CLOUDSYNC_CODEC_KEYS_FILE and
// CLOUDSYNC_CODEC_KEY_ID.
func ConfigFromEnv(getenv func(string) string) Config {
	return Config{Keys: getenv(EnvKeys), KeysFile: getenv(EnvKeysFile), KeyID: getenv(EnvKeyID)}
}

// FromEnv is ConfigFromEnv(getenv).Load().
func FromEnv(getenv func(string) string) (*Codec, error) {
	return ConfigFromEnv(getenv).Load()
}
