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

	"github.com/pivauth/pivauth/piv"
	"github.com/pivauth/pivauth/signer"
)

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
