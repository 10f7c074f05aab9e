package main

import "syscall"

// detachedProcess: Windows has no sessions to leave; serve there runs in its own window.
func detachedProcess() (*syscall.SysProcAttr, error) {
	return nil, usageErrorf("--detach is not available on Windows: run pivauth serve --managed-identity in a window of its own")
}

// detachStdio is never reached on Windows (detachedProcess refuses).
func detachStdio() error { return nil }
