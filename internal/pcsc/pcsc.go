// Package pcsc is pivauth's only door to PC/SC (github.com/ebfe/scard).
//
// ebfe/scard calls pcsc-lite through cgo on Linux, macOS and the BSDs, and
// WinSCard without cgo on Windows. Where it is built (cgo, or Windows) this
// package is a set of aliases for the parts of scard pivauth uses, so
// values and errors are scard's own. Built without cgo elsewhere, scard does
// not compile; the same names then stand for stubs whose EstablishContext
// fails with ErrUnavailable, so such a build still compiles and every card
// operation fails at once with a message that says how to rebuild.
package pcsc

import (
	"errors"
	"runtime"
)

// ErrUnavailable is the error of every PC/SC call in a build without cgo on
// a system whose PC/SC library needs cgo (every one but Windows).
var ErrUnavailable = errors.New("pivauth was built without cgo: PC/SC is unavailable on " + runtime.GOOS +
	": rebuild with CGO_ENABLED=1" + rebuildHint[runtime.GOOS])

// rebuildHint names what a cgo build needs besides a C compiler, per system.
var rebuildHint = map[string]string{
	"linux":   " and libpcsclite-dev (Debian, Ubuntu) or pcsc-lite-devel (Fedora, RHEL) installed",
	"darwin":  " and the Xcode command line tools installed (xcode-select --install)",
	"freebsd": " and the pcsc-lite package installed",
	"openbsd": " and the pcsc-lite package installed",
}
