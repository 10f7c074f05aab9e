package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cpuguy83/go-md2man/v2/md2man"
	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// manCommand is the hidden `pivauth __man DIR`, which writes the manual pages of the command tree
// (pivauth.1 and one page per command, e.g. pivauth-setup-key.1) into DIR. `make install` and
// `make dist` run it on the binary they ship, so the pages describe exactly that binary's flags,
// the way they run `pivauth completion bash|zsh|fish` for the completion scripts. It is hidden
// (not in help, completion or the pages) because it is packaging machinery, not a user command.
// The help topics (config, environment, exit-codes) get pages too, e.g. pivauth-config.1. The
// page date is $SOURCE_DATE_EPOCH when set (reproducible builds), else today.
func (a *app) manCommand() *cobra.Command {
	return noProfile(&cobra.Command{
		Use:    "__man DIR",
		Short:  "Write the manual pages of every command into DIR",
		Hidden: true,
		Args:   positional(1, 1, "the directory for the pages", "pivauth __man man/"),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			date, err := manDate()
			if err != nil {
				return err
			}
			root := cmd.Root()
			root.DisableAutoGenTag = true
			// The title of each page (PIVAUTH-CARDS) is filled in from its command.
			header := &doc.GenManHeader{Section: "1", Date: &date, Source: "pivauth " + readBuildInfo().Version, Manual: "pivauth manual"}
			if err := doc.GenManTree(root, header, dir); err != nil {
				return fmt.Errorf("writing manual pages to %s: %w", dir, err)
			}
			for _, topic := range root.Commands() {
				if topic.IsAdditionalHelpTopicCommand() {
					if err := writeTopicPage(topic, header, dir); err != nil {
						return err
					}
				}
			}
			return nil
		},
	})
}

// manDate is the date the pages carry: $SOURCE_DATE_EPOCH, else now.
func manDate() (time.Time, error) {
	epoch := os.Getenv("SOURCE_DATE_EPOCH")
	if epoch == "" {
		return time.Now(), nil
	}
	sec, err := strconv.ParseInt(epoch, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q: not a number of seconds", epoch)
	}
	return time.Unix(sec, 0).UTC(), nil
}

// writeTopicPage writes pivauth-TOPIC.1 for a help topic (`pivauth help TOPIC`), which
// GenManTree leaves out: the topic's text, in the markdown form cobra's pages are made from.
func writeTopicPage(topic *cobra.Command, header *doc.GenManHeader, dir string) error {
	name := "pivauth-" + topic.Name()
	md := fmt.Sprintf("%% %q %q %q %q %q\n# NAME\n%s \\- %s\n\n# SYNOPSIS\n**pivauth help %s**\n\n# DESCRIPTION\n%s\n\n# SEE ALSO\n**pivauth(1)**\n",
		strings.ToUpper(name), header.Section, header.Date.Format("Jan 2006"), header.Source, header.Manual,
		name, topic.Short, topic.Name(), topic.Long)
	path := filepath.Join(dir, name+".1")
	if err := os.WriteFile(path, md2man.Render([]byte(md)), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
