package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pivauth/pivauth/piv"
	"github.com/pivauth/pivauth/signer"
)

// cardsJSON is the JSON output of `pivauth cards`.
type cardsJSON struct {
	Readers []readerJSON `json:"readers"`
}

// readerJSON is one reader; Card is nil when it holds none or one that could not be read.
type readerJSON struct {
	Reader string    `json:"reader"`
	Card   *cardJSON `json:"card,omitempty"`
	// CardPresent is true when the reader holds a card, PIV or not.
	CardPresent bool `json:"card_present"`
	// Error says why the card in it could not be read, e.g. that it does not answer as a PIV
	// card, with the status word of its SELECT.
	Error string `json:"error,omitempty"`
}

// cardJSON identifies a card and lists the certificates of its slots.
type cardJSON struct {
	Name     string     `json:"name"` // as prompts and messages name the card (signer.CardName)
	Kind     string     `json:"kind"` // "yubikey" or "piv"
	Serial   uint32     `json:"serial,omitempty"`
	Firmware string     `json:"firmware,omitempty"`
	GUID     string     `json:"guid,omitempty"`
	FASCN    string     `json:"fasc_n,omitempty"`
	Select   string     `json:"select"` // the flag that picks this card
	Slots    []certJSON `json:"slots"`
}

// standardSlots are read by `cards` and `certs`; retired slots 82.. are added as the card's key
// history object says they hold certificates.
var standardSlots = []piv.Slot{piv.SlotAuthentication, piv.SlotSignature, piv.SlotKeyManagement, piv.SlotCardAuthentication}

func (a *app) cardsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cards",
		Short: "List readers, cards and the certificates in their slots",
		Long: `List the smart-card readers, the card in each (a YubiKey by serial number and firmware, another
PIV card by the GUID and FASC-N of its CHUID) and the slots that hold a certificate, with its
subject and SHA-1 thumbprint. Each card shows the flag that selects it in other commands.

With --reader, --serial or --guid only that card is shown.`,
		Example: `  pivauth cards
  pivauth cards --output json | jq '.readers[].card.slots[].sha1'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out, err := a.listCards(cmd.Context())
			if err != nil {
				return err
			}
			return a.emit(out, func(io.Writer) error { a.writeCards(out); return nil })
		},
	}
	setOutputFormats(cmd, "text", "json")
	return cmd
}

// listCards reads every reader (or the selected card's) and its card.
func (a *app) listCards(ctx context.Context) (cardsJSON, error) {
	out := cardsJSON{Readers: []readerJSON{}}
	if sel := a.selector(); sel != (piv.Selector{}) {
		card, err := a.openPIV(ctx)
		if err != nil {
			return out, err
		}
		defer card.Close()
		r := readerJSON{Reader: card.Reader(), CardPresent: true}
		r.Card, err = describeCard(ctx, card)
		if err != nil {
			return out, err
		}
		out.Readers = append(out.Readers, r)
		return out, nil
	}
	readers, err := piv.Readers(ctx)
	if err != nil {
		return out, err
	}
	for _, name := range readers {
		r := readerJSON{Reader: name}
		card, err := piv.Open(ctx, piv.Selector{Reader: name})
		// Only ErrNoCard means an empty reader: a card that does not answer as PIV, or that
		// another application holds, is present and says why it cannot be used.
		r.CardPresent = !errors.Is(err, piv.ErrNoCard)
		switch {
		case !r.CardPresent:
		case err != nil:
			r.Error = strings.TrimPrefix(err.Error(), "piv: ")
		default:
			r.Card, err = describeCard(ctx, card)
			card.Close()
			if err != nil {
				r.Error = err.Error()
			}
		}
		out.Readers = append(out.Readers, r)
	}
	return out, nil
}

// describeCard identifies the card and reads its slots' certificates in one transaction.
func describeCard(ctx context.Context, card *piv.Card) (*cardJSON, error) {
	id, err := card.Identity(ctx)
	if err != nil {
		return nil, err
	}
	c := &cardJSON{Kind: "piv", GUID: id.GUID, Select: pickFlag(id), Slots: []certJSON{}}
	if id.YubicoExtensions {
		// "firmware" is what GET VERSION answered: an independent applet's
		// own version on a card that is not a YubiKey (kind "piv").
		c.Serial, c.Firmware = id.Serial, id.Version.String()
	}
	if id.YubiKey {
		c.Kind = "yubikey"
	}
	if id.FASCN != nil {
		c.FASCN = id.FASCN.String()
	}
	certs, err := readCertificates(ctx, card, nil)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	var auth *x509.Certificate // the cardholder's, which names a card without Yubico's serial
	for _, sc := range certs {
		c.Slots = append(c.Slots, describeCert(sc.slot.String(), sc.cert, now))
		if sc.slot == piv.SlotAuthentication {
			auth = sc.cert
		}
	}
	c.Name = signer.CardName(id, auth)
	return c, nil
}

// slotCert is a certificate and the slot it came from.
type slotCert struct {
	slot piv.Slot
	cert *x509.Certificate
}

// readCertificates reads the certificates of the given slots, or of the standard slots and the
// retired slots the key history object counts when slots is nil, in one transaction. Empty
// slots are skipped; a certificate that does not parse is an error naming its slot.
func readCertificates(ctx context.Context, card *piv.Card, slots []piv.Slot) ([]slotCert, error) {
	var out []slotCert
	err := card.Transaction(ctx, func(tx *piv.Tx) error {
		out = out[:0]
		list := slots
		if list == nil {
			list = append([]piv.Slot(nil), standardSlots...)
			kh, err := tx.KeyHistory()
			if err != nil && !errors.Is(err, piv.ErrNotFound) {
				return err
			}
			for i := 0; kh != nil && i < kh.OnCardCerts; i++ {
				if s, ok := piv.RetiredSlot(byte(0x82 + i)); ok {
					list = append(list, s)
				}
			}
		}
		for _, s := range list {
			cert, err := tx.Certificate(s)
			if errors.Is(err, piv.ErrNotFound) {
				continue
			}
			if err != nil {
				return fmt.Errorf("slot %s: %w", s, err)
			}
			out = append(out, slotCert{s, cert})
		}
		return nil
	})
	return out, err
}

// writeCards prints the readers and cards for a person.
func (a *app) writeCards(out cardsJSON) {
	if len(out.Readers) == 0 {
		fmt.Fprintln(a.stdout, "No smart-card reader found.")
		return
	}
	for _, r := range out.Readers {
		fmt.Fprintf(a.stdout, "%s\n", r.Reader)
		switch {
		case r.Error != "":
			fmt.Fprintf(a.stdout, "  card present, not usable: %s\n", r.Error)
		case r.Card == nil:
			fmt.Fprintln(a.stdout, "  (no card)")
		default:
			c := r.Card
			fmt.Fprintf(a.stdout, "  %s", c.Name)
			if c.Kind != "yubikey" && c.Firmware != "" {
				fmt.Fprintf(a.stdout, " (version %s; not a YubiKey by its ATR)", c.Firmware)
			}
			if c.GUID != "" {
				fmt.Fprintf(a.stdout, ", GUID %s", c.GUID)
			}
			fmt.Fprintf(a.stdout, "   (select with %s)\n", c.Select)
			if c.FASCN != "" {
				fmt.Fprintf(a.stdout, "  FASC-N %s\n", c.FASCN)
			}
			if len(c.Slots) == 0 {
				fmt.Fprintln(a.stdout, "  no certificates")
			}
			for _, s := range c.Slots {
				fmt.Fprintf(a.stdout, "  slot %s  %s  SHA-1 %s  expires %s\n", s.Slot, s.Subject, s.SHA1, s.NotAfter.Format(time.DateOnly))
			}
		}
	}
}
