package buildinfo

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func TestResolve(t *testing.T) {
	stamped := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/coffer-dev/coffer", Version: "v1.4.0"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123abc"},
			{Key: "vcs.time", Value: "2026-12-01T10:00:00Z"},
			{Key: "vcs.modified", Value: "false"},
		},
	}
	dirty := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Version: "(devel)"},
		Settings:  []debug.BuildSetting{{Key: "vcs.revision", Value: "0123abc"}, {Key: "vcs.modified", Value: "true"}},
	}
	tests := []struct {
		name                  string
		bi                    *debug.BuildInfo
		version, commit, date string
		want                  Info
	}{
		{"nothing embedded, no ldflags", nil, "", "", "",
			Info{"devel", Unknown, Unknown, runtime.Version()}},
		{"module and VCS stamps", stamped, "", "", "",
			Info{"v1.4.0", "0123abc", "2026-12-01T10:00:00Z", "go1.26.8"}},
		{"ldflags win over stamps", stamped, "v2.0.0", "feedbeef", "2026-12-02T00:00:00Z",
			Info{"v2.0.0", "feedbeef", "2026-12-02T00:00:00Z", "go1.26.8"}},
		{"a build of the working tree says devel and dirty", dirty, "", "", "",
			Info{"devel", "0123abc-dirty", Unknown, "go1.26.8"}},
		{"an ldflags commit is taken as given", dirty, "", "cafe", "",
			Info{"devel", "cafe", Unknown, "go1.26.8"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := resolve(tt.bi, tt.version, tt.commit, tt.date); got != tt.want {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestString(t *testing.T) {
	got := Info{"v1.4.0", "0123abc", "2026-12-01T10:00:00Z", "go1.26.8"}.String()
	want := "coffer v1.4.0 (commit 0123abc, built 2026-12-01T10:00:00Z, go1.26.8)"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
