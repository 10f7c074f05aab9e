//go:build unix

package pinbuf

import (
	"os"

	"golang.org/x/sys/unix"
)

// alloc maps one anonymous page for a secret and tries to lock it in RAM.
func alloc() (mem []byte, locked bool, err error) {
	size := os.Getpagesize()
	if size < MaxLen {
		size = MaxLen
	}
	mem, err = unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return nil, false, err
	}
	excludeFromCoreDump(mem)
	locked = unix.Mlock(mem) == nil
	return mem, locked, nil
}

// release unlocks and unmaps a page from alloc. Munlock fails harmlessly
// when the page was never locked; munmap unlocks it anyway.
func release(mem []byte) error {
	_ = unix.Munlock(mem)
	return unix.Munmap(mem)
}
