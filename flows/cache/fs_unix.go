//go:build unix

package cache

import (
	"context"
	"errors"
	"time"

	"github.com/pivauth/pivauth/internal/privfs"
)

func ensurePrivateDir(dir string) error { return privfs.EnsureDir(dir) }

func checkPrivateFile(path string) error { return privfs.CheckFile(path) }

// lockPoll is how often a waiting Fetch retries the lock; flock has no timeout, and polling lets a
// cancelled context end the wait.
const lockPoll = 20 * time.Millisecond

// lockFile takes an exclusive flock on path, waiting until ctx ends.
func lockFile(ctx context.Context, path string) (func(), error) {
	for {
		unlock, err := privfs.TryLock(path)
		if !errors.Is(err, privfs.ErrLocked) {
			return unlock, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(lockPoll):
		}
	}
}
