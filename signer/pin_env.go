package signer

import (
	"context"
	"os"
	"sync"

	"github.com/pivauth/pivauth/internal/pinbuf"
)

// PINEnv is the environment variable Env reads.
const PINEnv = "PIVAUTH_PIN"

// Env returns a source holding the PIN from the PIVAUTH_PIN environment
// variable. The variable is read and removed from the process environment
// when Env is called, so child processes (pivauth exec) never inherit it;
// call Env (or DefaultPINSource) before starting any. When the variable is
// unset the source declines with ErrNoPIN. The PIN is kept in protected
// memory for the life of the process, so that every signer of the process
// can use it.
func Env() PINSource {
	v, ok := os.LookupEnv(PINEnv)
	if !ok {
		return &envSource{}
	}
	os.Unsetenv(PINEnv)
	b := []byte(v)
	// The string v itself cannot be wiped (Go strings are immutable); it
	// becomes garbage now, which is the best the environment allows.
	buf, err := pinbuf.New(b)
	return &envSource{buf: buf, err: err, set: true}
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
