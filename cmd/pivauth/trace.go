package main

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/pivauth/pivauth/internal/privfs"
)

// apduTraceHelp is --trace-apdus's help.
const apduTraceHelp = "append every APDU this command exchanges with the card to `FILE` (created 0600) for support; " +
	"PINs, PUKs, keys and decrypted data are redacted. The command then uses the card itself, not the agent"

// apduTrace is the --trace-apdus file, opened at the first card the command opens and shared by
// every card it opens after.
type apduTrace struct {
	mu  sync.Mutex
	f   *os.File
	err error
}

// traceHook returns the hook piv.Card.SetTrace (and signer.Options.Trace) takes: lines to the --trace-apdus file, and the debug log with --verbose; nil when neither is
// asked. The engine redacts PINs, PUKs, management and imported keys and decrypted data before a
// hook sees an APDU. A trace file that cannot be opened (or is refused: another user's, a
// symlink, open to others) is an error before any APDU.
func (a *app) traceHook() (func(cmd, resp []byte), error) {
	var f *os.File
	if a.opts.traceAPDUs != "" {
		if a.trace == nil {
			a.trace = &apduTrace{}
			a.trace.f, a.trace.err = privfs.AppendPrivate(a.opts.traceAPDUs, "APDU trace file")
			if a.trace.err == nil {
				fmt.Fprintf(a.trace.f, "# pivauth %s, pid %d, %s\n", strings.Join(os.Args[1:2], ""), os.Getpid(), time.Now().UTC().Format(time.RFC3339))
			}
		}
		if a.trace.err != nil {
			return nil, withCode(ExitUsage, a.trace.err)
		}
		f = a.trace.f
	}
	if f == nil && !a.opts.verbose {
		return nil, nil
	}
	t := a.trace
	return func(cmd, resp []byte) {
		if f != nil {
			t.mu.Lock()
			fmt.Fprintf(f, "%s > %X\n%s < %X\n", time.Now().UTC().Format("15:04:05.000"), cmd, strings.Repeat(" ", 12), resp)
			t.mu.Unlock()
		}
		if a.opts.verbose {
			a.log.Debug("apdu", "command", fmt.Sprintf("%X", cmd), "response", fmt.Sprintf("%X", resp))
		}
	}, nil
}
