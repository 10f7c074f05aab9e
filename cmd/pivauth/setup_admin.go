package main

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pivauth/pivauth/piv"
)

// requireYubicoExtensions refuses a management command on a card without Yubico's PIV extensions
// (a government PIV card: its issuer holds its management key), before anything is sent that
// changes it.
func requireYubicoExtensions(id piv.Identity, what string) error {
	if id.YubicoExtensions {
		return nil
	}
	return fmt.Errorf("%s has no Yubico PIV extensions (it is not a YubiKey): pivauth cannot %s on it; "+
		"a government PIV card is managed by its issuer, nothing on the card was changed", id, what)
}

// slotContents is what a slot holds, as far as the card tells.
type slotContents struct {
	cert *x509.Certificate // the slot's certificate, nil when none
	// key: the slot holds a key; keyKnown: the card tells (YubiKey metadata, firmware 5.3+).
	key, keyKnown bool
	keyAlg        piv.Algorithm
	certBroken    bool // a certificate object that does not parse
}

// readSlot reads the slot's certificate and, on a card with Yubico's extensions, whether it holds
// a key (GET METADATA). A card without metadata (firmware before 5.3, other cards) cannot tell
// about the key without a signature, which would need the PIN.
func readSlot(ctx context.Context, card *piv.Card, id piv.Identity, slot piv.Slot) (slotContents, error) {
	var sc slotContents
	cert, err := card.Certificate(ctx, slot)
	switch {
	case err == nil:
		sc.cert = cert
	case errors.Is(err, piv.ErrNotFound):
	case errors.Is(err, piv.ErrCardRemoved), errors.Is(err, piv.ErrNoPCSC):
		return sc, err
	default:
		sc.certBroken = true
	}
	if id.YubicoExtensions {
		m, err := card.Metadata(ctx, slot.Key)
		switch {
		case errors.Is(err, piv.ErrNotFound), err == nil && m.Algorithm == 0: // see slotPublicKey
			sc.keyKnown = true
		case err == nil:
			sc.key, sc.keyKnown, sc.keyAlg = true, true, m.Algorithm
		}
	}
	return sc, nil
}

// occupied reports whether the slot holds something, or may (a card that cannot tell).
func (sc slotContents) occupied() bool {
	return sc.cert != nil || sc.certBroken || sc.key || !sc.keyKnown
}

// describe says what the slot holds, for a refusal or a confirmation: the certificate's subject
// and its SHA-1 (what Entra shows) and SHA-256 thumbprints, the key's algorithm.
func (sc slotContents) describe(slot piv.Slot) string {
	var parts []string
	switch {
	case sc.key:
		parts = append(parts, fmt.Sprintf("a %s key", sc.keyAlg))
	case !sc.keyKnown:
		parts = append(parts, "possibly a key (this card does not tell whether a slot holds one)")
	}
	switch {
	case sc.cert != nil:
		v := describeCert(slot.String(), sc.cert, time.Now())
		parts = append(parts, fmt.Sprintf("the certificate %q (SHA-1 %s, SHA-256 %s)", v.Subject, v.SHA1, v.SHA256))
	case sc.certBroken:
		parts = append(parts, "a certificate object that does not parse")
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, " and ")
}

func (a *app) setupManagementKeyCommand() *cobra.Command {
	var f setupFlags
	var print bool
	cmd := &cobra.Command{
		Use:   "management-key",
		Short: "Replace the management key with a random one kept on the card under the PIN (YubiKey)",
		Long: `Replace the card's management key with a random AES-192 key (3DES on YubiKeys before firmware
5.4, which have no AES management keys) and store it on the card, readable only after the PIN, as
'ykman piv access change-management-key --generate --protect' does (the PRINTED object, flagged
in ADMIN DATA). pivauth, ykman and the Yubico Authenticator then need only the PIN to manage the
card: setup key, selfsign, import, delete and pin retries read the key after verifying the PIN,
and the card is reset at the end so that it is not left authenticated.

With --print the key is not stored on the card: it is printed once on standard output, for you to
keep (give it later with --management-key-file). A key stored earlier is then removed from the
card. The current management key comes from --management-key-file, the factory default, the
card (PIN-protected) or the terminal.

Cards without Yubico's PIV extensions (government PIV cards) are refused: their issuer holds
their management key.`,
		Example: `  pivauth setup management-key
  pivauth setup management-key --management-key-file old.hex
  pivauth setup management-key --print > mk.hex && chmod 600 mk.hex`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			card, id, err := a.openIdentified(ctx)
			if err != nil {
				return err
			}
			defer card.Close()
			if err := requireYubicoExtensions(id, "set its management key"); err != nil {
				return err
			}
			cp := a.newCardPIN(card, id)
			defer cp.wipe()
			old, err := a.managementKey(ctx, card, id, f.managementKeyFile, cp)
			if err != nil {
				return err
			}
			defer clear(old)
			opts := piv.ProtectedKeyOptions{Guard: a.pinGuard}
			if !print {
				if opts.PIN, err = cp.get(ctx); err != nil {
					return err
				}
			}
			alg := piv.NewManagementKeyAlgorithm(id)
			key := make([]byte, 24) // AES-192 and 3DES alike
			defer clear(key)
			if _, err := rand.Read(key); err != nil {
				return err
			}
			a.agentForgetSlot(ctx, id, "") // its sessions would hold the card
			if err := card.SetManagementKey(ctx, old, key, alg, opts); err != nil {
				return err
			}
			if print {
				fmt.Fprintf(a.stderr, "The management key of %s is now this random %s key. It is shown once, here, and not "+
					"stored anywhere: keep it safe (a file only you can read, for --management-key-file).\n", id, alg)
				fmt.Fprintf(a.stdout, "%X\n", key)
				return nil
			}
			fmt.Fprintf(a.stderr, "The management key of %s is now a random %s key, stored on the card under the PIN: "+
				"pivauth setup and pin retries (and ykman) need only the PIN from now on.\n", id, alg)
			return nil
		},
	}
	cmd.Flags().BoolVar(&print, "print", false, "print the new key once on standard output instead of storing it on the card")
	f.registerManagementKey(cmd)
	return cmd
}

func (a *app) setupDeleteCommand() *cobra.Command {
	var f setupFlags
	cmd := &cobra.Command{
		Use:   "delete --slot SLOT",
		Short: "Delete the key and the certificate of a slot (YubiKey; the key only from firmware 5.7)",
		Long: `Delete the slot's key and certificate. --slot is required: nothing is deleted from a default slot.

A YubiKey with firmware 5.7 or later deletes the key itself (MOVE KEY to nowhere, as
'ykman piv keys delete' does). Older YubiKeys have no way to delete a key: pivauth deletes the
certificate and says that the key stays (overwrite it with 'pivauth setup key --force', or reset
the PIV application). Government PIV cards are refused.

pivauth prints what it deleted: the certificate's subject and SHA-1 and SHA-256 thumbprints.`,
		Example: `  pivauth setup delete --slot 9c`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("slot") {
				return usageErrorf("give the slot to delete with --slot (9a, 9c, 9d, 9e or 82-95)")
			}
			slot, err := a.slot()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			card, id, err := a.openIdentified(ctx)
			if err != nil {
				return err
			}
			defer card.Close()
			if err := requireYubicoExtensions(id, "delete keys"); err != nil {
				return err
			}
			before, err := readSlot(ctx, card, id, slot)
			if err != nil {
				return err
			}
			cp := a.newCardPIN(card, id)
			defer cp.wipe()
			mk, err := a.managementKey(ctx, card, id, f.managementKeyFile, cp)
			if err != nil {
				return err
			}
			defer clear(mk)
			a.agentForgetSlot(ctx, id, slot.String())
			d, err := card.DeleteSlot(ctx, mk, id, slot)
			if err != nil {
				return err
			}
			if !d.KeyCommand {
				before.key, before.keyKnown = false, true // reported below as staying
			}
			fmt.Fprintf(a.stderr, "Deleted from slot %s of %s: %s.\n", slot, id, before.describe(slot))
			if !d.KeyCommand {
				fmt.Fprintf(a.stderr, "The key stays in slot %s: %s cannot delete keys (YubiKey firmware 5.7 and later can). "+
					"Replace it with pivauth setup key --force, or reset the PIV application (pivauth reset).\n", slot, id)
			}
			return nil
		},
	}
	f.registerManagementKey(cmd)
	return cmd
}
