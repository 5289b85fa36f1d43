package buildinfo

import (
	"runtime/debug"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestString(t *testing.T) {
	withVCS := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/cloudsync/cloudsync", Version: "v0.0.0-20261125100000-0df8874c1a2b+dirty"},
		Settings: []debug.BuildSetting{
			{Key: "-buildmode", Value: "exe"},
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "0df8874c1a2b3c4d5e6f708192a3b4c5d6e7f809"},
			{Key: "vcs.time", Value: "2026-11-25T10:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		}}
	i := FromBuildInfo("worker", withVCS)
	assert.Equal(t, Info{Program: "worker", Version: "v0.0.0-20261125100000-0df8874c1a2b+dirty", Revision: "0df8874c1a2b3c4d5e6f708192a3b4c5d6e7f809",
		Time: "2026-11-25T10:00:00Z", Modified: true, GoVersion: "go1.26.8"}, i)
	assert.Equal(t, "worker v0.0.0-20261125100000-0df8874c1a2b+dirty, revision 0df8874c1a2b3c4d5e6f708192a3b4c5d6e7f809 (2026-11-25T10:00:00Z), modified, go1.26.8", i.String())

	clean := *withVCS
	clean.Settings = []debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}, {Key: "vcs.modified", Value: "false"}}
	clean.Main.Version = "v1.2.0"
	assert.Equal(t, "starter v1.2.0, revision abc, go1.26.8", FromBuildInfo("starter", &clean).String())

	// go build -buildvcs=false (CI): no vcs.* settings, version "(devel)".
	noVCS := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}
	assert.Equal(t, "graphsim (devel), no VCS information (built with -buildvcs=false or outside a git checkout), go1.26.8",
		FromBuildInfo("graphsim", noVCS).String())

	// No build information at all.
	assert.Equal(t, "codec-server (unknown version), no VCS information (built with -buildvcs=false or outside a git checkout)",
		FromBuildInfo("codec-server", nil).String())
}

// A test binary has build information: the Go version at least.
func TestRead(t *testing.T) {
	i := Read("buildinfo.test")
	require.Equal(t, "buildinfo.test", i.Program)
	assert.True(t, strings.HasPrefix(i.GoVersion, "go"), i.GoVersion)
}
