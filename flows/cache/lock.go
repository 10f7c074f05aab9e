package cache

import (
	"context"
	"errors"
	"time"

	"github.com/pivauth/pivauth/internal/privfs"
)

// lockPoll is how often a waiting Fetch retries the lock: neither flock nor LockFileEx takes a
// timeout, and polling lets a cancelled context end the wait.
const lockPoll = 20 * time.Millisecond

// lockFile takes the exclusive lock on path (privfs: flock on Unix, LockFileEx on Windows), waiting
// until ctx ends.
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
