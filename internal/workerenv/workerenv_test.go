package workerenv

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestNamesAreUniqueAndDocumented(t *testing.T) {
	seen := map[string]bool{}
	for _, v := range Vars {
		assert.NotEmpty(t, v.Names)
		assert.NotEmpty(t, v.Doc, v.Title())
		for _, n := range v.Names {
			assert.False(t, seen[n], "%s listed twice", n)
			seen[n] = true
		}
	}
	assert.Len(t, Names(), len(seen))
}

func TestReads(t *testing.T) {
	assert.True(t, Reads("CLOUDSYNC_TASK_QUEUE"))
	assert.True(t, Reads("TEMPORAL_TLS_CLIENT_CERT_PATH"))
	assert.True(t, Reads("TEMPORAL_GRPC_META_X_TENANT"))
	assert.False(t, Reads("TEMPORAL_GRPC_META_"), "the prefix alone names no header")
	assert.False(t, Reads("CLOUDSYNC_TYPO"))
}
