package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/pivauth/pivauth/piv"
)

func (a *app) resetCommand() *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "reset",
		Short: "Erase a YubiKey's PIV application: every key and certificate, back to factory PIN, PUK and management key",
		Long: `Reset the PIV application of a YubiKey to its factory state: every key and certificate in every
slot is erased, and the PIN becomes 123456, the PUK 12345678 and the management key the factory
default. Nothing else on the YubiKey (FIDO, OTP, OpenPGP) is touched.

A YubiKey resets only once its PIN and its PUK are both blocked. pivauth blocks them on purpose,
with wrong tries, before it resets: after 'pivauth reset' starts, the old PIN and PUK are gone
even if the reset itself should then fail.

On a terminal pivauth shows what the card holds and asks you to type the card's serial number
to confirm. Without a terminal on standard input it refuses (exit 2) unless --yes is given.
Government PIV cards (no Yubico extensions) are refused: they cannot be reset.`,
		Example: `  pivauth reset
  pivauth reset --serial 12345678 --yes   # scripted, no question asked`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			stdinTerminal := false
			if f, ok := a.stdin.(*os.File); ok {
				stdinTerminal = term.IsTerminal(int(f.Fd()))
			}
			if !yes && !stdinTerminal {
				return usageErrorf("reset erases every key on the card and needs a typed confirmation: standard input is not a terminal; give --yes to reset without asking")
			}
			ctx := cmd.Context()
			card, id, err := a.openIdentified(ctx)
			if err != nil {
				return err
			}
			defer card.Close()
			if !id.YubicoExtensions {
				return fmt.Errorf("%s has no Yubico PIV extensions (it is not a YubiKey): a PIV card without them cannot be reset; "+
					"a government card is managed by its issuer, nothing on the card was changed", id)
			}
			if !yes {
				if err := a.confirmReset(ctx, card, id); err != nil {
					return err
				}
			}
			a.agentForgetSlot(ctx, id, "") // its sessions would hold the card, and the PIN it holds dies with the reset
			if err := card.Reset(ctx); err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "%s: PIV application reset. Every key and certificate is erased; the PIN is 123456, the PUK 12345678 "+
				"and the management key the factory default. Next: pivauth pin change; pivauth pin change --puk; "+
				"pivauth setup management-key.\n", id)
			return nil
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "reset without asking for a typed confirmation")
	return cmd
}

// confirmReset shows what the reset erases and asks for the card's serial number (or the word
// RESET on a card without one) typed on the terminal.
func (a *app) confirmReset(ctx context.Context, card *piv.Card, id piv.Identity) error {
	t, err := openTerminal()
	if err != nil {
		return withCode(ExitUsage, fmt.Errorf("reset needs a typed confirmation and there is no terminal (%v): give --yes to reset without asking", err))
	}
	defer t.Close()
	t.Printf("Resetting %s erases the key and the certificate of every PIV slot:\n", id)
	for _, slot := range []piv.Slot{piv.SlotAuthentication, piv.SlotSignature, piv.SlotKeyManagement, piv.SlotCardAuthentication} {
		sc, err := readSlot(ctx, card, id, slot)
		if err != nil {
			return err
		}
		if sc.occupied() {
			t.Printf("  slot %s: %s\n", slot, sc.describe(slot))
		}
	}
	want := "RESET"
	if id.Serial != 0 {
		want = strconv.FormatUint(uint64(id.Serial), 10)
		t.Printf("Type the serial number of the card (%s) to reset it: ", want)
	} else {
		t.Printf("Type RESET to reset it: ")
	}
	line, err := t.ReadLine(ctx)
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != want {
		return usageErrorf("confirmation not typed (%q expected): nothing was changed", want)
	}
	return nil
}
