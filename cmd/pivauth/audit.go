package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pivauth/pivauth/cmd/pivauth/internal/audit"
	"github.com/pivauth/pivauth/signer/purpose"
)

const auditLong = `Every private-key operation pivauth performs, directly or through the agent, appends one line to
the audit log: when, which card (YubiKey serial or PIV card GUID), reader and slot, the certificate's
SHA-256 thumbprint, the operation (sign, tls-handshake, …), its purpose (token endpoint, client id
and assertion jti, or the TLS server name; through the agent, as the requesting process declared
it), which process asked the agent (its executable's path, from the kernel), and the result.
Refused connections to the agent and reads and stores of its cached tokens are recorded too. The log never holds a PIN, a token or a signature.

Client-credential sign-ins do not show in the identity provider's interactive sign-in logs; match
the jti and the time here with the provider's service-principal sign-in log.

The log is $XDG_STATE_HOME/pivauth/audit.jsonl (default ~/.local/state/pivauth/audit.jsonl), JSON
lines, mode 0600, rotated at 10 MiB keeping 5 old files (audit.jsonl.1 … .5).

--since and --until take a time (2025-03-01, "2025-03-01 14:30", RFC 3339) or an age (90m, 24h,
7d: that long ago). --card takes a YubiKey serial or a card GUID.`

const auditExample = `  # today's operations of one YubiKey
  pivauth audit --since 24h --card 12345678

  # everything as JSON, for a log collector or jq
  pivauth audit --output json | jq '.[] | select(.result != "ok")'`

// auditCommand is `pivauth audit`: print the audit log, filtered.
func (a *app) auditCommand() *cobra.Command {
	var since, until, card string
	cmd := &cobra.Command{
		Use:     "audit",
		Short:   "Show the log of private-key operations",
		Long:    auditLong,
		Example: auditExample,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			now := time.Now()
			f := audit.Filter{Card: card}
			var err error
			if f.Since, err = parseTimeFlag(since, now); err != nil {
				return usageErrorf("--since: %v", err)
			}
			if f.Until, err = parseTimeFlag(until, now); err != nil {
				return usageErrorf("--until: %v", err)
			}
			dir, err := audit.DefaultDir()
			if err != nil {
				return err
			}
			events, skipped, err := audit.Read(dir, f)
			if err != nil {
				return err
			}
			if skipped > 0 {
				fmt.Fprintf(a.stderr, "pivauth: %d damaged line(s) in the audit log skipped\n", skipped)
			}
			if events == nil {
				events = []audit.Event{} // an empty array, not null, for jq
			}
			return a.emit(events, func(w io.Writer) error { return writeAuditTable(w, events) })
		},
	}
	setOutputFormats(cmd, "text", "json")
	f := cmd.Flags()
	f.StringVar(&since, "since", "", "only operations at or after `TIME` (or AGE ago: 24h, 7d)")
	f.StringVar(&until, "until", "", "only operations at or before `TIME` (or AGE ago)")
	f.StringVar(&card, "card", "", "only operations of the card with this YubiKey serial or GUID (`ID`)")
	return cmd
}

// parseTimeFlag reads a --since/--until value: empty (no bound), an age ("90m", "24h", "7d") that
// far before now, or a time (RFC 3339, "2006-01-02 15:04", "2006-01-02") in local time unless it
// says otherwise.
func parseTimeFlag(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 {
			return now.AddDate(0, 0, -n), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is neither a time (2025-03-01, \"2025-03-01 14:30\", RFC 3339) nor an age (90m, 24h, 7d)", s)
}

// writeAuditTable prints events as an aligned table, one operation a line, in local time.
func writeAuditTable(w io.Writer, events []audit.Event) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tCARD\tSLOT\tOPERATION\tRESULT\tPURPOSE\tREQUESTED BY")
	for _, ev := range events {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ev.Time.Local().Format("2006-01-02 15:04:05"),
			dash(cardText(ev)), dash(ev.Slot), ev.Operation, ev.Result, dash(purposeText(ev.Purpose)), dash(requesterText(ev)))
	}
	return tw.Flush()
}

// cardText names the card of an event as people know it, or by its audit id in records written
// before names were recorded.
func cardText(ev audit.Event) string {
	if ev.CardName != "" {
		return ev.CardName
	}
	return ev.Card
}

// purposeText summarises a purpose in one cell: "client CLIENT at ENDPOINT jti JTI" or the
// server name of a handshake.
func purposeText(p purpose.Purpose) string {
	var parts []string
	if p.Command != "" {
		parts = append(parts, p.Command+":")
	}
	if p.ServerName != "" {
		parts = append(parts, "server "+p.ServerName)
	}
	if p.ClientID != "" {
		parts = append(parts, "client "+p.ClientID)
	}
	if p.TokenEndpoint != "" {
		parts = append(parts, "at "+p.TokenEndpoint)
	}
	if p.JTI != "" {
		parts = append(parts, "jti "+p.JTI)
	}
	if p.Process != "" {
		parts = append(parts, "for "+p.Process)
	}
	if p.Profile != "" {
		parts = append(parts, "profile "+p.Profile)
	}
	if p.ClientDeclared && len(parts) > 0 {
		parts = append(parts, "(as the client declared)")
	}
	return strings.Join(parts, " ")
}

// requesterText says who asked: "agent for /usr/bin/pivauth (pid 1234, uid 1000)" when the agent
// served the operation (the executable's path, else its command name), "pid N" when the process
// did it itself.
func requesterText(ev audit.Event) string {
	if r := ev.Requester; r != nil {
		who := r.Executable
		if who == "" {
			who = r.Command
		}
		return fmt.Sprintf("agent for %s (pid %d, uid %d)", dash(who), r.PID, r.UID)
	}
	if ev.PID != 0 {
		return fmt.Sprintf("pid %d", ev.PID)
	}
	return ""
}

// dash stands in for an empty cell, so that columns stay aligned and readable.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
