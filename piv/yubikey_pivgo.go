//go:build cgo || windows

package piv

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"

	pivgo "github.com/go-piv/piv-go/v2/piv"

	"github.com/pivauth/pivauth/internal/pcsc"
)

// YubiKey management (import, retries, reset) goes through
// piv-go; key generation goes through our engine and only the attestation's
// verification through piv-go's verifier. piv-go connects exclusively and holds
// a transaction for the life of its handle, so the card is lent to it for
// one command: our shared connection is released, piv-go opens the card by
// our reader's name, runs the command and is closed, and our next
// transaction reconnects and selects PIV again.
//
// piv-go leaves the card as its command left it (it disconnects with
// SCARD_LEAVE_CARD): authenticated with the management key, the PIN verified
// (SetRetries). So the card is closed before piv-go lets it go (endAuthority),
// and reset when that cannot be shown to have worked.

// withYubiKey lends the card to piv-go for fn.
func (c *Card) withYubiKey(ctx context.Context, what string, fn func(yk *pivgo.YubiKey) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errors.New("piv: card is closed")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	c.drop()
	yk, err := pivgo.Open(c.reader)
	if err != nil {
		return fmt.Errorf("piv: reader %q: %s: %w", c.reader, what, pivgoError(err))
	}
	err = fn(yk)
	ended := endAuthority(yk)
	yk.Close()
	if !ended {
		slog.Debug("piv: resetting the card after piv-go, so that no other program finds it authenticated", "reader", c.reader, "why", "selecting another application of the card failed")
		if rerr := c.resetCard(); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}
	if err != nil {
		return fmt.Errorf("piv: reader %q: %s: %w", c.reader, what, pivgoError(err))
	}
	return nil
}

// endAuthority ends the PIV application's security status (PIN, management
// key) while piv-go still holds the card exclusively, so that no other
// application can come between: it selects the YubiKey's management
// application, which deselects PIV (a YubiKey loses the PIV state to
// another application, OpenSC's CI_OTHER_AID_LOSE_STATE), then PIV again.
// piv-go's FormFactor is the one call of its API that does this. It reports
// whether it worked; a card without that application (a Yubico-compatible
// applet) is reset instead.
func endAuthority(yk *pivgo.YubiKey) bool {
	_, err := yk.FormFactor()
	return err == nil
}

// resetCard resets the card (SCARD_RESET_CARD), from a connection of its own
// (used while the engine's connection is dropped).
func (c *Card) resetCard() error {
	if err := c.connect(); err != nil {
		return err
	}
	err := c.h.Disconnect(pcsc.ResetCard)
	c.h, c.selected = nil, false
	if err != nil && !isRemoval(err) {
		return fmt.Errorf("piv: reader %q: resetting the card to end its security status (it may be left authenticated: remove it): %w", c.reader, err)
	}
	return nil
}

// pivgoError maps piv-go's errors onto ours, keeping its message.
func pivgoError(err error) error {
	var ae pivgo.AuthErr
	if errors.As(err, &ae) {
		return fmt.Errorf("%w (%v)", AuthError{Retries: ae.Retries}, err)
	}
	var sw interface{ Status() uint16 }
	if errors.As(err, &sw) {
		switch sw.Status() {
		case 0x6D00:
			return fmt.Errorf("%w (%v)", ErrNotYubiKey, err)
		case 0x6982:
			return fmt.Errorf("%w (%v)", ErrSecurityStatus, err)
		}
	}
	if errors.Is(err, pivgo.ErrNotFound) {
		return fmt.Errorf("%w (%v)", ErrNotFound, err)
	}
	return err
}

var pivgoAlgorithms = map[Algorithm]pivgo.Algorithm{
	AlgRSA1024: pivgo.AlgorithmRSA1024, AlgRSA2048: pivgo.AlgorithmRSA2048,
	AlgRSA3072: pivgo.AlgorithmRSA3072, AlgRSA4096: pivgo.AlgorithmRSA4096,
	AlgECCP256: pivgo.AlgorithmEC256, AlgECCP384: pivgo.AlgorithmEC384,
	AlgEd25519: pivgo.AlgorithmEd25519, AlgX25519: pivgo.AlgorithmX25519,
}

// pivgoKey converts options for a slot; piv-go's policy numbering is the
// YubiKey's, like ours.
func (o KeyOptions) pivgoKey(slot Slot) pivgo.Key {
	pin, touch := o.PINPolicy, o.TouchPolicy
	if pin == PINPolicyDefault {
		pin = DefaultPINPolicy(slot)
	}
	if touch == TouchPolicyDefault {
		touch = TouchPolicyNever
	}
	return pivgo.Key{Algorithm: pivgoAlgorithms[o.Algorithm], PINPolicy: pivgo.PINPolicy(pin), TouchPolicy: pivgo.TouchPolicy(touch)}
}

func pivgoSlot(s Slot) pivgo.Slot { return pivgo.Slot{Key: uint32(s.Key), Object: s.Object} }

// VerifyAttestation checks that slotCert chains through the card's
// attestation certificate to roots (Yubico's attestation CAs when roots is
// nil; the bench's attestation CA for the virtual card) and returns what it
// attests.
func VerifyAttestation(intermediate, slotCert *x509.Certificate, roots *x509.CertPool) (*Attestation, error) {
	v := pivgo.Verifier{Roots: roots}
	a, err := v.Verify(intermediate, slotCert)
	if err != nil {
		return nil, fmt.Errorf("piv: attestation: %w", err)
	}
	slot, _ := SlotByKey(byte(a.Slot.Key))
	return &Attestation{
		Serial: a.Serial, Version: Version{a.Version.Major, a.Version.Minor, a.Version.Patch},
		PINPolicy: PINPolicy(a.PINPolicy), TouchPolicy: TouchPolicy(a.TouchPolicy), Slot: slot,
		Certificate: slotCert, Intermediate: intermediate,
	}, nil
}

// GenerateKey generates a key in slot of a card with Yubico's extensions,
// with the chosen algorithm and policies, has the card attest it and
// verifies the attestation against roots (see VerifyAttestation): it must
// vouch for the very key generated, in this slot, with these policies.
//
// An algorithm the card does not have is an *UnsupportedAlgorithmError,
// returned before anything changed: from a YubiKey's firmware version
// where that tells, else from the card's refusal of GENERATE. Once the key
// is generated GenerateKey always returns its public key; if the
// attestation then fails the error is an *AttestationError (the key stays
// in the slot, unattested).
func (c *Card) GenerateKey(ctx context.Context, managementKey []byte, slot Slot, opts KeyOptions, roots *x509.CertPool) (crypto.PublicKey, *Attestation, error) {
	key := opts.pivgoKey(slot)
	if key.Algorithm == 0 {
		return nil, nil, fmt.Errorf("piv: %s keys cannot be generated", opts.Algorithm)
	}
	id, err := c.Identity(ctx)
	if err != nil {
		return nil, nil, err
	}
	if err := checkAlgorithm(id, opts.Algorithm); err != nil {
		return nil, nil, err
	}
	// Our engine generates (shared connection, the card's APDU framing), with
	// the policies resolved as the attestation will state them.
	pin, touch := PINPolicy(key.PINPolicy), TouchPolicy(key.TouchPolicy)
	var pub crypto.PublicKey
	err = c.manage(ctx, managementKey, func(tx *Tx) (err error) {
		pub, err = tx.GenerateKey(slot, opts.Algorithm, pin, touch)
		return err
	})
	var se *StatusError
	switch {
	case err != nil && pub != nil:
		// Generated, then the transaction's end (the re-SELECT) failed:
		// the key is in the slot all the same, and was not attested.
		return pub, nil, &AttestationError{Slot: slot, Err: fmt.Errorf("piv: not attested: %w", err)}
	case errors.As(err, &se) && se.Ins == insGenerateKeyPair && (se.SW == 0x6A80 || se.SW == 0x6A86):
		// 6A80: the algorithm in the command data is not one the card
		// has (YubiKeys, PivApplet); 6A86 where it is read as a
		// parameter.
		return nil, nil, &UnsupportedAlgorithmError{Algorithm: opts.Algorithm, Card: id.String(),
			Reason: fmt.Sprintf("GENERATE answered %04X", se.SW)}
	case errors.As(err, &se) && se.Ins == insGenerateKeyPair && se.SW == 0x6A81:
		// Function not supported: a policy the card does not have (PivApplet has no touch).
		return nil, nil, fmt.Errorf("piv: %s does not support PIN policy %s with touch policy %s (GENERATE answered 6A81, "+
			"function not supported); nothing on the card was changed", id, pin, touch)
	case err != nil:
		return nil, nil, err
	}
	att, err := c.attestGenerated(ctx, slot, pub, pin, touch, roots)
	if err != nil {
		return pub, nil, &AttestationError{Slot: slot, Err: err}
	}
	return pub, att, nil
}

// attestGenerated asks the card to attest the key just generated in slot,
// reads its attestation certificate (slot F9) and verifies both.
func (c *Card) attestGenerated(ctx context.Context, slot Slot, pub crypto.PublicKey, pin PINPolicy, touch TouchPolicy, roots *x509.CertPool) (*Attestation, error) {
	var slotCert, intermediate *x509.Certificate
	err := c.Transaction(ctx, func(tx *Tx) (err error) {
		if slotCert, err = tx.Attest(slot); err != nil {
			return err
		}
		if intermediate, err = tx.Certificate(SlotAttestation); err != nil {
			return fmt.Errorf("piv: the card's attestation certificate: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	att, err := VerifyAttestation(intermediate, slotCert, roots)
	if err != nil {
		return nil, err
	}
	same, ok := slotCert.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	switch {
	case !ok || !same.Equal(pub):
		return nil, errors.New("piv: the attestation vouches for another key than the one generated")
	case att.Slot != slot:
		return nil, fmt.Errorf("piv: the attestation names slot %s, the key was generated in %s", att.Slot, slot)
	case att.PINPolicy != pin || att.TouchPolicy != touch:
		return nil, fmt.Errorf("piv: the attestation says PIN policy %s and touch policy %s, not the ones asked for", att.PINPolicy, att.TouchPolicy)
	}
	return att, nil
}

// ImportKey puts a private key (RSA, ECDSA, Ed25519 or X25519) and,
// unless cert is nil, its certificate into a slot of a YubiKey. An imported
// key cannot be attested.
func (c *Card) ImportKey(ctx context.Context, managementKey []byte, slot Slot, priv crypto.PrivateKey, cert *x509.Certificate, opts KeyOptions) error {
	signer, ok := priv.(interface{ Public() crypto.PublicKey })
	if !ok {
		return fmt.Errorf("piv: private key of type %T has no public key", priv)
	}
	if cert != nil {
		if same, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !same.Equal(signer.Public()) {
			return errors.New("piv: the certificate is not for this private key")
		}
	}
	key := opts.pivgoKey(slot)
	return c.withYubiKey(ctx, "importing a key", func(yk *pivgo.YubiKey) error {
		if err := yk.SetPrivateKeyInsecure(managementKey, pivgoSlot(slot), priv, key); err != nil {
			return err
		}
		if cert == nil {
			return nil
		}
		return yk.SetCertificate(managementKey, pivgoSlot(slot), cert)
	})
}

// SetRetries sets how many wrong PINs and PUKs the YubiKey allows (1-255).
// The YubiKey resets the PIN and PUK to their factory values (123456,
// 12345678) when it does this: change them afterwards. guard, unless nil, is
// given the PIN's tries left, read in the same exclusive session just before
// the PIN is presented, and refuses with an error (the caller's lockout
// guard): nothing is sent then.
func (c *Card) SetRetries(ctx context.Context, managementKey, pin []byte, pinRetries, pukRetries int, guard func(retries int) error) error {
	return c.withYubiKey(ctx, "setting the PIN and PUK retries", func(yk *pivgo.YubiKey) error {
		if guard != nil {
			n, err := yk.Retries()
			if err != nil {
				return err
			}
			if err := guard(n); err != nil {
				return err
			}
		}
		return yk.SetRetries(managementKey, string(pin), pinRetries, pukRetries)
	})
}

// Reset returns the YubiKey's PIV application to its factory state: every
// key and certificate is erased, and the PIN, PUK and management key get
// their default values. piv-go first blocks the PIN and PUK with random
// values, as the YubiKey requires.
func (c *Card) Reset(ctx context.Context) error {
	return c.withYubiKey(ctx, "resetting the PIV application", func(yk *pivgo.YubiKey) error {
		return yk.Reset()
	})
}
