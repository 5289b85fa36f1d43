package main

import (
	"flag"
	"slices"
	"sort"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudsync/cloudsync/internal/workerenv"
)

// recordingEnv is an empty environment that notes every variable asked for.
type recordingEnv struct {
	mu   sync.Mutex
	read map[string]bool
}

func (r *recordingEnv) getenv(k string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.read[k] = true
	return ""
}

// Every variable the worker's configuration reads, and every one Temporal's
// envconfig reads for it, is in workerenv.Vars (which the deployment checks
// and --help use), and every one there is read: a new variable, in our code
// or in an SDK upgrade, cannot be missed.
func TestEveryVariableReadIsInTheTable(t *testing.T) {
	env := &recordingEnv{read: map[string]bool{}}
	cfg, err := loadConfig(nil, env.getenv)
	require.NoError(t, err)
	_, err = clientOptions(cfg, env.getenv)
	require.NoError(t, err)

	var read, undeclared []string
	for k := range env.read {
		read = append(read, k)
		if !workerenv.Reads(k) {
			undeclared = append(undeclared, k)
		}
	}
	sort.Strings(read)
	sort.Strings(undeclared)
	assert.Empty(t, undeclared, "read by the worker but not in internal/workerenv.Vars")
	var stale []string
	for _, n := range workerenv.Names() {
		if !slices.Contains(read, n) {
			stale = append(stale, n)
		}
	}
	assert.Empty(t, stale, "in internal/workerenv.Vars but never read")
	assert.Greater(t, len(read), 40, "the recording saw the reads: %v", read)
}

// --help prints the table (to stderr); --version answers before anything
// else is checked.
func TestHelpAndVersion(t *testing.T) {
	_, err := loadConfig([]string{"-h"}, mapEnv(nil))
	require.ErrorIs(t, err, flag.ErrHelp)
	_, err = loadConfig([]string{"--version"}, mapEnv(map[string]string{"CLOUDSYNC_AUTH_MODE": "bogus"}))
	require.ErrorIs(t, err, errVersion)
}
