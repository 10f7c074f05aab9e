package piv

import (
	"encoding/hex"
	"testing"
)

// TestDefaultManagementKey checks the published factory value, and that a
// caller wiping its copy does not wipe the next caller's.
func TestDefaultManagementKey(t *testing.T) {
	k := DefaultManagementKey()
	if got := hex.EncodeToString(k); got != "010203040506070801020304050607080102030405060708" {
		t.Fatalf("DefaultManagementKey() = %s", got)
	}
	clear(k)
	if DefaultManagementKey()[0] != 1 {
		t.Fatal("wiping one copy wiped the next")
	}
}
