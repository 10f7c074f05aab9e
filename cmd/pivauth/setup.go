package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pivauth/pivauth/flows/assertion"
	"github.com/pivauth/pivauth/piv"
)

// setupFlags are shared by the setup subcommands.
type setupFlags struct {
	managementKeyFile string
	pinPolicy         string
	touchPolicy       string
}

func (f *setupFlags) registerManagementKey(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.managementKeyFile, "management-key-file", "", "read the management key (hex) from `FILE` (mode 0600); "+
		"default: the factory key when the card still has it (with a warning), else asked on the terminal")
}

func (f *setupFlags) registerPolicies(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.pinPolicy, "pin-policy", "default", "when the key needs the PIN: `POLICY` default|never|once|always (YubiKey)")
	cmd.Flags().StringVar(&f.touchPolicy, "touch-policy", "default", "when the key needs a touch: `POLICY` default|never|always|cached (YubiKey)")
	_ = cmd.RegisterFlagCompletionFunc("pin-policy", cobra.FixedCompletions([]string{"default", "never", "once", "always"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("touch-policy", cobra.FixedCompletions([]string{"default", "never", "always", "cached"}, cobra.ShellCompDirectiveNoFileComp))
}

// keyOptions parses the policy flags.
func (f *setupFlags) keyOptions() (piv.KeyOptions, error) {
	var o piv.KeyOptions
	pins := map[string]piv.PINPolicy{"default": piv.PINPolicyDefault, "never": piv.PINPolicyNever, "once": piv.PINPolicyOnce, "always": piv.PINPolicyAlways}
	touches := map[string]piv.TouchPolicy{"default": piv.TouchPolicyDefault, "never": piv.TouchPolicyNever, "always": piv.TouchPolicyAlways, "cached": piv.TouchPolicyCached}
	var ok bool
	if o.PINPolicy, ok = pins[strings.ToLower(f.pinPolicy)]; !ok {
		return o, usageErrorf("--pin-policy %q: choose default, never, once or always", f.pinPolicy)
	}
	if o.TouchPolicy, ok = touches[strings.ToLower(f.touchPolicy)]; !ok {
		return o, usageErrorf("--touch-policy %q: choose default, never, always or cached", f.touchPolicy)
	}
	return o, nil
}

// algorithms are the --algorithm names of `setup key`.
var algorithms = map[string]piv.Algorithm{
	"rsa1024": piv.AlgRSA1024, "rsa2048": piv.AlgRSA2048, "rsa3072": piv.AlgRSA3072, "rsa4096": piv.AlgRSA4096,
	"eccp256": piv.AlgECCP256, "p256": piv.AlgECCP256, "eccp384": piv.AlgECCP384, "p384": piv.AlgECCP384,
	"ed25519": piv.AlgEd25519, "x25519": piv.AlgX25519,
}

func (a *app) setupCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "setup",
		Short: "Put a key and a certificate on the card",
		Long: `Prepare a card for certificate-based authentication, as the Exchange Online and Microsoft Graph
app-only guides do by hand, without the key ever leaving the card:

  1. pivauth setup key        generate a key in the slot (YubiKey: attested by the card)
  2. pivauth setup selfsign   a self-signed certificate, signed by the card, stored in the slot and
                              exported as .cer/.pem to upload to the app registration
     or pivauth setup csr     a certificate request for your CA, then pivauth setup import CERT
  or pivauth setup import     a certificate (PEM/DER), or a key and certificate from a PFX/PKCS#12

Every step prints the certificate's SHA-1 thumbprint (what Entra shows) and SHA-256 thumbprint.
Writing to a card needs its management key: --management-key-file, else the factory default
when the card still has it (with a warning), else the key the card keeps under the PIN (after
'pivauth setup management-key'), else a prompt on the terminal.

Card management (YubiKey):
  pivauth setup management-key   a random management key, kept on the card under the PIN
  pivauth setup delete --slot S  delete a slot's key (firmware 5.7+) and certificate
  pivauth reset                  erase the PIV application (after blocking PIN and PUK)`,
		Example: `  pivauth setup key --slot 9a --algorithm rsa2048 --touch-policy cached
  pivauth setup selfsign --subject "CN=exo-automation" --days 365 -o exo.cer
  pivauth setup csr --subject "CN=build-bot,O=Contoso" > bot.csr
  pivauth setup import bot.pem`,
	}
	cmd.AddCommand(a.setupKeyCommand(), a.setupSelfsignCommand(), a.setupCSRCommand(), a.setupImportCommand(),
		a.setupManagementKeyCommand(), a.setupDeleteCommand())
	return cmd
}

func (a *app) setupImportCommand() *cobra.Command {
	var f setupFlags
	var passwordFile string
	var force bool
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Load a certificate (PEM/DER), or a key and certificate (PFX/PKCS#12, PEM), into a slot",
		Long: `Load FILE into the slot:

  - a certificate alone (PEM or DER .cer/.crt), for the key already in the slot: for example the
    certificate your CA issued for 'pivauth setup csr'. On a YubiKey pivauth checks that the
    certificate is for the slot's key and refuses otherwise.
  - a PFX/PKCS#12 file (.pfx, .p12) or a PEM file with a private key and its certificate: both
    go into the slot (YubiKey). The password of a PFX is read from --password-file or asked on
    the terminal (an empty password is tried without a terminal).

An imported key existed outside the card before; prefer 'pivauth setup key', whose key never did.
Delete the PFX once it is on the card.`,
		Example: `  pivauth setup import app.cer
  pivauth setup import --slot 9a exo-automation.pfx
  pivauth setup import --password-file pfx.pass --pin-policy once app.p12`,
		Args: positional(1, 1, "the file to load (a certificate, PFX or PEM)", "pivauth setup import app.pfx"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := f.keyOptions()
			if err != nil {
				return err
			}
			slot, err := a.slot()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			bundle, err := loadBundle(ctx, args[0], passwordFile)
			if err != nil {
				return err
			}
			card, id, err := a.openIdentified(ctx)
			if err != nil {
				return err
			}
			defer card.Close()
			if bundle.key == nil && !force {
				if err := checkSlotKey(ctx, card, id, slot, bundle.cert); err != nil {
					return err
				}
			}
			cp := a.newCardPIN(card, id)
			defer cp.wipe()
			mk, err := a.managementKey(ctx, card, id, f.managementKeyFile, cp)
			if err != nil {
				return err
			}
			defer clear(mk)
			a.agentForgetSlot(ctx, id, "") // its sessions would hold the card the management interface needs
			if bundle.key != nil {
				err = card.ImportKey(ctx, mk, slot, bundle.key, bundle.cert, opts)
			} else {
				err = card.PutCertificate(ctx, mk, slot, bundle.cert, false)
			}
			if err != nil {
				return err
			}
			v := describeCert(slot.String(), bundle.cert, time.Now())
			v.Reader, v.Card = id.Reader, id.String()
			if a.format == "json" {
				return writeJSON(a.stdout, importJSON{certJSON: v, KeyImported: bundle.key != nil})
			}
			what := "Certificate"
			if bundle.key != nil {
				what = "Key and certificate"
			}
			fmt.Fprintf(a.stdout, "%s imported into slot %s of %s.\n", what, slot, id)
			v.writeText(a.stdout, time.Now())
			return nil
		},
	}
	cmd.Flags().StringVar(&passwordFile, "password-file", "", "read the PFX password from the first line of `FILE`")
	cmd.Flags().BoolVar(&force, "force", false, "store a certificate even when it cannot be matched with the slot's key")
	f.registerManagementKey(cmd)
	f.registerPolicies(cmd)
	setOutputFormats(cmd, "text", "json")
	return cmd
}

// importJSON is the JSON output of `setup import`.
type importJSON struct {
	certJSON
	KeyImported bool `json:"key_imported"`
}

// checkSlotKey refuses a certificate whose public key is not the slot's, where the card can tell
// (YubiKey 5.3+ metadata). Other cards cannot say which key a slot holds without a signature.
func checkSlotKey(ctx context.Context, card *piv.Card, id piv.Identity, slot piv.Slot, cert *x509.Certificate) error {
	if !id.YubicoExtensions {
		return nil
	}
	m, err := card.Metadata(ctx, slot.Key)
	switch {
	case errors.Is(err, piv.ErrNotFound), err == nil && m.Algorithm == 0: // see slotPublicKey
		return fmt.Errorf("slot %s of %s holds no key: generate one first (pivauth setup key) or import a PFX with its key", slot, id)
	case err != nil || m.PublicKey == nil:
		return nil // older firmware: nothing to compare with
	}
	if err := assertion.MatchCertificate(m.PublicKey, cert); err != nil {
		return fmt.Errorf("the certificate (%s) is not for the key in slot %s (%s): nothing was written; use --force to store it anyway",
			assertion.KeyType(cert.PublicKey), slot, assertion.KeyType(m.PublicKey))
	}
	return nil
}
