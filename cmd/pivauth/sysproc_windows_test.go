//go:build windows

package main

import "syscall"

// detached is the default on Windows: the tests that need the bench do not run there.
func detached() *syscall.SysProcAttr { return nil }
