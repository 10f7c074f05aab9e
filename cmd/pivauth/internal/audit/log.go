package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/pivauth/pivauth/internal/privfs"
)

// FileName is the name of the current log file inside the log directory; rotated files carry a
// numeric suffix, ".1" being the newest of them.
const FileName = "audit.jsonl"

// lockName is the sibling file every writer flocks. A separate file, because the log itself is
// renamed by rotation and a lock on a renamed file would no longer exclude the next writer.
const lockName = "audit.lock"

// Default rotation limits.
const (
	DefaultMaxSize = 10 << 20 // bytes of the current file before it is rotated
	DefaultKeep    = 5        // rotated files kept besides the current one
)

// Log appends events to the audit file in a directory. It is safe for concurrent use by goroutines
// and by processes: each Record takes an exclusive lock on the directory's lock file.
type Log struct {
	dir     string
	maxSize int64
	keep    int
}

// Open prepares dir (created 0700 if missing; refused if it is a symlink or other users can read
// it) and returns a Log that writes there. maxSize <= 0 and keep <= 0 select DefaultMaxSize and
// DefaultKeep.
func Open(dir string, maxSize int64, keep int) (*Log, error) {
	if err := privfs.EnsureDir(dir); err != nil {
		return nil, fmt.Errorf("audit: log directory: %w", err)
	}
	if maxSize <= 0 {
		maxSize = DefaultMaxSize
	}
	if keep <= 0 {
		keep = DefaultKeep
	}
	return &Log{dir: dir, maxSize: maxSize, keep: keep}, nil
}

// Dir returns the directory the log writes to.
func (l *Log) Dir() string { return l.dir }

// Record appends ev as one JSON line. Time and PID are filled in when zero; the purpose is sanitized.
func (l *Log) Record(ev Event) error {
	if ev.Time.IsZero() {
		ev.Time = time.Now().UTC()
	}
	if ev.PID == 0 {
		ev.PID = os.Getpid()
	}
	ev.Purpose = sanitized(ev.Purpose)
	line, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("audit: encode event: %w", err)
	}
	line = append(line, '\n')

	unlock, err := privfs.Lock(filepath.Join(l.dir, lockName))
	if err != nil {
		return fmt.Errorf("audit: lock %s: %w", l.dir, err)
	}
	defer unlock()

	path := filepath.Join(l.dir, FileName)
	if fi, err := os.Stat(path); err == nil && fi.Size() > 0 && fi.Size()+int64(len(line)) > l.maxSize {
		if err := l.rotate(); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("audit: open log: %w", err)
	}
	if _, err := f.Write(line); err != nil {
		_ = f.Close()
		return fmt.Errorf("audit: append to %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("audit: append to %s: %w", path, err)
	}
	return nil
}

// rotate shifts audit.jsonl.N-1 -> .N … audit.jsonl -> .1, dropping the oldest. The caller holds the
// lock.
func (l *Log) rotate() error {
	base := filepath.Join(l.dir, FileName)
	for i := l.keep - 1; i >= 1; i-- {
		err := os.Rename(base+"."+strconv.Itoa(i), base+"."+strconv.Itoa(i+1))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("audit: rotate: %w", err)
		}
	}
	if err := os.Rename(base, base+".1"); err != nil {
		return fmt.Errorf("audit: rotate: %w", err)
	}
	return nil
}

// files returns the log files of dir, oldest first, skipping those that do not exist.
func files(dir string) []string {
	base := filepath.Join(dir, FileName)
	var out []string
	for i := 1; ; i++ {
		if _, err := os.Stat(base + "." + strconv.Itoa(i)); err != nil {
			break
		}
		out = append([]string{base + "." + strconv.Itoa(i)}, out...)
	}
	if _, err := os.Stat(base); err == nil {
		out = append(out, base)
	}
	return out
}
