package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// manCommand is the hidden `pivauth __man DIR`, which writes the manual pages of the command tree
// (pivauth.1 and one page per command, e.g. pivauth-setup-key.1) into DIR. `make install` and
// `make dist` run it on the binary they ship, so the pages describe exactly that binary's flags,
// the way they run `pivauth completion bash|zsh|fish` for the completion scripts. It is hidden
// (not in help, completion or the pages) because it is packaging machinery, not a user command.
// The page date is $SOURCE_DATE_EPOCH when set (reproducible builds), else today.
func (a *app) manCommand() *cobra.Command {
	return noProfile(&cobra.Command{
		Use:    "__man DIR",
		Short:  "Write the manual pages of every command into DIR",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			root := cmd.Root()
			root.DisableAutoGenTag = true
			header := &doc.GenManHeader{
				Title:   "PIVAUTH",
				Section: "1",
				Source:  "pivauth " + readBuildInfo().Version,
				Manual:  "pivauth manual",
			}
			if err := doc.GenManTree(root, header, dir); err != nil {
				return fmt.Errorf("writing manual pages to %s: %w", dir, err)
			}
			return nil
		},
	})
}
