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

// Terminal returns a source that prompts on the controlling terminal
// (/dev/tty) with echo off. The prompt names the card, the slot and the
// tries left. Without a controlling terminal (a service, a cron job) it
// declines at once with ErrNoPIN; it never reads standard input, which may be
// a pipe carrying something else.
func Terminal() PINSource { return &TerminalSource{Path: "/dev/tty"} }

// TerminalSource prompts for the PIN on the terminal device at Path.
// Ctrl-C and Ctrl-D cancel (ErrPINCanceled); canceling ctx ends the prompt
// too. The terminal's settings are restored in every case.
type TerminalSource struct {
	Path string
}

// PIN prompts for the PIN and reads one line without echo.
func (s *TerminalSource) PIN(ctx context.Context, req PINRequest) ([]byte, error) {
	// os.OpenFile registers a terminal with the runtime poller, so the read
	// below can be interrupted by a deadline when ctx ends.
	tty, err := os.OpenFile(s.Path, ttyOpenFlags, 0)
	if err != nil {
		return nil, noPIN("no terminal (%v)", err)
	}
	defer tty.Close()
	restore, err := echoOff(tty)
	if err != nil {
		return nil, noPIN("%s is not a terminal (%v)", s.Path, err)
	}
	defer restore()

	// With the terminal in our hands, Ctrl-C must restore it and cancel the
	// prompt rather than kill the process with echo off.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	defer signal.Stop(sig)
	canceled := make(chan struct{})
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-ctx.Done():
		case <-sig:
			close(canceled)
		case <-stop:
			return
		}
		tty.SetReadDeadline(time.Now())
	}()

	if _, err := fmt.Fprintf(tty, "%s: ", req.Description()); err != nil {
		return nil, noPIN("writing the prompt to %s: %v", s.Path, err)
	}
	pin, err := readLine(tty)
	fmt.Fprint(tty, "\n") // the Enter the person typed was not echoed
	if err == nil {
		return pin, nil
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	select {
	case <-canceled:
		return nil, ErrPINCanceled
	default:
	}
	if errors.Is(err, io.EOF) {
		return nil, ErrPINCanceled
	}
	return nil, fmt.Errorf("reading the PIN from %s: %w", s.Path, err)
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
			return nil, fmt.Errorf("PIN longer than %d bytes", pinbuf.MaxLen)
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
