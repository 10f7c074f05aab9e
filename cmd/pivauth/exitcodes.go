package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/spf13/cobra"
)

// Exit codes of pivauth. They are part of the command-line contract: scripts branch on them, so a
// code never changes meaning. `pivauth help exit-codes` prints this table (exitCodeTable).
const (
	ExitOK          = 0   // success
	ExitError       = 1   // any failure not listed below
	ExitUsage       = 2   // bad flags, arguments, profile or configuration file
	ExitNoCard      = 3   // no card (or not the selected one) before the timeout; card removed; no PC/SC
	ExitPIN         = 4   // PIN wrong, blocked, refused by the lockout guard, or no way to ask for it
	ExitRejected    = 5   // the identity provider or server refused the request
	ExitNetwork     = 6   // TLS or network failure (DNS, connection, certificate verification)
	ExitUnattested  = 7   // setup key: the key was generated and is in the slot, but its attestation was not verified
	ExitInterrupted = 130 // interrupted by Ctrl-C or SIGTERM (128 + SIGINT, as shells report it)
)

// exitCodeTable documents every exit code once; the help topic and the tests read it.
var exitCodeTable = []struct {
	Code int
	Text string
}{
	{ExitOK, "success"},
	{ExitError, "error not covered below"},
	{ExitUsage, "usage: unknown command or flag, bad argument, unknown profile, bad or unsafe configuration file, identity provider URL not https"},
	{ExitNoCard, "no card: none present (or not the selected one) before --timeout, card removed, PC/SC unavailable; agent status: no agent running"},
	{ExitPIN, "PIN: wrong (tries left are shown), blocked, refused by the lockout guard, no terminal and no PIN source"},
	{ExitRejected, "rejected: the identity provider or server refused the request (AADSTS…, invalid_client, HTTP 4xx/5xx with -f)"},
	{ExitNetwork, "network: DNS, connection or TLS failure, server certificate not trusted, no answer within --http-timeout, redirect to http refused"},
	{ExitUnattested, "unattested: setup key generated the key (it is in the slot, its public key is printed) but could not verify " +
		"its attestation, on a YubiKey or with --attestation-roots"},
	{ExitInterrupted, "interrupted by Ctrl-C or SIGTERM"},
}

// exitCodesHelp renders exitCodeTable for `pivauth help exit-codes`.
func exitCodesHelp() string {
	var b strings.Builder
	b.WriteString("pivauth exits with one of these codes, so that scripts can tell failures apart:\n\n")
	for _, e := range exitCodeTable {
		fmt.Fprintf(&b, "  %3d  %s\n", e.Code, e.Text)
	}
	b.WriteString("\n`pivauth exec -- CMD` exits with CMD's own exit code once CMD has started.\n")
	return b.String()
}

// exitCodesTopic is the help topic `pivauth help exit-codes` (a command without Run, which cobra
// lists under "Additional help topics").
func exitCodesTopic() *cobra.Command {
	return &cobra.Command{
		Use:   "exit-codes",
		Short: "Exit codes and what they mean",
		Long:  exitCodesHelp(),
	}
}

// codedError carries the exit code chosen by the code that knows what went wrong.
type codedError struct {
	code int
	err  error
}

func (e *codedError) Error() string { return e.err.Error() }
func (e *codedError) Unwrap() error { return e.err }

// withCode marks err with an exit code; nil stays nil.
func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &codedError{code: code, err: err}
}

// usageErrorf is a usage error (ExitUsage) with a message.
func usageErrorf(format string, args ...any) error {
	return withCode(ExitUsage, fmt.Errorf(format, args...))
}

// childExit is returned by `pivauth exec` when the child ran and exited non-zero: pivauth exits
// with the child's code and prints nothing more (the child has spoken for itself).
type childExit struct{ code int }

func (e *childExit) Error() string { return fmt.Sprintf("command exited with code %d", e.code) }

// quietExit ends the program with code and prints nothing more: the command has said all there is
// (agent status for an agent that is not running).
type quietExit struct{ code int }

func (e *quietExit) Error() string { return fmt.Sprintf("exit code %d", e.code) }

// exitCode maps an error to the exit code of the program. An explicit code (withCode) wins; then
// the library errors this command line knows (classifiers, filled in by the files that use each
// library); then the standard library's network and TLS errors; everything else is ExitError.
func exitCode(ctx context.Context, err error) int {
	if err == nil {
		return ExitOK
	}
	var ce *codedError
	if errors.As(err, &ce) {
		return ce.code
	}
	var child *childExit
	if errors.As(err, &child) {
		return child.code
	}
	var quiet *quietExit
	if errors.As(err, &quiet) {
		return quiet.code
	}
	if ctx.Err() != nil {
		// The signal context ended: whatever failed after that (a prompt that saw Ctrl-C itself,
		// a wait for a card, a network call) failed because the person interrupted it.
		return ExitInterrupted
	}
	for _, classify := range classifiers {
		if code, ok := classify(err); ok {
			return code
		}
	}
	if isNetworkError(err) {
		return ExitNetwork
	}
	return ExitError
}

// classifiers map errors of the libraries (piv, signer, flows) and of this command line to exit
// codes, tried in this order; the first that knows an error decides. Each classifier sits next to
// the code that uses the errors it maps.
var classifiers = []func(error) (int, bool){
	agentExitCode,     // agent.go: the agent's remote errors and PIN requests
	classifyCardError, // card.go: piv and signer
	pinSourceExitCode, // prompt.go: no way to get the PIN
	flowExitCode,      // idp.go: identity providers, TLS, provider URLs
}

// isNetworkError reports failures of the network or of TLS: the server could not be reached or
// could not be trusted.
func isNetworkError(err error) bool {
	var (
		opErr      *net.OpError
		dnsErr     *net.DNSError
		urlErr     *url.Error
		unknownCA  x509.UnknownAuthorityError
		hostErr    x509.HostnameError
		invalidErr x509.CertificateInvalidError
		verifyErr  *tls.CertificateVerificationError
		recordErr  tls.RecordHeaderError
		alertErr   tls.AlertError
	)
	return errors.As(err, &opErr) || errors.As(err, &dnsErr) || errors.As(err, &unknownCA) ||
		errors.As(err, &hostErr) || errors.As(err, &invalidErr) || errors.As(err, &verifyErr) ||
		errors.As(err, &recordErr) || errors.As(err, &alertErr) ||
		(errors.As(err, &urlErr) && !errors.Is(err, context.Canceled))
}
