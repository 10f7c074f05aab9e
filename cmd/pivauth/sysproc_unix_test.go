//go:build !windows

package main

import "syscall"

// detached starts the program in a new session, without a controlling terminal, as a cron job
// or a service runs: /dev/tty cannot be opened there, whatever terminal `go test` runs in.
func detached() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }
