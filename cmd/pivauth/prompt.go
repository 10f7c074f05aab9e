package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/pivauth/pivauth/internal/pinbuf"
	"github.com/pivauth/pivauth/signer"
)

// pinSource assembles where the PIN comes from, in the order pivauth tries them:
//
//  1. --pin-file FILE (or the profile's pin_file): an unattended job's PIN, checked to be 0600;
//  2. PIVAUTH_PIN: read once and removed from the environment, so `exec` children never see it;
//  3. --pinentry PROGRAM (or the profile's pinentry), when given, before the terminal;
//  4. the terminal (/dev/tty, no echo; the prompt names card, slot and tries left);
//  5. pinentry from PATH, when there is a display but no terminal.
//
// A source that has nothing to give passes to the next. When none can, signer's chain fails at
// once with ErrNoPIN, which pivauth reports with ExitPIN: it never waits on stdin.
func (a *app) pinSource() signer.PINSource {
	var sources []signer.PINSource
	if a.opts.pinFile != "" {
		sources = append(sources, signer.File(a.opts.pinFile))
	}
	sources = append(sources, signer.Env())
	if a.opts.pinentry != "" {
		sources = append(sources, &signer.PinentrySource{Program: a.opts.pinentry})
	}
	sources = append(sources, signer.Terminal())
	if a.opts.pinentry == "" {
		sources = append(sources, signer.Pinentry())
	}
	return cliPINSource{signer.Chain(sources...).(signer.Interactive)}
}

// cliPINSource is pivauth's chain of PIN sources, its failures marked as pinSourceError. It is
// signer.Interactive as the chain is: a PIN typed at the terminal or in pinentry that the card
// refused is asked again in the same run, a PIN from a file or PIVAUTH_PIN never.
type cliPINSource struct{ chain signer.Interactive }

func (s cliPINSource) PIN(ctx context.Context, req signer.PINRequest) ([]byte, error) {
	pin, err := s.chain.PIN(ctx, req)
	if err != nil {
		return nil, &pinSourceError{err}
	}
	return pin, nil
}

func (s cliPINSource) AsksPerson() bool { return s.chain.AsksPerson() }

// Promptless reports, before any PIN is asked, whether the chain answers without a prompt (a
// --pin-file or PIVAUTH_PIN comes before the terminal): the signer then skips the tries read it
// makes to show a person the count.
func (s cliPINSource) Promptless() bool {
	p, ok := s.chain.(signer.Promptless)
	return ok && p.Promptless()
}

// pinSourceError marks a failure to get the PIN (no source, a PIN file open to others, a prompt
// cancelled), so that it exits with ExitPIN however the library that asked wraps it.
type pinSourceError struct{ err error }

func (e *pinSourceError) Error() string { return e.err.Error() }
func (e *pinSourceError) Unwrap() error { return e.err }

// pinSourceExitCode maps a pinSourceError to ExitPIN.
func pinSourceExitCode(err error) (int, bool) {
	var pe *pinSourceError
	return ExitPIN, errors.As(err, &pe)
}

// readNewSecret asks for a new PIN or PUK twice on the terminal and returns it once both match.
// what names it ("new PIN"); check validates it before the second prompt.
func readNewSecret(ctx context.Context, what string, check func([]byte) error) ([]byte, error) {
	t, err := openTerminal()
	if err != nil {
		return nil, withCode(ExitPIN, fmt.Errorf("asking for the %s: %w; give it in a file instead (see --help)", what, err))
	}
	defer t.Close()
	for attempt := 0; attempt < 3; attempt++ {
		t.Printf("Enter the %s: ", what)
		first, err := t.ReadSecret(ctx)
		if err != nil {
			return nil, err
		}
		if err := check(first); err != nil {
			pinbuf.Wipe(first)
			t.Printf("%v\n", err)
			continue
		}
		t.Printf("Repeat the %s: ", what)
		second, err := t.ReadSecret(ctx)
		if err != nil {
			pinbuf.Wipe(first)
			return nil, err
		}
		same := bytes.Equal(first, second)
		pinbuf.Wipe(second)
		if same {
			return first, nil
		}
		pinbuf.Wipe(first)
		t.Printf("The two entries differ; try again.\n")
	}
	return nil, withCode(ExitPIN, errors.New(what+": three attempts failed; nothing was changed"))
}

// readSecret asks once for a secret on the terminal (a PUK, a management key).
func readSecret(ctx context.Context, prompt string) ([]byte, error) {
	t, err := openTerminal()
	if err != nil {
		return nil, err
	}
	defer t.Close()
	t.Printf("%s: ", prompt)
	return t.ReadSecret(ctx)
}

// touchNotice tells the person to touch the card: the card waits for it (a key with a touch policy)
// and has taken long enough that it would otherwise look stuck. Said on the terminal of the command
// that needs the signature (its stderr), whether the card is its own or the agent's; nothing when
// stderr is not a terminal, where nobody reads it as it happens.
func touchNotice(w io.Writer) {
	if stderrIsTerminal(w) {
		fmt.Fprintln(w, "Touch your YubiKey…")
	}
}
