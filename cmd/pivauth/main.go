// Command pivauth signs in to Microsoft Entra ID, any OAuth 2.0 / OpenID Connect provider and any
// mutual-TLS service with a certificate whose private key stays on a PIV smart card.
//
// The commands are thin: they parse flags, ask for what they need and format the result. The card
// engine lives in package piv, the crypto.Signer and PIN handling in package signer, and the
// protocols in package flows.
package main

import (
	"context"
	"io"
	"os"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes one pivauth invocation and returns its exit code (see exitcodes.go). It is separate
// from main so that every path out of the program goes through the same error reporting.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := notifyInterrupt(ctx)
	defer stop()
	a := newApp(stdin, stdout, stderr)
	root := a.rootCommand()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	return a.report(ctx, err)
}
