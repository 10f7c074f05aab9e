package signer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/pivauth/pivauth/internal/pinbuf"
)

var (
	// ErrNoTerminal is wrapped by ReadSecret's error when there is no
	// terminal to ask on (a service, a cron job, a path that is not one).
	ErrNoTerminal = errors.New("no terminal")
	// ErrCanceled reports a prompt the person canceled with Ctrl-C, or with
	// Ctrl-D on an empty line.
	ErrCanceled = errors.New("prompt canceled")
)

// Terminal returns a source that prompts on the controlling terminal (see
// ReadSecret) with echo off. The prompt names the card, the slot and the
// tries left. Without a terminal it declines at once with ErrNoPIN; it
// never reads standard input, which may be a pipe carrying something else.
func Terminal() PINSource { return &TerminalSource{} }

// TerminalSource prompts for the PIN on the terminal device at Path, or on
// the controlling terminal when Path is empty. Ctrl-C and Ctrl-D cancel
// (ErrPINCanceled); canceling ctx ends the prompt too.
type TerminalSource struct {
	Path string
}

// PIN prompts for the PIN and reads one line without echo. After a refused
// PIN the prompt is preceded by a line saying so, with the tries left.
func (s *TerminalSource) PIN(ctx context.Context, req PINRequest) ([]byte, error) {
	prompt := req.Question() + ": "
	if n := req.Notice(); n != "" {
		prompt = n + "\n" + prompt
	}
	pin, err := ReadSecret(ctx, s.Path, prompt)
	switch {
	case errors.Is(err, ErrNoTerminal):
		return nil, fmt.Errorf("%w: %w", ErrNoPIN, err)
	case errors.Is(err, ErrCanceled):
		return nil, ErrPINCanceled
	}
	return pin, err
}

// AsksPerson reports true: the terminal's PIN is typed by a person, who may
// be asked again after the card refused it (Interactive).
func (s *TerminalSource) AsksPerson() bool { return true }

// ReadSecret writes prompt to a terminal and reads one line from it with
// echo off: a PIN, a PUK, a management key, a password. path is the
// terminal device; "" means the controlling terminal (/dev/tty; on Windows
// the console, CONIN$ and CONOUT$), which works when standard input and
// output are redirected and is never standard input itself. The line ends
// at Enter and is returned without it; the caller owns the bytes and wipes
// them.
//
// Without a terminal ReadSecret fails at once with an error wrapping
// ErrNoTerminal. Ctrl-C, or Ctrl-D on an empty line, is ErrCanceled; the end
// of ctx is ctx.Err(). The terminal's settings are restored in every case.
func ReadSecret(ctx context.Context, path, prompt string) ([]byte, error) {
	in, out, name, err := openTerminal(path)
	if err != nil {
		return nil, fmt.Errorf("%w (%v)", ErrNoTerminal, err)
	}
	defer func() {
		in.Close()
		if out != in {
			out.Close()
		}
	}()
	restore, err := echoOff(in)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not a terminal (%v)", ErrNoTerminal, name, err)
	}
	defer restore()

	// With echo off, Ctrl-C must restore the terminal and cancel the prompt
	// rather than kill the process and leave the terminal silent.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	defer signal.Stop(sig)

	if _, err := io.WriteString(out, prompt); err != nil {
		return nil, fmt.Errorf("%w: writing the prompt to %s: %v", ErrNoTerminal, name, err)
	}
	done := make(chan lineRead, 1)
	go func() {
		line, err := readLine(in)
		done <- lineRead{line, err}
	}()
	select {
	case r := <-done:
		fmt.Fprint(out, "\n") // the Enter typed was not echoed
		switch {
		case r.err == nil:
			return r.line, nil
		case errors.Is(r.err, io.EOF):
			return nil, ErrCanceled
		}
		return nil, fmt.Errorf("reading from %s: %w", name, r.err)
	case <-ctx.Done():
		abandon(in, done)
		fmt.Fprint(out, "\n")
		return nil, ctx.Err()
	case <-sig:
		abandon(in, done)
		fmt.Fprint(out, "\n")
		return nil, ErrCanceled
	}
}

// lineRead is what a read of a line from the terminal gave.
type lineRead struct {
	line []byte
	err  error
}

// abandon ends a read that is no longer wanted. A terminal that takes
// deadlines (every Unix terminal, through the runtime poller) returns from
// the read at once; elsewhere (the Windows console) the read ends when the
// person presses Enter or the process exits. Either way what it read is
// wiped.
func abandon(in *os.File, done <-chan lineRead) {
	if in.SetReadDeadline(time.Now()) == nil {
		pinbuf.Wipe((<-done).line)
		return
	}
	go func() { pinbuf.Wipe((<-done).line) }()
}

// readLine reads up to a newline from a terminal in canonical mode, where
// the kernel does the line editing and delivers the line when Enter is
// pressed. Ctrl-D on an empty line reads as io.EOF.
func readLine(r io.Reader) ([]byte, error) {
	var buf [pinbuf.MaxLen + 1]byte
	defer pinbuf.Wipe(buf[:])
	n := 0
	for {
		if n == len(buf) {
			return nil, fmt.Errorf("line longer than %d bytes", pinbuf.MaxLen)
		}
		m, err := r.Read(buf[n:])
		for i := n; i < n+m; i++ {
			if buf[i] == '\n' || buf[i] == '\r' {
				return append([]byte(nil), buf[:i]...), nil
			}
		}
		n += m
		if err != nil {
			return nil, err
		}
		if m == 0 {
			return nil, io.EOF
		}
	}
}
