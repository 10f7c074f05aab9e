// Package pinbuf holds a short secret (a PIN or PUK) in memory that is kept
// out of the Go heap, locked against swapping where the OS allows it,
// excluded from core dumps on Linux, and wiped on Close.
//
// The Go heap is the wrong place for a PIN: the garbage collector may copy
// it, and freed memory is not cleared. A Buffer keeps the bytes in a page of
// its own, so the only copies are the ones the caller makes on purpose (the
// APDU that carries the PIN to the card, which the caller wipes too).
package pinbuf

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
)

// MaxLen is the longest secret a Buffer holds. PIV PINs are at most 8 bytes;
// the headroom admits longer passphrases a PIN source may return before the
// signer rejects them with a clear message.
const MaxLen = 256

// ErrClosed reports use of a Buffer after Close.
var ErrClosed = errors.New("pinbuf: buffer already wiped")

// Buffer holds one secret. It is safe for concurrent use.
type Buffer struct {
	mu      sync.Mutex
	mem     []byte // the whole allocation; the secret is mem[:n]
	n       int
	locked  bool // mlock succeeded
	closed  bool
	cleanup runtime.Cleanup
}

// New returns a Buffer holding a copy of secret and wipes secret, so the
// caller's copy (read from a terminal, a file or the environment) does not
// outlive the call. Failing to lock the memory is not an error (Locked
// reports it): an unprivileged process may have a zero RLIMIT_MEMLOCK, and
// refusing to work there would push people to worse places for their PIN.
func New(secret []byte) (*Buffer, error) {
	defer Wipe(secret)
	if len(secret) > MaxLen {
		return nil, fmt.Errorf("pinbuf: secret of %d bytes is longer than %d", len(secret), MaxLen)
	}
	mem, locked, err := alloc()
	if err != nil {
		return nil, fmt.Errorf("pinbuf: allocating protected memory: %w", err)
	}
	b := &Buffer{mem: mem, n: copy(mem, secret), locked: locked}
	// A Buffer dropped without Close is still wiped and released when it
	// becomes unreachable. mem points outside the Go heap, so capturing it
	// does not keep b alive.
	b.cleanup = runtime.AddCleanup(b, func(mem []byte) { Wipe(mem); release(mem) }, mem)
	return b, nil
}

// Use calls fn with the secret. The slice aliases the protected memory: fn
// must not retain it, and any copy fn makes is fn's to wipe.
func (b *Buffer) Use(fn func(secret []byte) error) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	return fn(b.mem[:b.n:b.n])
}

// Len returns the length of the secret, 0 after Close.
func (b *Buffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0
	}
	return b.n
}

// Locked reports whether the memory is locked against swapping.
func (b *Buffer) Locked() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.locked && !b.closed
}

// Close wipes the secret and releases the memory. It is idempotent.
func (b *Buffer) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	b.cleanup.Stop()
	Wipe(b.mem)
	err := release(b.mem)
	b.mem, b.n = nil, 0
	return err
}

// Wipe overwrites p with zeros. Use it on every transient copy of a secret.
func Wipe(p []byte) {
	clear(p)
	// Keep the compiler from treating the stores as dead.
	runtime.KeepAlive(p)
}
