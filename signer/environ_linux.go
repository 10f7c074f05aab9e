package signer

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
)

// scrubInitialEnviron overwrites with zero bytes the value of every name=value entry in the
// process's initial environment block: the memory between env_start and env_end (/proc/self/stat)
// that the kernel shows as /proc/PID/environ for the whole life of the process. os.Unsetenv and
// the C library's unsetenv only drop their pointers to it.
//
// It writes through /proc/self/mem, which a process may always do to itself while it is dumpable
// (call it before PR_SET_DUMPABLE 0 makes /proc/self root's). The entry's name stays, followed by
// NUL bytes; Go's runtime keeps a string over that memory, which reads as zeros afterwards and is
// never used for this variable again (it is unset).
func scrubInitialEnviron(name string) error {
	stat, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return err
	}
	// Fields after the command name, which is in parentheses and may hold anything: the first is
	// field 3 (state); env_start and env_end are fields 50 and 51 (proc(5), Linux 3.5).
	i := bytes.LastIndexByte(stat, ')')
	fields := bytes.Fields(stat[i+1:])
	if i < 0 || len(fields) < 51-2 {
		return errors.New("/proc/self/stat has no env_start/env_end")
	}
	start, err1 := strconv.ParseInt(string(fields[50-3]), 10, 64)
	end, err2 := strconv.ParseInt(string(fields[51-3]), 10, 64)
	if err := errors.Join(err1, err2); err != nil || end < start {
		return fmt.Errorf("/proc/self/stat: bad env_start/env_end: %v", err)
	}
	mem, err := os.OpenFile("/proc/self/mem", os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer mem.Close()
	block := make([]byte, end-start)
	if _, err := mem.ReadAt(block, start); err != nil {
		return err
	}
	prefix := []byte(name + "=")
	for off := 0; off < len(block); {
		n := bytes.IndexByte(block[off:], 0)
		if n < 0 {
			n = len(block) - off
		}
		if entry := block[off : off+n]; bytes.HasPrefix(entry, prefix) && len(entry) > len(prefix) {
			if _, err := mem.WriteAt(make([]byte, len(entry)-len(prefix)), start+int64(off+len(prefix))); err != nil {
				return err
			}
		}
		off += n + 1
	}
	clear(block)
	return nil
}
