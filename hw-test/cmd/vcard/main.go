// Command vcard is the bench's card process: it serves a virtual PIV card
// (hw-test/vcard) on a vpcd port and takes fault and statistics requests
// on a unix socket. hw-test/bench builds and starts it; its other
// subcommands are the bench script's client for that socket and for PC/SC.
//
//	vcard serve [-dir D] [-port P] [-profile yubikey|piv] [-state FILE] [-latency D] [-flaky RATE[:SW]] [-trace FILE] [-quirks Q,Q] [-timing yubikey5]
//	vcard ctl [-dir D] stats|stats-reset|pull|insert|pull-during INS|latency D|flaky RATE[:SW]|status
//	vcard wait [-absent] [-timeout D] READER
//	vcard readers
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/pivauth/pivauth/hw-test/vpcd"
	"github.com/pivauth/pivauth/hw-test/vpcd/pcscstate"
)

const usage = `usage:
  vcard serve [-dir D] [-port P] [-profile yubikey|piv] [-state FILE] [-latency D] [-flaky RATE[:SW]] [-trace FILE] [-quirks Q,Q] [-timing yubikey5]
  vcard ctl [-dir D] stats|stats-reset|pull|insert|pull-during INS|latency D|flaky RATE[:SW]|status
  vcard wait [-absent] [-timeout D] READER
  vcard readers
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "serve":
		err = serveMain(args)
	case "ctl":
		err = ctlMain(args)
	case "wait":
		err = waitMain(args)
	case "readers":
		err = readersMain()
	default:
		fmt.Fprintf(os.Stderr, "vcard: unknown command %q\n%s", cmd, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "vcard:", err)
		os.Exit(1)
	}
}

// waitMain waits until PC/SC reports a card in (or, with -absent, no card
// in) the reader.
func waitMain(args []string) error {
	fs := flag.NewFlagSet("wait", flag.ExitOnError)
	absent := fs.Bool("absent", false, "wait until the reader is empty")
	timeout := fs.Duration("timeout", 15*time.Second, "give up after this long")
	fs.Parse(args)
	if fs.NArg() != 1 {
		return errors.New("wait: give exactly one reader name")
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	return pcscstate.Wait(ctx, fs.Arg(0), !*absent)
}

// readersMain prints the readers pcscd knows, one a line.
func readersMain() error {
	r, err := pcscstate.Readers()
	if err != nil {
		return err
	}
	if len(r) > 0 {
		fmt.Println(strings.Join(r, "\n"))
	}
	return nil
}

// parseFlaky parses RATE[:SW], e.g. "0.1" (drop the connection) or
// "0.1:6F00" (answer 6F00).
func parseFlaky(s string) (vpcd.Flaky, error) {
	var f vpcd.Flaky
	rate, sw, hasSW := strings.Cut(s, ":")
	if _, err := fmt.Sscanf(rate, "%g", &f.Rate); err != nil || f.Rate < 0 || f.Rate > 1 {
		return f, fmt.Errorf("flaky rate %q: want a fraction from 0 to 1", rate)
	}
	if hasSW {
		if _, err := fmt.Sscanf(sw, "%04X", &f.SW); err != nil || len(sw) != 4 {
			return f, fmt.Errorf("flaky status word %q: want four hex digits such as 6F00", sw)
		}
	}
	f.Seed = uint64(time.Now().UnixNano())
	return f, nil
}
