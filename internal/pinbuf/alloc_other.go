//go:build !unix

package pinbuf

// alloc falls back to an ordinary allocation where mmap/mlock are not
// available; the secret is still wiped on Close.
func alloc() ([]byte, bool, error) { return make([]byte, MaxLen), false, nil }

func release([]byte) error { return nil }
