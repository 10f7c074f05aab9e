package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/pivauth/pivauth/internal/certinfo"
	"github.com/pivauth/pivauth/internal/pinbuf"
	"github.com/pivauth/pivauth/piv"
	"github.com/pivauth/pivauth/signer"
	"github.com/pivauth/pivauth/signer/purpose"
)

// nameFlags describe the subject and alternative names of a certificate or request.
type nameFlags struct {
	subject string
	upns    []string
	dns     []string
	emails  []string
}

func (f *nameFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.subject, "subject", "", `subject `+"`DN`"+`, e.g. "CN=exo-automation,O=Contoso" or "/O=Contoso/CN=exo-automation" (required)`)
	cmd.Flags().StringSliceVar(&f.upns, "upn", nil, "add a User Principal Name `UPN` to the subject alternative names (Entra CBA matches users by it)")
	cmd.Flags().StringSliceVar(&f.dns, "dns", nil, "add a DNS `NAME` to the subject alternative names")
	cmd.Flags().StringSliceVar(&f.emails, "email", nil, "add an e-mail `ADDRESS` to the subject alternative names")
}

// apply parses the names into the raw subject and extensions of a template.
func (f *nameFlags) apply() (rawSubject []byte, exts []pkix.Extension, err error) {
	if f.subject == "" {
		return nil, nil, usageErrorf("--subject is required, e.g. --subject \"CN=exo-automation\"")
	}
	rdns, err := certinfo.ParseDN(f.subject)
	if err != nil {
		return nil, nil, withCode(ExitUsage, fmt.Errorf("--subject: %w", err))
	}
	if rawSubject, err = asn1.Marshal(rdns); err != nil {
		return nil, nil, err
	}
	if len(f.upns)+len(f.dns)+len(f.emails) > 0 {
		san, err := certinfo.SANExtension(f.upns, f.dns, f.emails, nil, nil)
		if err != nil {
			return nil, nil, err
		}
		exts = append(exts, san)
	}
	return rawSubject, exts, nil
}

// keySession is the key of --slot opened to sign a certificate or a request for itself (setup
// selfsign, setup csr), with the card it is on, which stays open to store the certificate.
type keySession struct {
	card *piv.Card
	id   piv.Identity
	slot piv.Slot
	key  cardKey
}

// Close closes the key and the card.
func (k *keySession) Close() {
	_ = k.key.Close()
	_ = k.card.Close()
}

// openKeySession opens the selected card and a signer over the key of --slot, which may have no
// certificate yet (a key just generated with setup key). The public key comes from --public-key,
// else from the YubiKey's metadata, else from the slot's certificate; signer checks every
// signature against it. Its signatures are recorded in the audit log like every other command's.
func (a *app) openKeySession(ctx context.Context, pubFile string) (*keySession, error) {
	slot, err := a.slot()
	if err != nil {
		return nil, err
	}
	card, id, err := a.openIdentified(ctx)
	if err != nil {
		return nil, err
	}
	key, err := a.openSlotKey(ctx, card, id, slot, pubFile)
	if err != nil {
		card.Close()
		return nil, err
	}
	return &keySession{card: card, id: id, slot: slot, key: key}, nil
}

// openSlotKey opens the audited signer of openKeySession.
func (a *app) openSlotKey(ctx context.Context, card *piv.Card, id piv.Identity, slot piv.Slot, pubFile string) (cardKey, error) {
	pub, err := slotPublicKey(ctx, card, id, slot, pubFile)
	if err != nil {
		return nil, err
	}
	rec, err := openAuditLog()
	if err != nil {
		return nil, err
	}
	trace, err := a.traceHook()
	if err != nil {
		return nil, err
	}
	s, err := signer.Open(ctx, signer.Options{
		Card: piv.Selector{Reader: card.Reader()}, Slot: slot, PIN: a.pinSource(), AllowLastPINTry: a.opts.allowLastTry,
		Touch: func() { touchNotice(a.stderr) }, PublicKey: pub, Trace: trace,
	})
	if pub == nil && errors.Is(err, piv.ErrNotFound) {
		return nil, fmt.Errorf("slot %s of %s has no certificate and the card does not tell its public key: give it with --public-key FILE", slot, id)
	}
	if err != nil {
		return nil, err
	}
	return newDirectKey(s, rec), nil
}

// slotPublicKey finds the public key of the key in slot from --public-key or the YubiKey's
// metadata. nil means neither tells it, and the slot's certificate must.
func slotPublicKey(ctx context.Context, card *piv.Card, id piv.Identity, slot piv.Slot, pubFile string) (crypto.PublicKey, error) {
	if pubFile != "" {
		data, err := os.ReadFile(pubFile)
		if err != nil {
			return nil, withCode(ExitUsage, err)
		}
		block, _ := pem.Decode(data)
		if block == nil || block.Type != "PUBLIC KEY" {
			return nil, usageErrorf("%s: want a PEM PUBLIC KEY (pivauth setup key -o FILE writes one)", pubFile)
		}
		pub, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, withCode(ExitUsage, fmt.Errorf("%s: %w", pubFile, err))
		}
		return pub, nil
	}
	if !id.YubicoExtensions {
		return nil, nil
	}
	m, err := card.Metadata(ctx, slot.Key)
	switch {
	case errors.Is(err, piv.ErrNotFound), err == nil && m.Algorithm == 0:
		// A YubiKey answers 6A88 for an empty slot; PivApplet answers with the slot's policies
		// and no algorithm.
		return nil, fmt.Errorf("slot %s of %s holds no key: generate one first (pivauth setup key --slot %s)", slot, id, slot)
	case err == nil:
		return m.PublicKey, nil
	}
	return nil, nil // firmware before 5.3 has no metadata: the certificate tells
}

func randomSerial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

func (a *app) setupSelfsignCommand() *cobra.Command {
	var f setupFlags
	var names nameFlags
	var days int
	var outFile, cerOut, pemOut, pubFile string
	cmd := &cobra.Command{
		Use:   "selfsign",
		Short: "Make a self-signed certificate for the slot's key, signed by the card, and store it",
		Long: `Make a self-signed certificate for the key in the slot, signed by that key on the card (the PIN
is asked), store it in the slot, and write it to -o FILE: DER when FILE ends in .cer or .der
(what the Entra portal's "Upload certificate" takes), PEM otherwise. Renewing: run it again on a slot that has a certificate; the
key stays, the new certificate replaces the old one (upload it before the old one expires).

The certificate has the subject (--subject), optional UPN/DNS/e-mail alternative names, the
client-authentication extended key usage, and is valid for --days days from now.`,
		Example: `  pivauth setup selfsign --subject "CN=exo-automation" --days 365 -o exo-automation.cer
  pivauth setup selfsign --slot 9a --subject "CN=Jane Admin" --upn jane@contoso.com -o jane.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if days < 1 {
				return usageErrorf("--days must be at least 1")
			}
			rawSubject, exts, err := names.apply()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			ks, err := a.openKeySession(ctx, pubFile)
			if err != nil {
				return err
			}
			defer ks.Close()
			serial, err := randomSerial()
			if err != nil {
				return err
			}
			now := time.Now()
			tmpl := &x509.Certificate{
				SerialNumber:          serial,
				RawSubject:            rawSubject,
				NotBefore:             now.Add(-5 * time.Minute), // clocks differ a little
				NotAfter:              now.AddDate(0, 0, days),
				KeyUsage:              x509.KeyUsageDigitalSignature,
				ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
				BasicConstraintsValid: true,
				ExtraExtensions:       exts,
			}
			der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, ks.key.Public(), purpose.Bind(ctx, ks.key))
			if err != nil {
				return fmt.Errorf("signing the certificate on the card: %w", err)
			}
			cert, err := x509.ParseCertificate(der)
			if err != nil {
				return err
			}
			// The management key is asked only now, with the certificate made: a signature that
			// fails leaves the slot as it was without it.
			cp := a.newCardPIN(ks.card, ks.id)
			defer cp.wipe()
			mk, err := a.managementKey(ctx, ks.card, ks.id, f.managementKeyFile, cp)
			if err != nil {
				return err
			}
			defer pinbuf.Wipe(mk)
			a.agentForgetSlot(ctx, ks.id, "") // its sessions would hold the card the management interface needs
			if err := ks.card.PutCertificate(ctx, mk, ks.slot, cert, false); err != nil {
				return err
			}
			if certIsDER(outFile) {
				cerOut = outFile
			} else if outFile != "" {
				pemOut = outFile
			}
			if err := writeCertFiles(cert, cerOut, pemOut); err != nil {
				return err
			}
			return a.printNewCert(ks.id, ks.slot, cert, "Self-signed certificate stored in slot %s of %s.", cerOut, pemOut)
		},
	}
	names.register(cmd)
	cmd.Flags().IntVar(&days, "days", 365, "validity in `DAYS` from now")
	outputFileFlag(cmd, &outFile, "write the certificate to `FILE`: DER when it ends in .cer or .der (for the Entra portal), else PEM")
	// The names before -o: hidden, kept for scripts that use them.
	cmd.Flags().StringVar(&cerOut, "cer", "", "write the certificate as DER to `FILE`")
	cmd.Flags().StringVar(&pemOut, "pem", "", "write the certificate as PEM to `FILE`")
	_ = cmd.Flags().MarkHidden("cer")
	_ = cmd.Flags().MarkHidden("pem")
	cmd.Flags().StringVar(&pubFile, "public-key", "", "the slot's public key (PEM) when the card cannot tell it (non-YubiKey without a certificate)")
	f.registerManagementKey(cmd)
	setOutputFormats(cmd, "text", "json", "pem")
	return cmd
}

// writeCertFiles writes the certificate as DER and/or PEM; certificates are public (0644).
func writeCertFiles(cert *x509.Certificate, cerOut, pemOut string) error {
	if cerOut != "" {
		if err := os.WriteFile(cerOut, cert.Raw, 0o644); err != nil {
			return err
		}
	}
	if pemOut != "" {
		if err := os.WriteFile(pemOut, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// printNewCert reports a certificate that was just made, with both thumbprints.
func (a *app) printNewCert(id piv.Identity, slot piv.Slot, cert *x509.Certificate, headline, cerOut, pemOut string) error {
	v := describeCert(slot.String(), cert, time.Now())
	v.Reader, v.Card = id.Reader, id.String()
	switch a.format {
	case "json":
		return writeJSON(a.stdout, v)
	case "pem":
		return writePEM(a.stdout, cert)
	}
	fmt.Fprintf(a.stdout, headline+"\n", slot, id)
	v.writeText(a.stdout, time.Now())
	for _, f := range []string{cerOut, pemOut} {
		if f != "" {
			fmt.Fprintf(a.stdout, "Written to %s: upload it to the app registration (Certificates & secrets).\n", f)
		}
	}
	return nil
}

func (a *app) setupCSRCommand() *cobra.Command {
	var names nameFlags
	var out, pubFile string
	cmd := &cobra.Command{
		Use:   "csr",
		Short: "Make a certificate request (PKCS #10) for the slot's key, signed by the card",
		Long: `Make a PKCS #10 certificate signing request for the key in the slot, signed by that key on the
card (the PIN is asked), for an internal CA. Import the certificate the CA returns with
'pivauth setup import'. The request is printed as PEM, or written to -o FILE. Nothing on the card
changes, so no management key is needed. The slot's public key comes from the YubiKey's metadata,
from the slot's certificate, or from --public-key (a new key on another card).`,
		Example: `  pivauth setup csr --subject "CN=build-bot,O=Contoso" > build-bot.csr
  pivauth setup csr --slot 9c --subject "CN=Jane Admin" --upn jane@contoso.com -o jane.csr`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rawSubject, exts, err := names.apply()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			ks, err := a.openKeySession(ctx, pubFile)
			if err != nil {
				return err
			}
			defer ks.Close()
			der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{RawSubject: rawSubject, ExtraExtensions: exts}, purpose.Bind(ctx, ks.key))
			if err != nil {
				return fmt.Errorf("signing the request on the card: %w", err)
			}
			csr := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
			if out != "" {
				if err := os.WriteFile(out, csr, 0o644); err != nil {
					return err
				}
				fmt.Fprintf(a.stderr, "Certificate request for slot %s of %s written to %s.\n", ks.slot, ks.id, out)
				return nil
			}
			_, err = a.stdout.Write(csr)
			return err
		},
	}
	names.register(cmd)
	outputFileFlag(cmd, &out, "write the request to `FILE` instead of stdout", "out")
	cmd.Flags().StringVar(&pubFile, "public-key", "", "the slot's public key (PEM) when the card cannot tell it (non-YubiKey without a certificate)")
	return cmd
}
