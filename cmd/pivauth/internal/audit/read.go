package audit

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pivauth/pivauth/internal/privfs"
)

// Filter selects events for Read. Zero fields select everything.
type Filter struct {
	Since, Until time.Time // inclusive bounds on Event.Time
	// Card matches Event.Card exactly ("serial:12345678") or by its value alone ("12345678"),
	// ignoring case.
	Card string
}

// Match reports whether ev passes the filter.
func (f Filter) Match(ev Event) bool {
	if !f.Since.IsZero() && ev.Time.Before(f.Since) {
		return false
	}
	if !f.Until.IsZero() && ev.Time.After(f.Until) {
		return false
	}
	if f.Card != "" {
		_, value, _ := strings.Cut(ev.Card, ":")
		if !strings.EqualFold(ev.Card, f.Card) && !strings.EqualFold(value, f.Card) {
			return false
		}
	}
	return true
}

// Read returns the events of the log in dir that pass f, oldest first, reading the rotated files
// before the current one. Lines that are not events (a line cut short by a crash, say) are skipped
// and counted in skipped. A directory without a log yields no events and no error.
func Read(dir string, f Filter) (events []Event, skipped int, err error) {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil, 0, nil
	}
	// A shared lock: writers wait while the files are read, so a rotation cannot make the reader
	// see a line twice or miss one.
	unlock, err := privfs.RLock(filepath.Join(dir, lockName))
	if err != nil {
		return nil, 0, fmt.Errorf("audit: lock %s: %w", dir, err)
	}
	defer unlock()
	for _, path := range files(dir) {
		fh, err := os.Open(path)
		if err != nil {
			return nil, 0, fmt.Errorf("audit: %w", err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 0, 4096), 1<<20)
		for sc.Scan() {
			var ev Event
			if json.Unmarshal(sc.Bytes(), &ev) != nil || ev.Operation == "" {
				skipped++
				continue
			}
			if f.Match(ev) {
				events = append(events, ev)
			}
		}
		err = sc.Err()
		_ = fh.Close()
		if err != nil {
			return nil, 0, fmt.Errorf("audit: read %s: %w", path, err)
		}
	}
	return events, skipped, nil
}
