//go:build !unix

package cache

import (
	"context"
	"os"
)

// On systems without flock (Windows) the directory is created 0700 (the user's profile is private
// there already) and Fetch takes no cross-process lock: two processes at once may both fetch, which
// costs an extra signature but stays correct, since writes are atomic renames.

func ensurePrivateDir(dir string) error { return os.MkdirAll(dir, 0o700) }

func checkPrivateFile(path string) error {
	_, err := os.Lstat(path)
	return err
}

func lockFile(ctx context.Context, _ string) (func(), error) { return func() {}, ctx.Err() }
