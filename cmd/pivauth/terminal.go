package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/pivauth/pivauth/signer"
)

// errNoTerminal is returned when pivauth must ask something and has no terminal to ask on: it
// never reads a secret or a choice from a redirected stdin, where it would hang or take the wrong
// input.
var errNoTerminal = errors.New("no terminal to ask on")

// terminal is the controlling terminal (/dev/tty; the console on Windows), opened for prompts so
// that they work even when stdin and stdout are pipes: `pivauth token | clip`.
type terminal struct {
	in, out *os.File
}

// openTerminal opens the controlling terminal, or returns errNoTerminal.
func openTerminal() (*terminal, error) {
	in, out, err := openTTY()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNoTerminal, err)
	}
	if !term.IsTerminal(int(in.Fd())) {
		in.Close()
		if out != in {
			out.Close()
		}
		return nil, errNoTerminal
	}
	return &terminal{in: in, out: out}, nil
}

// Close releases the terminal.
func (t *terminal) Close() error {
	err := t.in.Close()
	if t.out != t.in {
		if e := t.out.Close(); err == nil {
			err = e
		}
	}
	return err
}

// Printf writes to the terminal.
func (t *terminal) Printf(format string, args ...any) {
	fmt.Fprintf(t.out, format, args...)
}

// ReadLine reads one line with echo. Ctrl-C (ctx cancelled) returns ctx.Err().
func (t *terminal) ReadLine(ctx context.Context) (string, error) {
	type line struct {
		s   string
		err error
	}
	ch := make(chan line, 1)
	go func() {
		s, err := bufio.NewReader(t.in).ReadString('\n')
		if err == io.EOF && s != "" {
			err = nil
		}
		ch <- line{strings.TrimRight(s, "\r\n"), err}
	}()
	select {
	case l := <-ch:
		return l.s, l.err
	case <-ctx.Done():
		fmt.Fprintln(t.out)
		return "", ctx.Err()
	}
}

// ReadSecret reads one line without echo, after the prompt the caller printed. signer's
// ReadSecret does it, on the same terminal (the controlling terminal, the console on Windows), so
// that pivauth reads every secret, PIN or not, one way. The caller owns (and wipes) the returned
// bytes. Ctrl-C and the end of ctx restore the terminal's echo before returning.
func (t *terminal) ReadSecret(ctx context.Context) ([]byte, error) {
	return signer.ReadSecret(ctx, "", "")
}

// stderrIsTerminal reports whether stderr is a terminal: progress (the insert-card spinner) is
// only drawn there.
func stderrIsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
