package oidc

import "time"

// SetLoopbackHeaderTimeout shortens the redirect listener's header deadline for a test and
// returns the function that restores it.
func SetLoopbackHeaderTimeout(d time.Duration) (restore func()) {
	old := loopbackHeaderTimeout
	loopbackHeaderTimeout = d
	return func() { loopbackHeaderTimeout = old }
}
