package audit

import (
	"fmt"
	"os"
	"path/filepath"
)

// DefaultDir returns the directory of the audit log: $XDG_STATE_HOME/pivauth, or
// ~/.local/state/pivauth when XDG_STATE_HOME is unset or not absolute (as the XDG base directory
// specification says).
func DefaultDir() (string, error) {
	if d := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "pivauth"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("audit: no home directory for the log; set XDG_STATE_HOME: %w", err)
	}
	return filepath.Join(home, ".local", "state", "pivauth"), nil
}
