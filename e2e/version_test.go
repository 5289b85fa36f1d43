package e2e

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every binary answers --version with its build (internal/buildinfo) and
// nothing else: no configuration needed, nothing started. The test binaries
// are built like CI builds them: with VCS information when the go command
// finds a .git directory and -buildvcs is not false, else saying there is
// none.
func TestBinariesPrintTheirVersion(t *testing.T) {
	skipIfShort(t)
	t.Parallel()
	dir, err := binaries()
	require.NoError(t, err)
	for _, name := range []string{"worker", "starter", "graphsim", "codec-server"} {
		cmd := exec.Command(filepath.Join(dir, name), "--version")
		cmd.Env = []string{"PATH=/usr/bin:/bin"} // no configuration at all
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s --version: %s", name, out)
		line := strings.TrimSpace(string(out))
		assert.NotContains(t, line, "\n", "%s: one line", name)
		assert.True(t, strings.HasPrefix(line, name+" "), "%s: %s", name, line)
		assert.True(t, strings.HasSuffix(line, ", "+runtime.Version()), "%s: %s", name, line)
		if strings.Contains(line, ", revision ") {
			head, err := exec.Command("git", "rev-parse", "HEAD").Output()
			require.NoError(t, err)
			assert.Contains(t, line, ", revision "+strings.TrimSpace(string(head)), name)
		} else {
			assert.Contains(t, line, ", no VCS information", name)
		}
	}
}
