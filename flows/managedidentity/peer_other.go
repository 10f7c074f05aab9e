//go:build !linux

package managedidentity

import "net/http"

// peerProcess would name the client process from the connection's socket; only Linux's /proc is
// read for that, elsewhere the audit record names no process.
func peerProcess(*http.Request) string { return "" }
