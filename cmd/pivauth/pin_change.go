package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pivauth/pivauth/internal/pinbuf"
	"github.com/pivauth/pivauth/piv"
	"github.com/pivauth/pivauth/signer"
)

// secretFlags are the flags that give PIN-management secrets from files, for unattended use.
type secretFlags struct {
	newPINFile string
	pukFile    string
}

// register adds the flags to cmd; newWhat names the new secret for --new-pin-file's help.
func (f *secretFlags) register(cmd *cobra.Command, newWhat string, puk bool) {
	cmd.Flags().StringVar(&f.newPINFile, "new-pin-file", "", "read the "+newWhat+" from `FILE` (mode 0600) instead of asking twice on the terminal")
	if puk {
		cmd.Flags().StringVar(&f.pukFile, "puk-file", "", "read the PUK from `FILE` (mode 0600) instead of asking on the terminal")
	}
}

// guarded returns a change of the PIN or the PUK, or an unblock (change applied to the current and
// the new secret), run by piv's guarded operation: in one transaction with the lockout guard's
// reading of the tries left of key (piv.KeyPIN or piv.KeyPUK), so that a try another program used
// while the person typed is seen before anything is sent.
func (a *app) guarded(card *piv.Card, key byte, change func(tx *piv.Tx, current, next []byte) error) func(ctx context.Context, current, next []byte) error {
	return func(ctx context.Context, current, next []byte) error {
		return card.Guarded(ctx, key, a.opts.allowLastTry, func(tx *piv.Tx) error { return change(tx, current, next) })
	}
}

// newSecret reads a new PIN or PUK from file or, twice, from the terminal.
func newSecret(ctx context.Context, file, what string) ([]byte, error) {
	check := func(b []byte) error {
		if len(b) < 6 || len(b) > 8 {
			return fmt.Errorf("a %s has 6 to 8 characters", what)
		}
		return nil
	}
	if file != "" {
		b, err := signer.File(file).PIN(ctx, signer.PINRequest{Retries: -1})
		if err != nil {
			return nil, withCode(ExitPIN, fmt.Errorf("%s: %w", what, err))
		}
		if err := check(b); err != nil {
			pinbuf.Wipe(b)
			return nil, withCode(ExitUsage, fmt.Errorf("%s in %s: %w", what, file, err))
		}
		return b, nil
	}
	return readNewSecret(ctx, what, check)
}

// replaceSecret reads the secret that authorises the change with current, then the new one
// (newSecret: from newFile or twice from the terminal), has the card apply them (change the PIN
// or the PUK, unblock the PIN), and wipes both.
func replaceSecret(ctx context.Context, current func() ([]byte, error), newFile, newWhat string, apply func(ctx context.Context, current, next []byte) error) error {
	cur, err := current()
	if err != nil {
		return err
	}
	defer pinbuf.Wipe(cur)
	next, err := newSecret(ctx, newFile, newWhat)
	if err != nil {
		return err
	}
	defer pinbuf.Wipe(next)
	return apply(ctx, cur, next)
}

// currentPIN asks the PIN sources for the card's PIN after the lockout guard allowed it.
func (a *app) currentPIN(ctx context.Context, card *piv.Card, id piv.Identity) ([]byte, error) {
	st, err := card.PINStatus(ctx)
	if err != nil {
		return nil, err
	}
	retries := st.Retries
	if st.Verified {
		retries = -1
	}
	if err := piv.CheckTries(piv.KeyPIN, retries, a.opts.allowLastTry); err != nil {
		return nil, err
	}
	slot, err := a.slot()
	if err != nil {
		return nil, err
	}
	return a.pinSource().PIN(ctx, signer.PINRequest{Reader: id.Reader, Card: signer.CardName(id, nil), Slot: slot, Retries: retries})
}

func (a *app) pinChangeCommand() *cobra.Command {
	var f secretFlags
	var puk bool
	cmd := &cobra.Command{
		Use:   "change",
		Short: "Change the PIN (or with --puk the PUK)",
		Long: `Change the PIN: the current PIN comes from the usual sources (terminal, --pin-file, PIVAUTH_PIN,
pinentry), the new one is asked twice on the terminal or read from --new-pin-file. With --puk,
change the PUK instead (current PUK from the terminal or --puk-file).`,
		Example: `  pivauth pin change
  pivauth pin change --pin-file old.pin --new-pin-file new.pin
  pivauth pin change --puk`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			card, id, err := a.openIdentified(ctx)
			if err != nil {
				return err
			}
			defer card.Close()
			what, current, apply := "PIN", func() ([]byte, error) { return a.currentPIN(ctx, card, id) }, a.forgetPINFirst(id, a.guarded(card, piv.KeyPIN, (*piv.Tx).ChangePIN))
			if puk {
				what, current, apply = "PUK", func() ([]byte, error) { return a.readPUK(ctx, card, id, f.pukFile) }, a.guarded(card, piv.KeyPUK, (*piv.Tx).ChangePUK)
			}
			if err := replaceSecret(ctx, current, f.newPINFile, "new "+what, apply); err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "%s changed on %s.\n", what, id)
			return nil
		},
	}
	f.register(cmd, "new PIN (or PUK)", true)
	cmd.Flags().BoolVar(&puk, "puk", false, "change the PUK instead of the PIN")
	return cmd
}

// forgetPINFirst tells a running agent to close its sessions of the card just before apply sets a
// new PIN: the PIN they hold would then be wrong, and the agent's next signature would spend one
// of the card's tries with it.
func (a *app) forgetPINFirst(id piv.Identity, apply func(ctx context.Context, current, next []byte) error) func(ctx context.Context, current, next []byte) error {
	return func(ctx context.Context, current, next []byte) error {
		a.agentForgetSlot(ctx, id, "")
		return apply(ctx, current, next)
	}
}

// readPUK reads the PUK from --puk-file or the terminal, after the lockout guard (which knows
// the PUK's tries only on a YubiKey).
func (a *app) readPUK(ctx context.Context, card *piv.Card, id piv.Identity, pukFile string) ([]byte, error) {
	if id.YubicoExtensions {
		m, err := card.Metadata(ctx, piv.KeyPUK)
		if err == nil {
			if err := piv.CheckTries(piv.KeyPUK, m.RetriesLeft, a.opts.allowLastTry); err != nil {
				return nil, err
			}
		}
	}
	if pukFile != "" {
		b, err := signer.File(pukFile).PIN(ctx, signer.PINRequest{Reader: id.Reader, Retries: -1})
		if err != nil {
			return nil, withCode(ExitPIN, fmt.Errorf("PUK: %w", err))
		}
		return b, nil
	}
	b, err := readSecret(ctx, fmt.Sprintf("PUK for %s in %q", id, id.Reader))
	if errors.Is(err, errNoTerminal) {
		return nil, withCode(ExitPIN, errors.New("no terminal to ask for the PUK: give it with --puk-file"))
	}
	return b, err
}

func (a *app) pinUnblockCommand() *cobra.Command {
	var f secretFlags
	cmd := &cobra.Command{
		Use:   "unblock",
		Short: "Set a new PIN with the PUK (after the PIN was blocked)",
		Long: `Set a new PIN with the PUK and restore the PIN's tries. The PUK is asked on the terminal (or read
from --puk-file), the new PIN twice on the terminal (or read from --new-pin-file). A YubiKey's
PUK with one try left is protected by the lockout guard like the PIN.`,
		Example: `  pivauth pin unblock
  pivauth pin unblock --puk-file puk.txt --new-pin-file new.pin`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			card, id, err := a.openIdentified(ctx)
			if err != nil {
				return err
			}
			defer card.Close()
			puk := func() ([]byte, error) { return a.readPUK(ctx, card, id, f.pukFile) }
			if err := replaceSecret(ctx, puk, f.newPINFile, "new PIN", a.forgetPINFirst(id, a.guarded(card, piv.KeyPUK, (*piv.Tx).UnblockPIN))); err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "PIN set and unblocked on %s.\n", id)
			return nil
		},
	}
	f.register(cmd, "new PIN", true)
	return cmd
}

func (a *app) pinRetriesCommand() *cobra.Command {
	var f setupFlags
	var pinTries, pukTries int
	cmd := &cobra.Command{
		Use:   "retries",
		Short: "Set how many wrong PINs and PUKs a YubiKey allows (resets both to their factory values)",
		Long: `Set how many wrong PINs and PUKs a YubiKey allows before it blocks them (1 to 255 each). This needs
the PIN (usual sources) and the management key (--management-key-file, else the factory key when
the card still has it, else asked on the terminal). The YubiKey resets the PIN to 123456 and the PUK
to 12345678 when it does this: change both afterwards.`,
		Example: `  pivauth pin retries --pin-tries 5 --puk-tries 5
  pivauth pin change && pivauth pin change --puk`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, n := range []struct {
				flag  string
				tries int
			}{{"--pin-tries", pinTries}, {"--puk-tries", pukTries}} {
				switch {
				case !cmd.Flags().Changed(n.flag[2:]):
					return withCode(ExitUsage, fmt.Errorf("%s is required: give 1 to 255 tries", n.flag))
				case n.tries < 1 || n.tries > 255:
					return withCode(ExitUsage, fmt.Errorf("%s %d: give 1 to 255 tries", n.flag, n.tries))
				}
			}
			ctx := cmd.Context()
			card, id, err := a.openIdentified(ctx)
			if err != nil {
				return err
			}
			defer card.Close()
			if !id.YubiKey {
				return fmt.Errorf("%s is not a YubiKey: the tries of other PIV cards are set by their issuer", id)
			}
			cp := a.newCardPIN(card, id)
			defer cp.wipe()
			pin, err := cp.get(ctx)
			if err != nil {
				return err
			}
			mk, err := a.managementKey(ctx, card, id, f.managementKeyFile, cp)
			if err != nil {
				return err
			}
			defer clear(mk)
			a.agentForgetSlot(ctx, id, "") // the PIN it holds is no longer the card's
			if err := card.SetRetries(ctx, mk, pin, pinTries, pukTries, a.pinGuard); err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "%s now allows %d wrong PINs and %d wrong PUKs. Its PIN is the factory 123456 and its PUK 12345678 again: change both (pivauth pin change; pivauth pin change --puk).\n",
				id, pinTries, pukTries)
			return nil
		},
	}
	f.registerManagementKey(cmd)
	cmd.Flags().IntVar(&pinTries, "pin-tries", 0, "wrong PINs allowed before the PIN blocks, `N` 1-255 (required)")
	cmd.Flags().IntVar(&pukTries, "puk-tries", 0, "wrong PUKs allowed before the PUK blocks, `N` 1-255 (required)")
	return cmd
}
