package pinbuf

import "golang.org/x/sys/unix"

// excludeFromCoreDump keeps the page out of core dumps. Best effort: a
// kernel without MADV_DONTDUMP still gets a working buffer.
func excludeFromCoreDump(mem []byte) { _ = unix.Madvise(mem, unix.MADV_DONTDUMP) }
