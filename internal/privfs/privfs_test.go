package privfs

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestEnsureDirCreatesPrivateDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	if err := EnsureDir(dir); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Windows has no mode bits to speak of; there CheckDir (run by EnsureDir) checked the ACL.
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o700 {
		t.Fatalf("created mode %v; want 0700", fi.Mode())
	}
	if err := EnsureDir(dir); err != nil {
		t.Fatalf("second EnsureDir: %v", err)
	}
}

func TestTryLockExcludes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	unlock, err := TryLock(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := TryLock(path); !errors.Is(err, ErrLocked) {
		t.Fatalf("second TryLock = %v, want ErrLocked", err)
	}
	unlock()
	unlock2, err := TryLock(path)
	if err != nil {
		t.Fatalf("TryLock after unlock: %v", err)
	}
	unlock2()
}

// Readers share the lock; a writer waits for them (TryLock fails while one reads).
func TestRLockShares(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	r1, err := RLock(path)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := RLock(path)
	if err != nil {
		t.Fatalf("second RLock: %v", err)
	}
	r1()
	if _, err := TryLock(path); !errors.Is(err, ErrLocked) {
		t.Fatalf("TryLock while a reader holds the lock = %v, want ErrLocked", err)
	}
	r2()
	unlock, err := TryLock(path)
	if err != nil {
		t.Fatalf("TryLock after the readers left: %v", err)
	}
	unlock()
}
