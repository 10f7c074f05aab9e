// Command nocgo calls each entry point of package piv that reaches PC/SC and
// reports how it failed, as a CLI would: one line per call on stderr and
// exit status 1. TestBuildWithoutCgo builds it with CGO_ENABLED=0.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/pivauth/pivauth/piv"
)

func main() {
	ctx := context.Background()
	report := func(name string, err error) {
		fmt.Fprintf(os.Stderr, "%s: ErrNoPCSC=%t: %v\n", name, errors.Is(err, piv.ErrNoPCSC), err)
	}
	_, err := piv.Readers(ctx)
	report("Readers", err)
	_, err = piv.Cards(ctx)
	report("Cards", err)
	// Without a deadline this would wait for ever if it did not fail at once.
	_, err = piv.WaitForCard(ctx, piv.Selector{})
	report("WaitForCard", err)
	_, err = piv.Open(ctx, piv.Selector{})
	report("Open", err)
	_, err = piv.VerifyAttestation(nil, nil, nil)
	report("VerifyAttestation", err)
	os.Exit(1)
}
