package signer

import (
	"context"
	"fmt"
	"os"
	"sync"

	"github.com/pivauth/pivauth/internal/pinbuf"
)

// PINEnv is the environment variable Env reads.
const PINEnv = "PIVAUTH_PIN"

// Env returns a source holding the PIN from the PIVAUTH_PIN environment
// variable. The variable is read and removed from the process environment
// when Env is called (see UnsetEnv), so child processes (pivauth exec) never
// inherit it and, on Linux, /proc/PID/environ no longer shows it; call Env
// (or DefaultPINSource) before starting any child. When the variable is unset
// the source declines with ErrNoPIN. The PIN is kept in protected memory for
// the life of the process, so that every signer of the process can use it.
func Env() PINSource {
	v, ok := os.LookupEnv(PINEnv)
	if !ok {
		return &envSource{}
	}
	b := []byte(v)
	// The string v is the environment's own memory, which UnsetEnv zeroes
	// on Linux; elsewhere it cannot be wiped and becomes garbage.
	_ = UnsetEnv() // best effort: the PIN is already in the environment, refusing it would protect nothing
	buf, err := pinbuf.New(b)
	return &envSource{buf: buf, err: err, set: true}
}

// UnsetEnv removes PIVAUTH_PIN from the process environment without reading
// it: from Go's and the C library's copies, which child processes inherit,
// and on Linux from the initial environment block that the kernel shows as
// /proc/PID/environ for the life of the process (os.Unsetenv alone leaves it
// there). The agent calls it at start; Env calls it after reading the PIN.
// The error says why the initial block could not be cleared; the variable is
// unset for children either way.
func UnsetEnv() error {
	os.Unsetenv(PINEnv)
	if err := scrubInitialEnviron(PINEnv); err != nil {
		return fmt.Errorf("clearing %s from /proc/self/environ: %w", PINEnv, err)
	}
	return nil
}

type envSource struct {
	mu  sync.Mutex
	set bool
	buf *pinbuf.Buffer
	err error
}

func (s *envSource) PIN(_ context.Context, req PINRequest) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case !s.set:
		return nil, noPIN("%s is not set", PINEnv)
	case s.err != nil:
		return nil, s.err
	case req.Retry:
		return nil, noPIN("the card refused the PIN from %s; correct it", PINEnv)
	}
	var pin []byte
	err := s.buf.Use(func(p []byte) error { pin = append([]byte(nil), p...); return nil })
	return pin, err
}
