package main

import (
	"fmt"

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
