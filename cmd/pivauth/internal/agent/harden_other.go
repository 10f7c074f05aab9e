//go:build !linux

package agent

// HardenProcess does nothing: the agent runs on Linux only (see ErrUnsupported).
func HardenProcess() error { return nil }
