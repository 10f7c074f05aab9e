package signer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/pivauth/pivauth/internal/pinbuf"
)

// Pinentry returns a source that asks the pinentry program (the PIN dialog of
// GnuPG, found in PATH) over the Assuan protocol. It declines with ErrNoPIN
// when pinentry is not installed, or when there is neither a display nor a
// terminal for it to show a dialog on.
func Pinentry() PINSource { return &PinentrySource{Program: "pinentry"} }

// PinentrySource runs Program and asks it for the PIN with SETDESC,
// SETPROMPT and GETPIN.
type PinentrySource struct {
	// Program is the pinentry executable, a path or a name looked up in PATH.
	Program string
	// TTY is the terminal a text-mode pinentry draws on (OPTION ttyname).
	// Empty means $GPG_TTY, else /dev/tty when the process has one.
	TTY string
}

// AsksPerson reports true: pinentry's PIN is typed by a person, who may be
// asked again after the card refused it (Interactive).
func (s *PinentrySource) AsksPerson() bool { return true }

// assuanCanceled is the GPG error code pinentry answers when the person
// closes the dialog (GPG_ERR_CANCELED in the pinentry source).
const assuanCanceled = "83886179"

// PIN runs pinentry once and returns the PIN it read.
func (s *PinentrySource) PIN(ctx context.Context, req PINRequest) ([]byte, error) {
	path, err := exec.LookPath(s.Program)
	if err != nil {
		return nil, noPIN("pinentry not found (%v)", err)
	}
	tty := s.TTY
	if tty == "" {
		tty = os.Getenv("GPG_TTY")
	}
	if tty == "" {
		if f, err := os.Open("/dev/tty"); err == nil {
			f.Close()
			tty = "/dev/tty"
		}
	}
	if tty == "" && os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
		return nil, noPIN("pinentry has no display and no terminal to ask on")
	}

	cmd := exec.CommandContext(ctx, path)
	// A curses pinentry killed outright leaves the terminal in raw mode;
	// SIGTERM lets it restore the terminal first.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 2 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, noPIN("starting pinentry: %v", err)
	}
	a := &assuan{w: stdin, r: stdout}
	pin, err := a.getPIN(req, tty)
	stdin.Close()
	waitErr := cmd.Wait()
	a.wipe()
	switch {
	case err == nil:
		return pin, nil
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case errors.Is(err, ErrPINCanceled):
		return nil, err
	}
	msg := strings.TrimSpace(stderr.String())
	if msg == "" && waitErr != nil {
		msg = waitErr.Error()
	}
	if msg != "" {
		return nil, fmt.Errorf("pinentry: %w (%s)", err, msg)
	}
	return nil, fmt.Errorf("pinentry: %w", err)
}

// assuan is the client side of an Assuan connection to pinentry. Its line
// buffer is wiped after use, because the D line carries the PIN.
type assuan struct {
	w    io.Writer
	r    io.Reader
	buf  [1002]byte // Assuan lines are at most 1000 bytes plus CRLF
	n    int        // bytes in buf
	line []byte     // the last line read, aliasing buf
}

// getPIN runs the Assuan dialogue: greeting, options, texts, GETPIN, BYE.
func (a *assuan) getPIN(req PINRequest, tty string) ([]byte, error) {
	if _, err := a.transact(""); err != nil {
		return nil, fmt.Errorf("greeting: %w", err)
	}
	if tty != "" {
		// A GUI pinentry ignores these; an old one may not know them.
		a.transact("OPTION ttyname=" + tty)
		if t := os.Getenv("TERM"); t != "" {
			a.transact("OPTION ttytype=" + t)
		}
	}
	cmds := []string{"SETTITLE pivauth", "SETDESC " + assuanEscape(req.Question()), "SETPROMPT PIN:"}
	if n := req.Notice(); n != "" {
		cmds = append(cmds, "SETERROR "+assuanEscape(n))
	}
	for _, c := range cmds {
		if _, err := a.transact(c); err != nil {
			return nil, fmt.Errorf("%s: %w", strings.Fields(c)[0], err)
		}
	}
	pin, err := a.transact("GETPIN")
	if err != nil {
		pinbuf.Wipe(pin)
		return nil, err
	}
	a.transact("BYE")
	if len(pin) == 0 {
		return nil, ErrPINCanceled
	}
	return pin, nil
}

// transact sends cmd (nothing for the greeting) and reads the answer up to
// OK or ERR, returning the decoded data of its D lines.
func (a *assuan) transact(cmd string) ([]byte, error) {
	if cmd != "" {
		if _, err := io.WriteString(a.w, cmd+"\n"); err != nil {
			return nil, err
		}
	}
	// Room for any D line up front, so appending never leaves a copy of the
	// PIN behind in a discarded array.
	data := make([]byte, 0, len(a.buf))
	for {
		line, err := a.readLine()
		if err != nil {
			pinbuf.Wipe(data)
			return nil, err
		}
		switch {
		case bytes.Equal(line, []byte("OK")) || bytes.HasPrefix(line, []byte("OK ")):
			return data, nil
		case bytes.HasPrefix(line, []byte("ERR ")):
			pinbuf.Wipe(data)
			f := strings.Fields(string(line[4:]))
			if len(f) > 0 && f[0] == assuanCanceled {
				return nil, ErrPINCanceled
			}
			return nil, fmt.Errorf("pinentry answered %s", line)
		case bytes.HasPrefix(line, []byte("D ")):
			data = assuanUnescape(data, line[2:])
		case bytes.HasPrefix(line, []byte("INQUIRE ")):
			// Nothing we send asks for an inquiry; END declines it.
			if _, err := io.WriteString(a.w, "END\n"); err != nil {
				return nil, err
			}
		}
		// S (status) and # (comment) lines carry nothing we need.
	}
}

// readLine returns the next line without its LF, aliasing a.buf.
func (a *assuan) readLine() ([]byte, error) {
	// Drop the previous line from the buffer.
	if a.line != nil {
		used := len(a.line) + 1
		copy(a.buf[:], a.buf[used:a.n])
		a.n -= used
		clear(a.buf[a.n:])
		a.line = nil
	}
	for {
		if i := bytes.IndexByte(a.buf[:a.n], '\n'); i >= 0 {
			a.line = a.buf[:i]
			return bytes.TrimSuffix(a.line, []byte("\r")), nil
		}
		if a.n == len(a.buf) {
			return nil, errors.New("pinentry sent a line longer than the Assuan limit")
		}
		m, err := a.r.Read(a.buf[a.n:])
		a.n += m
		if err != nil && m == 0 {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
}

// wipe clears the line buffer, which held the D line with the PIN.
func (a *assuan) wipe() { pinbuf.Wipe(a.buf[:]) }

// assuanEscape percent-encodes the bytes Assuan cannot carry in a command
// argument: %, CR, LF and the other control characters.
func assuanEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' || c < 0x20 {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// assuanUnescape appends the decoded form of a D line's data (%XX escapes)
// to dst. A malformed escape is kept as it is.
func assuanUnescape(dst, src []byte) []byte {
	for i := 0; i < len(src); i++ {
		if src[i] == '%' && i+2 < len(src) {
			if v, ok := unhex(src[i+1], src[i+2]); ok {
				dst = append(dst, v)
				i += 2
				continue
			}
		}
		dst = append(dst, src[i])
	}
	return dst
}

func unhex(hi, lo byte) (byte, bool) {
	h, ok1 := hexVal(hi)
	l, ok2 := hexVal(lo)
	return h<<4 | l, ok1 && ok2
}

func hexVal(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
