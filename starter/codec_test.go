package main

import (
	"bytes"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudsync/cloudsync/codec"
	"github.com/cloudsync/cloudsync/starter/pkg/cmdutil"
)

const testCodecKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=" // 32 bytes

// With the worker's codec keys, the starter's client encrypts what it sends.
func TestStarterUsesTheCodecKeys(t *testing.T) {
	isolateEnv(t)
	opts, err := (&cmdutil.ConnFlags{}).Options(io.Discard)
	require.NoError(t, err)
	assert.Nil(t, opts.DataConverter, "no keys: the SDK's default converter")

	t.Setenv(codec.EnvKeys, "old="+testCodecKey+",new="+testCodecKey)
	t.Setenv(codec.EnvKeyID, "new")
	opts, err = (&cmdutil.ConnFlags{}).Options(io.Discard)
	require.NoError(t, err)
	require.NotNil(t, opts.DataConverter)
	p, err := opts.DataConverter.ToPayload(map[string]string{"domain": "contoso.com"})
	require.NoError(t, err)
	assert.Equal(t, codec.MetadataEncoding, string(p.Metadata["encoding"]))
	assert.Equal(t, "new", string(p.Metadata[codec.MetadataKeyID]))
	assert.False(t, bytes.Contains(p.Data, []byte("contoso")))
}

func TestBadCodecConfigIsUsageError(t *testing.T) {
	isolateEnv(t)
	t.Setenv(codec.EnvKeys, "kid1=not-base64!")
	code, _, stderr := runCLI(t, "onboard", "--tenant-id", goodTenant, "--domain", goodDomain, "--connect-timeout", "1s")
	assert.Equal(t, cmdutil.ExitUsage, code, stderr)
	assert.Contains(t, stderr, "payload encryption")
	assert.NotContains(t, stderr, "not-base64!", "the key material is not echoed")
}
