package main

import (
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// The root's persistent flags in groups, by what they are for: a command's help shows only the
// groups that apply to it (flagGroupsOf), so that `pivauth version --help` does not offer
// --reader or --pin-file.
var (
	cardFlags    = []string{"reader", "serial", "guid", "timeout", "trace-apdus"}
	slotFlags    = []string{"slot"}
	pinFlags     = []string{"pin-file", "pinentry", "allow-last-try"}
	networkFlags = []string{"http-timeout"}
	profileFlags = []string{"profile", "config"}
)

// flagGroups says which persistent flags apply to a command (its path below pivauth); a command
// not listed has its parent's, and one with no listed parent all of them.
var flagGroups = map[string][][]string{
	"agent":        {cardFlags, pinFlags},
	"agent lock":   {},
	"agent status": {},
	"audit":        {},
	"cards":        {cardFlags},
	"certs":        {cardFlags, slotFlags},
	"doctor":       {cardFlags, slotFlags, pinFlags, networkFlags},
	"pin":          {cardFlags, pinFlags},
	"profile":      {},
	"reset":        {cardFlags},
	"setup":        {cardFlags, slotFlags, pinFlags},
	"version":      {},
	"exit-codes":   {},
	"environment":  {},
	"config":       {},
	"help":         {},
}

// flagApplies reports whether the persistent flag name applies to cmd.
func flagApplies(cmd *cobra.Command, name string) bool {
	switch name {
	case "verbose", "help":
		return true
	case "output":
		return cmd.Annotations["output"] != ""
	}
	for _, p := range profileFlags {
		if name == p {
			return !skipsProfile(cmd) || strings.HasPrefix(cmd.CommandPath(), cmd.Root().Name()+" profile")
		}
	}
	for c := cmd; c.HasParent(); c = c.Parent() {
		groups, ok := flagGroups[strings.TrimPrefix(c.CommandPath(), c.Root().Name()+" ")]
		if !ok {
			continue
		}
		for _, g := range groups {
			for _, f := range g {
				if f == name {
					return true
				}
			}
		}
		return false
	}
	return true
}

// helpWithApplicableFlags wraps cobra's help: the inherited flags that do not apply to the command
// are hidden while its help is printed.
func helpWithApplicableFlags(defaultHelp func(*cobra.Command, []string)) func(*cobra.Command, []string) {
	return func(cmd *cobra.Command, args []string) {
		if cmd.HasParent() {
			var hidden []*pflag.Flag
			cmd.InheritedFlags().VisitAll(func(f *pflag.Flag) {
				if !f.Hidden && !flagApplies(cmd, f.Name) {
					f.Hidden = true
					hidden = append(hidden, f)
				}
			})
			defer func() {
				for _, f := range hidden {
					f.Hidden = false
				}
			}()
		}
		defaultHelp(cmd, args)
	}
}
