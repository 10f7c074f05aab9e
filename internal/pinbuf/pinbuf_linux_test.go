package pinbuf

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
	"unsafe"
)

// vmFlags returns the VmFlags line of the mapping that starts at addr, from
// the kernel's own view in /proc/self/smaps.
func vmFlags(t *testing.T, addr uintptr) []string {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skipf("no smaps: %v", err)
	}
	defer f.Close()
	prefix := fmt.Sprintf("%x-", addr)
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, prefix) {
			in = true
			continue
		}
		if in && strings.HasPrefix(line, "VmFlags:") {
			return strings.Fields(strings.TrimPrefix(line, "VmFlags:"))
		}
	}
	if in {
		t.Fatal("mapping has no VmFlags line")
	}
	return nil
}

func has(flags []string, f string) bool {
	for _, x := range flags {
		if x == f {
			return true
		}
	}
	return false
}

func TestPageIsLockedAndNotDumped(t *testing.T) {
	b, err := New([]byte("123456"))
	if err != nil {
		t.Fatal(err)
	}
	addr := uintptr(unsafe.Pointer(unsafe.SliceData(b.mem)))
	flags := vmFlags(t, addr)
	if flags == nil {
		t.Fatalf("no mapping at %#x: the secret is not in its own page", addr)
	}
	if !has(flags, "dd") {
		t.Errorf("VmFlags %v: page not excluded from core dumps", flags)
	}
	if b.Locked() != has(flags, "lo") {
		t.Errorf("Locked() = %v but VmFlags %v", b.Locked(), flags)
	}
	if !b.Locked() {
		t.Logf("mlock refused here (RLIMIT_MEMLOCK); buffer works unlocked")
	}
	b.Close()
	if vmFlags(t, addr) != nil {
		t.Error("page still mapped after Close")
	}
}
