package oidc

import (
	"time"

	"github.com/pivauth/pivauth/flows/internal/loopback"
)

// SetLoopbackHeaderTimeout shortens the redirect listener's header deadline for a test and
// returns the function that restores it.
func SetLoopbackHeaderTimeout(d time.Duration) (restore func()) {
	old := loopback.HeaderTimeout
	loopback.HeaderTimeout = d
	return func() { loopback.HeaderTimeout = old }
}
