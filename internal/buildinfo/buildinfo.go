// Package buildinfo names the build a binary came from: version, commit,
// build date and Go version (docs/operations.md, "Build info"). The values
// come from the module and VCS stamps the Go toolchain embeds
// (runtime/debug.ReadBuildInfo); a release build sets them explicitly with
//
//	go build -ldflags "-X github.com/coffer-dev/coffer/internal/buildinfo.version=v1.2.3 \
//	  -X github.com/coffer-dev/coffer/internal/buildinfo.commit=$(git rev-parse HEAD) \
//	  -X github.com/coffer-dev/coffer/internal/buildinfo.date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
//
// which wins over the embedded stamps (a build with -buildvcs=false, or
// from a source tarball, has none).
package buildinfo

import (
	"runtime"
	"runtime/debug"
	"sync"
)

// Set with -ldflags -X; "" means "take it from the embedded build info".
var (
	version string
	commit  string
	date    string
)

// Unknown is what a field holds when neither -ldflags nor the embedded
// build info supplies it.
const Unknown = "unknown"

// Info describes one build. Its JSON form is the body of GET /version.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	BuildDate string `json:"build_date"`
	GoVersion string `json:"go_version"`
}

// Get returns this binary's build info. It is computed once.
var Get = sync.OnceValue(func() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	return resolve(bi, version, commit, date)
})

// resolve merges the -ldflags values (which win) with the embedded build
// info bi (nil when the binary has none).
func resolve(bi *debug.BuildInfo, version, commit, date string) Info {
	info := Info{Version: version, Commit: commit, BuildDate: date, GoVersion: runtime.Version()}
	if bi != nil {
		if bi.GoVersion != "" {
			info.GoVersion = bi.GoVersion
		}
		// "(devel)" is what a build inside the module's own tree gets; it
		// says nothing, so the commit below identifies such builds.
		if info.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			info.Version = bi.Main.Version
		}
		var modified bool
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if info.Commit == "" {
					info.Commit = s.Value
				}
			case "vcs.time":
				if info.BuildDate == "" {
					info.BuildDate = s.Value
				}
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if modified && commit == "" && info.Commit != "" {
			info.Commit += "-dirty"
		}
	}
	if info.Version == "" {
		info.Version = "devel"
	}
	if info.Commit == "" {
		info.Commit = Unknown
	}
	if info.BuildDate == "" {
		info.BuildDate = Unknown
	}
	return info
}

// String is the one-line form `coffer version` prints.
func (i Info) String() string {
	return "coffer " + i.Version + " (commit " + i.Commit + ", built " + i.BuildDate + ", " + i.GoVersion + ")"
}
