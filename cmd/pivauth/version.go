package main

import (
	"fmt"
	"io"
	"regexp"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Release builds (make install, make dist) set these at link time:
//
//	go build -ldflags "-X main.version=1.2.3 -X main.commit=<sha> -X main.buildDate=<RFC 3339>" ./cmd/pivauth
//
// Without them — `go install …@version`, a plain `go build` — readBuildInfo falls back on what the
// Go toolchain recorded: the module version, the VCS stamps, the commit a pseudo-version names.
var (
	version   string
	commit    string
	buildDate string
)

// buildInfo is what `pivauth version` reports.
type buildInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	CommitAt  string `json:"commit_time,omitempty"`
	BuildDate string `json:"build_date,omitempty"`
	Modified  bool   `json:"modified,omitempty"`
	GoVersion string `json:"go"`
	Platform  string `json:"platform"`
	CGO       bool   `json:"cgo"`
}

// pseudoVersionCommit matches the commit abbreviation (12 hex digits) that ends a Go module
// pseudo-version such as v0.0.0-20261203070000-0123456789ab, what `go install …@latest` records
// for a module without a release tag.
var pseudoVersionCommit = regexp.MustCompile(`\d{14}-([0-9a-f]{12})(\+incompatible)?$`)

// readBuildInfo collects the version from the linker flags, the module and the VCS stamps.
func readBuildInfo() buildInfo {
	bi := buildInfo{Version: version, Commit: commit, BuildDate: buildDate,
		GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if info, ok := debug.ReadBuildInfo(); ok {
		if bi.Version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			bi.Version = info.Main.Version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				if bi.Commit == "" {
					bi.Commit = s.Value
				}
			case "vcs.time":
				bi.CommitAt = s.Value
			case "vcs.modified":
				bi.Modified = s.Value == "true"
			case "CGO_ENABLED":
				bi.CGO = s.Value == "1"
			}
		}
	}
	if m := pseudoVersionCommit.FindStringSubmatch(bi.Version); bi.Commit == "" && m != nil {
		bi.Commit = m[1]
	}
	if bi.Version == "" {
		bi.Version = "devel"
	}
	return bi
}

// versionString is the one-line form, also used by `pivauth --version`: version, commit, build
// date, Go version and platform, e.g.
//
//	pivauth 1.2.3 (commit 0123456789ab, built 2026-12-03T07:00:00Z) go1.26.8 linux/amd64
func versionString() string {
	bi := readBuildInfo()
	c := bi.Commit
	if c == "" {
		c = "unknown"
	}
	if len(c) > 12 {
		c = c[:12]
	}
	if bi.Modified {
		c += "+dirty"
	}
	built := bi.BuildDate
	switch {
	case built != "":
	case bi.CommitAt != "":
		built = "from a commit of " + bi.CommitAt
	default:
		built = "unknown"
	}
	return fmt.Sprintf("pivauth %s (commit %s, built %s) %s %s", bi.Version, c, built, bi.GoVersion, bi.Platform)
}

func (a *app) versionCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version of pivauth",
		Long:  "Print the version of pivauth, the commit it was built from, the build date, the Go version and the platform.",
		Example: `  pivauth version
  pivauth version --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.emit(readBuildInfo(), func(w io.Writer) error {
				_, err := fmt.Fprintln(w, versionString())
				return err
			})
		},
	}
	setOutputFormats(cmd, "text", "json")
	return cmd
}
