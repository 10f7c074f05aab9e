package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at link time by release builds:
//
//	go build -ldflags "-X main.version=v1.2.3" ./cmd/pivauth
//
// Without it, the module version recorded by `go install …@version` is used, else "devel".
var version string

// buildInfo is what `pivauth version` reports.
type buildInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	CommitAt  string `json:"commit_time,omitempty"`
	Modified  bool   `json:"modified,omitempty"`
	GoVersion string `json:"go"`
	Platform  string `json:"platform"`
	CGO       bool   `json:"cgo"`
}

// readBuildInfo collects the version from the linker flag, the module and the VCS stamps.
func readBuildInfo() buildInfo {
	bi := buildInfo{Version: version, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	info, ok := debug.ReadBuildInfo()
	if ok {
		if bi.Version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			bi.Version = info.Main.Version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				bi.Commit = s.Value
			case "vcs.time":
				bi.CommitAt = s.Value
			case "vcs.modified":
				bi.Modified = s.Value == "true"
			case "CGO_ENABLED":
				bi.CGO = s.Value == "1"
			}
		}
	}
	if bi.Version == "" {
		bi.Version = "devel"
	}
	return bi
}

// versionString is the one-line form, also used by `pivauth --version`.
func versionString() string {
	bi := readBuildInfo()
	s := "pivauth " + bi.Version
	if bi.Commit != "" {
		c := bi.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		if bi.Modified {
			c += "+dirty"
		}
		s += " (" + c + ")"
	}
	return s + " " + bi.GoVersion + " " + bi.Platform
}

func (a *app) versionCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version of pivauth",
		Long:  "Print the version of pivauth, the commit it was built from, the Go version and the platform.",
		Example: `  pivauth version
  pivauth version --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if a.format == "json" {
				return writeJSON(a.stdout, readBuildInfo())
			}
			_, err := fmt.Fprintln(a.stdout, versionString())
			return err
		},
	}
	setOutputFormats(cmd, "text", "json")
	return cmd
}
