// Package testio holds I/O helpers for tests, shared by the test files of
// several packages: buffers read while a writer runs, and child processes
// run with a deadline, since CI has a hard time limit and a test waiting on
// a hung child for ever would spend it all. Only tests import it, so none of
// it reaches pivauth.
package testio

import (
	"bytes"
	"sync"
)

// SyncBuffer is a bytes.Buffer that one goroutine may write while another
// reads it: a child process's output copied by exec, or a logger's output,
// that a test inspects before the writer is done. The zero value is an
// empty buffer ready to use.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p to the buffer.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
