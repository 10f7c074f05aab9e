package main

import (
	"fmt"

	"github.com/pivauth/pivauth/internal/privfs"

	"github.com/pivauth/pivauth/piv"
	"github.com/spf13/cobra"
)

// slot parses --slot.
func (a *app) slot() (piv.Slot, error) {
	s, err := piv.ParseSlot(a.opts.slot)
	if err != nil {
		return piv.Slot{}, withCode(ExitUsage, fmt.Errorf("--slot: %w", err))
	}
	return s, nil
}

// slotNames are the SP 800-73-4 names of the slots, for people and shell completion.
var slotNames = map[string]string{
	"9a": "PIV authentication",
	"9c": "digital signature",
	"9d": "key management",
	"9e": "card authentication",
}

// slotName names a slot for people; the slots 82..95 are retired key-management slots.
func slotName(slot string) string {
	if n, ok := slotNames[slot]; ok {
		return n
	}
	return "retired key management"
}

// completeSlots offers the standard PIV slots to shell completion.
func completeSlots(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	var out []string
	for _, s := range []string{"9a", "9c", "9d", "9e"} {
		out = append(out, s+"\t"+slotNames[s])
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// checkCardInputs checks, before any card is opened, the global inputs that apply to cmd (flags or
// profile): the slot parses, and a --pin-file exists and is private (privfs.OpenSecret, which
// signer.File applies again when it reads it). A bad one is a usage error, with no APDU sent.
func (a *app) checkCardInputs(cmd *cobra.Command) error {
	if flagApplies(cmd, "slot") {
		if _, err := a.slot(); err != nil {
			return err
		}
	}
	if a.opts.pinFile != "" && flagApplies(cmd, "pin-file") {
		f, err := privfs.OpenSecret(a.opts.pinFile, "PIN file")
		if err != nil {
			return withCode(ExitUsage, fmt.Errorf("--pin-file: %w", err))
		}
		f.Close()
	}
	return nil
}
