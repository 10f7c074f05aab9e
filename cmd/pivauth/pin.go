package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pivauth/pivauth/piv"
)

// pinStatusJSON is the JSON output of `pivauth pin status`.
type pinStatusJSON struct {
	Reader        string       `json:"reader"`
	Card          string       `json:"card"`
	PIN           secretJSON   `json:"pin"`
	PUK           *secretJSON  `json:"puk,omitempty"`            // YubiKey only
	ManagementKey *mgmtKeyJSON `json:"management_key,omitempty"` // YubiKey only
}

// secretJSON is the state of the PIN or the PUK.
type secretJSON struct {
	RetriesLeft  int   `json:"retries_left"`            // 0: blocked; -1: not known (PIN verified right now)
	RetriesTotal int   `json:"retries_total,omitempty"` // YubiKey only
	Default      *bool `json:"default,omitempty"`       // still the factory value (YubiKey only)
}

// mgmtKeyJSON is the state of the management key.
type mgmtKeyJSON struct {
	Algorithm string `json:"algorithm"`
	Default   bool   `json:"default"`
}

func (a *app) pinCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pin",
		Short: "Show, change or unblock the PIN",
		Long: `Show the PIN's tries left, change the PIN (or the PUK), or unblock a blocked PIN with the PUK.

Lockout guard: pivauth does not present a PIN (or PUK) to a card that has only one try left,
because a mistake would block it; --allow-last-try overrides this after you have made sure of
the value. A wrong PIN always reports the tries left.`,
		Example: `  pivauth pin status
  pivauth pin change
  pivauth pin unblock
  pivauth pin retries --pin-tries 5 --puk-tries 5`,
	}
	cmd.AddCommand(a.pinStatusCommand(), a.pinChangeCommand(), a.pinUnblockCommand(), a.pinRetriesCommand())
	return cmd
}

func (a *app) pinStatusCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the PIN tries left (and on a YubiKey the PUK and management key state)",
		Long: `Show how many PIN tries are left, without using one. On a YubiKey also the PUK tries, and whether
the PIN, PUK and management key still have their factory values (which anyone can look up).`,
		Example: `  pivauth pin status
  pivauth pin status --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			card, id, err := a.openIdentified(ctx)
			if err != nil {
				return err
			}
			defer card.Close()
			st, err := readPINStatus(ctx, card, id)
			if err != nil {
				return err
			}
			if a.format == "json" {
				return writeJSON(a.stdout, st)
			}
			a.writePINStatus(st)
			return nil
		},
	}
	setOutputFormats(cmd, "text", "json")
	return cmd
}

// readPINStatus reads the PIN state (empty VERIFY) and, on a YubiKey, the metadata of the PIN,
// the PUK and the management key, in one transaction.
func readPINStatus(ctx context.Context, card *piv.Card, id piv.Identity) (pinStatusJSON, error) {
	st := pinStatusJSON{Reader: id.Reader, Card: id.String()}
	err := card.Transaction(ctx, func(tx *piv.Tx) error {
		ps, err := tx.PINStatus()
		if err != nil {
			return err
		}
		st.PIN.RetriesLeft = ps.Retries
		if ps.Verified {
			st.PIN.RetriesLeft = -1
		}
		if !id.YubicoExtensions {
			return nil
		}
		secret := func(key byte) (*secretJSON, error) {
			m, err := tx.Metadata(key)
			if err != nil {
				return nil, err
			}
			def := m.Default
			return &secretJSON{RetriesLeft: m.RetriesLeft, RetriesTotal: m.RetriesTotal, Default: &def}, nil
		}
		pin, err := secret(piv.KeyPIN)
		if err != nil {
			return metadataUnavailable(err)
		}
		st.PIN = *pin
		if st.PUK, err = secret(piv.KeyPUK); err != nil {
			return err
		}
		m, err := tx.Metadata(piv.KeyCardManagement)
		if err != nil {
			return err
		}
		st.ManagementKey = &mgmtKeyJSON{Algorithm: m.Algorithm.String(), Default: m.Default}
		return nil
	})
	return st, err
}

// metadataUnavailable keeps the empty-VERIFY answer when a YubiKey is too old for GET METADATA.
func metadataUnavailable(err error) error {
	if errors.Is(err, piv.ErrNotYubiKey) {
		return nil
	}
	var se *piv.StatusError
	if errors.As(err, &se) {
		return nil
	}
	return err
}

func (a *app) writePINStatus(st pinStatusJSON) {
	fmt.Fprintf(a.stdout, "%s in %q\n", st.Card, st.Reader)
	line := func(name string, s secretJSON) {
		switch {
		case s.RetriesLeft == 0:
			fmt.Fprintf(a.stdout, "  %-15s BLOCKED", name+":")
		case s.RetriesLeft < 0:
			fmt.Fprintf(a.stdout, "  %-15s verified (tries left not shown by the card)", name+":")
		case s.RetriesTotal > 0:
			fmt.Fprintf(a.stdout, "  %-15s %d of %d tries left", name+":", s.RetriesLeft, s.RetriesTotal)
		default:
			fmt.Fprintf(a.stdout, "  %-15s %d tries left", name+":", s.RetriesLeft)
		}
		if s.Default != nil && *s.Default {
			fmt.Fprint(a.stdout, " (FACTORY DEFAULT: change it)")
		}
		fmt.Fprintln(a.stdout)
	}
	line("PIN", st.PIN)
	if st.PUK != nil {
		line("PUK", *st.PUK)
	}
	if mk := st.ManagementKey; mk != nil {
		fmt.Fprintf(a.stdout, "  %-15s %s", "Management key:", mk.Algorithm)
		if mk.Default {
			fmt.Fprint(a.stdout, " (FACTORY DEFAULT: anyone can put keys on this card)")
		}
		fmt.Fprintln(a.stdout)
	}
}
