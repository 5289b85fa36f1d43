// Package buildinfo says which build a binary is, for --version and the
// worker's start log: the module version and the VCS revision, time and
// modified flag that the go command stamps into the binary.
package buildinfo

import (
	"cmp"
	"fmt"
	"runtime/debug"
	"strings"
)

// Info is what a binary knows about its build.
type Info struct {
	Program   string // e.g. "worker"
	Version   string // main module version: a tag, a pseudo-version, or "(devel)"
	Revision  string // VCS commit; empty without VCS information
	Time      string // commit time, RFC 3339
	Modified  bool   // built from a work tree with uncommitted changes
	GoVersion string
}

// Read reads the running binary's build information.
func Read(program string) Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	return FromBuildInfo(program, bi)
}

// FromBuildInfo extracts Info from bi (nil: a binary built without module
// support, which says nothing).
func FromBuildInfo(program string, bi *debug.BuildInfo) Info {
	i := Info{Program: program}
	if bi == nil {
		return i
	}
	i.Version, i.GoVersion = bi.Main.Version, bi.GoVersion
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			i.Revision = s.Value
		case "vcs.time":
			i.Time = s.Value
		case "vcs.modified":
			i.Modified = s.Value == "true"
		}
	}
	return i
}

// String is the --version line, e.g. "worker v1.2.0, revision 0df8874…
// (2026-11-25T10:00:00Z), go1.26.8". A build without VCS information (go
// build -buildvcs=false, as CI does, or outside a checkout) says so.
func (i Info) String() string {
	var b strings.Builder
	b.WriteString(i.Program)
	b.WriteString(" " + cmp.Or(i.Version, "(unknown version)"))
	if i.Revision == "" {
		b.WriteString(", no VCS information (built with -buildvcs=false or outside a git checkout)")
	} else {
		fmt.Fprintf(&b, ", revision %s", i.Revision)
		if i.Time != "" {
			fmt.Fprintf(&b, " (%s)", i.Time)
		}
		if i.Modified {
			b.WriteString(", modified")
		}
	}
	if i.GoVersion != "" {
		b.WriteString(", " + i.GoVersion)
	}
	return b.String()
}
