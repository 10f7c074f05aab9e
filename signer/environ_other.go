//go:build !linux

package signer

// scrubInitialEnviron is not implemented on this system: the initial environment block of the
// process may stay readable by the user's other processes through the system's process tools
// (ps -E on macOS and the BSDs). Use a PIN file there for unattended jobs.
func scrubInitialEnviron(string) error { return nil }
