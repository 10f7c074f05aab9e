package main

import (
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

// positional checks a command's arguments in pivauth's words, not cobra's ("accepts 1 arg(s),
// received 0"): what names them ("the URL to request"), example is a command line that gives
// them. max < 0 means no upper bound.
func positional(min, max int, what, example string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		name := strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" ")
		switch {
		case len(args) < min:
			return usageErrorf("%s: give %s, e.g. %s", name, what, example)
		case max >= 0 && len(args) > max:
			return usageErrorf("%s: unexpected argument %q: it takes %s only, e.g. %s", name, args[max], what, example)
		}
		return nil
	}
}

// helpCommand replaces cobra's help command, which prints "Unknown help topic" and exits 0: help
// for a command or topic that does not exist is a usage error (exit 2).
func helpCommand() *cobra.Command {
	return noProfile(&cobra.Command{
		Use:   "help [COMMAND...]",
		Short: "Help about any command or topic",
		Long:  "Help about any command or topic: pivauth help setup key, pivauth help exit-codes.",
		ValidArgsFunction: func(c *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			cmd, _, err := c.Root().Find(args)
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var names []string
			for _, sub := range cmd.Commands() {
				if sub.IsAvailableCommand() || sub.IsAdditionalHelpTopicCommand() {
					names = append(names, sub.Name()+"\t"+sub.Short)
				}
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(c *cobra.Command, args []string) error {
			cmd, rest, err := c.Root().Find(args)
			if err != nil || len(rest) > 0 {
				return usageErrorf("help: no command or topic %q: %s lists them", strings.Join(args, " "), "pivauth --help")
			}
			return cmd.Help()
		},
	})
}

// outputFileFlag registers -o/--output-file, the name of every output file (as in request), on
// cmd; oldNames are the names it had before, kept as hidden aliases that set the same value.
func outputFileFlag(cmd *cobra.Command, p *string, usage string, oldNames ...string) {
	cmd.Flags().StringVarP(p, "output-file", "o", "", usage)
	for _, name := range oldNames {
		cmd.Flags().StringVar(p, name, "", usage)
		_ = cmd.Flags().MarkHidden(name)
	}
}

// certIsDER reports a certificate file name that asks for DER: .cer or .der, as the Entra portal
// and Windows take them.
func certIsDER(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	return ext == ".cer" || ext == ".der"
}
