package main

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pivauth/pivauth/flows/assertion"
	"github.com/pivauth/pivauth/piv"
	"github.com/pivauth/pivauth/signer"
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

// setupKeyJSON is the JSON output of `setup key`.
type setupKeyJSON struct {
	Reader          string           `json:"reader"`
	Card            string           `json:"card"`
	Slot            string           `json:"slot"`
	Algorithm       string           `json:"algorithm"`
	PublicKeySHA256 string           `json:"public_key_sha256"` // SHA-256 of the SubjectPublicKeyInfo, upper-case hex
	PublicKeyPEM    string           `json:"public_key_pem"`
	Attestation     *attestationJSON `json:"attestation,omitempty"` // verified attestation
	// AttestationError says why the attestation of the generated key could not be verified.
	AttestationError string `json:"attestation_error,omitempty"`
}

// attestationJSON is a verified attestation.
type attestationJSON struct {
	// Roots it chains to: "Yubico" (a YubiKey made the key), or the --attestation-roots file.
	Roots       string   `json:"roots"`
	Serial      uint32   `json:"serial"`
	Firmware    string   `json:"firmware"`
	PINPolicy   string   `json:"pin_policy"`
	TouchPolicy string   `json:"touch_policy"`
	Certificate certJSON `json:"certificate"` // the attestation certificate of the key
}

func (a *app) setupKeyCommand() *cobra.Command {
	var f setupFlags
	var alg, rootsFile, pubOut string
	var force bool
	cmd := &cobra.Command{
		Use:   "key",
		Short: "Generate a key pair on the card (YubiKey: with verified attestation, exit 7 without)",
		Long: `Generate a key pair in the slot. The private key is created on the card and never leaves it.

On a YubiKey the card attests the new key: a certificate, signed by the YubiKey's attestation key,
that says the key was generated on this YubiKey (serial) with these PIN and touch policies.
pivauth verifies it against Yubico's attestation roots (or --attestation-roots) and shows it.
If it cannot (the card did not attest, the certificate does not parse or does not chain to the
roots), the new key is still in the slot: pivauth prints it, says why the attestation failed and
exits with code 7. A card that answers Yubico's instructions but whose answer to reset names no
YubiKey (an independent PIV applet) attests as well as it can: pivauth shows the result and
requires it only with --attestation-roots.

An algorithm the card does not have is refused before anything changes: from a YubiKey's
firmware version, else from the card's refusal to generate it (the slot keeps its old key).

Entra ID accepts only RSA keys for certificate credentials: keep the default rsa2048 for Entra.
A slot that holds a key or a certificate is refused (exit 2, nothing changed) with what it holds:
the certificate's subject and SHA-1 and SHA-256 thumbprints. --force replaces the key for good;
its certificate then no longer matches and must be replaced too (setup selfsign or setup import).
A YubiKey before firmware 5.3 cannot tell whether a slot holds a key: it needs --force unless the
slot has a certificate pivauth can show.`,
		Example: `  pivauth setup key
  pivauth setup key --slot 9c --algorithm eccp256 --pin-policy always --touch-policy always
  pivauth setup key --algorithm rsa2048 --pin-policy never --management-key-file mk.hex   # unattended job`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			algorithm, ok := algorithms[strings.ToLower(alg)]
			if !ok {
				return usageErrorf("--algorithm %q: choose rsa2048, rsa3072, rsa4096, rsa1024, eccp256, eccp384, ed25519 or x25519", alg)
			}
			opts, err := f.keyOptions()
			if err != nil {
				return err
			}
			opts.Algorithm = algorithm
			slot, err := a.slot()
			if err != nil {
				return err
			}
			roots, err := loadRoots(rootsFile)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			card, id, err := a.openIdentified(ctx)
			if err != nil {
				return err
			}
			defer card.Close()
			if !id.YubicoExtensions {
				return fmt.Errorf("%s has no Yubico PIV extensions (it is not a YubiKey): pivauth generates keys through them; "+
					"government PIV cards get their keys from their issuer", id)
			}
			cp := a.newCardPIN(card, id)
			defer cp.wipe()
			if err := a.confirmReplace(ctx, card, id, slot, force); err != nil {
				return err
			}
			mk, err := a.managementKey(ctx, card, id, f.managementKeyFile, cp)
			if err != nil {
				return err
			}
			defer clear(mk)
			a.agentForgetSlot(ctx, id, "") // its sessions would hold the card the management interface needs
			stop := a.progress(fmt.Sprintf("Generating the %s key in slot %s of %s…", algorithm, slot, signer.CardName(id, nil)))
			pub, att, err := card.GenerateKey(ctx, mk, slot, opts, roots)
			stop()
			// Once the card generated the key, the old one is gone: whatever fails afterwards is
			// reported with the new key, never as "not generated".
			var unattested *piv.AttestationError
			if err != nil && (pub == nil || !errors.As(err, &unattested)) {
				return err
			}
			out, err := describeNewKey(id, slot, algorithm, pub, att, rootsFile)
			if err != nil {
				return fmt.Errorf("the key was generated and is in slot %s, but its public key cannot be shown: %w", slot, err)
			}
			if unattested != nil {
				out.AttestationError = unattested.Err.Error()
			}
			if pubOut != "" {
				if err := os.WriteFile(pubOut, []byte(out.PublicKeyPEM), 0o644); err != nil {
					return fmt.Errorf("the key was generated and is in slot %s, but writing its public key failed: %w", slot, err)
				}
			}
			if a.format == "json" {
				if err := writeJSON(a.stdout, out); err != nil {
					return err
				}
			} else {
				a.writeNewKey(out)
				if !algorithm.IsRSA() {
					fmt.Fprintf(a.stdout, "Note: Entra ID accepts only RSA keys; this %s key works with OIDC providers and mTLS.\n", algorithm)
				}
				fmt.Fprintf(a.stdout, "Next: pivauth setup selfsign --slot %s --subject \"CN=...\"   (or setup csr for your CA)\n", slot)
			}
			return a.unattestedResult(id, rootsFile, unattested)
		},
	}
	cmd.Flags().StringVar(&alg, "algorithm", "rsa2048", "key `ALGORITHM`: rsa2048|rsa3072|rsa4096|rsa1024|eccp256|eccp384|ed25519|x25519")
	cmd.Flags().StringVar(&rootsFile, "attestation-roots", "", "verify the attestation against the CA certificates in `FILE` (PEM) instead of Yubico's roots")
	outputFileFlag(cmd, &pubOut, "also write the public key (PEM) to `FILE`", "public-key")
	cmd.Flags().BoolVar(&force, "force", false, "replace the key of a slot that holds one (or a certificate)")
	_ = cmd.RegisterFlagCompletionFunc("algorithm", cobra.FixedCompletions([]string{"rsa2048", "rsa3072", "rsa4096", "eccp256", "eccp384", "ed25519"}, cobra.ShellCompDirectiveNoFileComp))
	f.registerManagementKey(cmd)
	f.registerPolicies(cmd)
	setOutputFormats(cmd, "text", "json")
	return cmd
}

// confirmReplace refuses, with a usage error and before anything changes, to generate a key in a
// slot that holds a key or a certificate (or may: a card that cannot tell) unless force; with
// force it says what is destroyed.
func (a *app) confirmReplace(ctx context.Context, card *piv.Card, id piv.Identity, slot piv.Slot, force bool) error {
	sc, err := readSlot(ctx, card, id, slot)
	if err != nil || !sc.occupied() {
		return err
	}
	what := sc.describe(slot)
	if !force {
		return usageErrorf("slot %s of %s holds %s: a new key would replace the key for good (and its certificate would no longer match). "+
			"Nothing was changed; run again with --force to replace it", slot, id, what)
	}
	fmt.Fprintf(a.stderr, "Replacing the key of slot %s of %s (--force); it holds %s.\n", slot, id, what)
	return nil
}

// unattestedResult decides what an unverified attestation means (see piv.Identity): on a
// YubiKey, or when --attestation-roots asked for a verification, the key must be attested, and the
// command fails with ExitUnattested; on a card that only has Yubico's extensions the attestation
// is the card's extra, reported as a warning.
func (a *app) unattestedResult(id piv.Identity, rootsFile string, unattested *piv.AttestationError) error {
	switch {
	case unattested == nil:
		return nil
	case id.YubiKey || rootsFile != "":
		return withCode(ExitUnattested, unattested)
	}
	fmt.Fprintf(a.stderr, "warning: %v\n(%s is not a YubiKey by its answer to reset: pivauth reports its attestation but does not require it)\n",
		unattested, id)
	return nil
}

// loadRoots reads CA certificates from a PEM file; "" means nil (the library's default roots).
func loadRoots(file string) (*x509.CertPool, error) {
	if file == "" {
		return nil, nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, withCode(ExitUsage, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, usageErrorf("%s holds no PEM certificate", file)
	}
	return pool, nil
}

// describeNewKey builds the output of `setup key`; rootsFile is --attestation-roots ("" for
// Yubico's roots).
func describeNewKey(id piv.Identity, slot piv.Slot, alg piv.Algorithm, pub crypto.PublicKey, att *piv.Attestation, rootsFile string) (setupKeyJSON, error) {
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return setupKeyJSON{}, err
	}
	sum := sha256.Sum256(spki)
	out := setupKeyJSON{
		Reader: id.Reader, Card: id.String(), Slot: slot.String(), Algorithm: alg.String(),
		PublicKeySHA256: strings.ToUpper(hex.EncodeToString(sum[:])),
		PublicKeyPEM:    string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki})),
	}
	if att != nil {
		roots := "Yubico"
		if rootsFile != "" {
			roots = rootsFile
		}
		out.Attestation = &attestationJSON{
			Roots:  roots,
			Serial: att.Serial, Firmware: att.Version.String(),
			PINPolicy: att.PINPolicy.String(), TouchPolicy: att.TouchPolicy.String(),
			Certificate: describeCert(slot.String(), att.Certificate, time.Now()),
		}
	}
	return out, nil
}

func (a *app) writeNewKey(k setupKeyJSON) {
	fmt.Fprintf(a.stdout, "Generated a %s key in slot %s of %s.\n", k.Algorithm, k.Slot, k.Card)
	fmt.Fprintf(a.stdout, "  Public key SHA-256: %s\n", k.PublicKeySHA256)
	fmt.Fprintf(a.stdout, "  %s\n", strings.ReplaceAll(strings.TrimSpace(k.PublicKeyPEM), "\n", "\n  "))
	if at := k.Attestation; at != nil {
		maker := fmt.Sprintf("YubiKey serial %d (firmware %s)", at.Serial, at.Firmware)
		if at.Roots != "Yubico" {
			maker = fmt.Sprintf("the card with serial %d (version %s), attested under the CAs of %s", at.Serial, at.Firmware, at.Roots)
		}
		fmt.Fprintf(a.stdout, "Attestation verified: generated on %s, PIN policy %s, touch policy %s\n", maker, at.PINPolicy, at.TouchPolicy)
		fmt.Fprintf(a.stdout, "  Attestation certificate SHA-1:   %s\n  Attestation certificate SHA-256: %s\n", at.Certificate.SHA1, at.Certificate.SHA256)
	}
	if k.AttestationError != "" {
		fmt.Fprintf(a.stdout, "Attestation NOT verified: %s\n", k.AttestationError)
	}
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
