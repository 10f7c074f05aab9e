package signer

// Promptless is implemented by PIN sources that can answer without showing
// the request to anyone (a file, the environment). Before asking such a
// source for the session's first PIN the signer does not read the tries
// left, which nobody would see: the lockout guard reads them in the VERIFY's
// transaction anyway (one APDU less per cold process). A source that would
// prompt a person gets the count first, so that nobody types a PIN the guard
// then refuses.
type Promptless interface {
	PINSource
	// Promptless reports whether the next PIN call answers (or declines)
	// without showing anything to a person.
	Promptless() bool
}

// promptless reports whether src is a Promptless source that says so.
func promptless(src PINSource) bool {
	p, ok := src.(Promptless)
	return ok && p.Promptless()
}

// Promptless: a PIN file is read, never shown.
func (fileSource) Promptless() bool { return true }

// Promptless: the variable is read, never shown; unset, the source declines
// without showing anything either.
func (*envSource) Promptless() bool { return true }

// Promptless: a chain answers without a prompt when every source it would
// ask before one that answers is promptless, and the first of them that is
// set answers: a file or a set PIVAUTH_PIN before the terminal.
func (c *chain) Promptless() bool {
	for _, src := range c.sources {
		if !promptless(src) {
			return false
		}
		if e, ok := src.(*envSource); !ok || e.set {
			return true // a file, or a set variable, answers
		}
	}
	return true
}
