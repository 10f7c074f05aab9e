//go:build unix && !linux

package pinbuf

// excludeFromCoreDump has no portable equivalent outside Linux; the page is
// still locked and wiped.
func excludeFromCoreDump([]byte) {}
