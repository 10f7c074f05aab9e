package audit

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/pivauth/pivauth/signer/purpose"
)

// Recorder receives one Event per private-key operation. Log is the file-backed implementation.
// Record must be safe for concurrent use.
type Recorder interface {
	Record(Event) error
}

// Classifier names the result class of an operation's error (ResultOK for nil). The card layer knows
// its error types (wrong PIN, blocked, removed); this package does not import it, so the caller that
// wraps a card signer passes a Classifier that tries those first and falls back to Classify.
type Classifier func(error) string

// Classify is the default Classifier: ok, canceled, timeout or error.
func Classify(err error) string {
	switch {
	case err == nil:
		return ResultOK
	case errors.Is(err, context.Canceled):
		return ResultCanceled
	case errors.Is(err, context.DeadlineExceeded):
		return ResultTimeout
	default:
		return ResultError
	}
}

// Key identifies the private key a Signer records operations for.
type Key struct {
	Card        string // "serial:<n>" or "guid:<hex>" (see Event.Card)
	CardName    string // "YubiKey 5.7.1 #96375739" (see Event.CardName)
	Reader      string // PC/SC reader name
	Slot        string // "9a"
	Certificate []byte // the certificate's DER (x509.Certificate.Raw), for the thumbprint; may be nil
}

// Signer records every signature of the signer it wraps. Create it with Wrap.
type Signer struct {
	s        crypto.Signer
	key      Key
	thumb    string
	rec      Recorder
	classify Classifier
}

// Wrap returns a Signer that performs its operations with s and records each one with rec. classify
// names error classes; nil means Classify.
func Wrap(s crypto.Signer, key Key, rec Recorder, classify Classifier) *Signer {
	if classify == nil {
		classify = Classify
	}
	w := &Signer{s: s, key: key, rec: rec, classify: classify}
	if key.Certificate != nil {
		sum := sha256.Sum256(key.Certificate)
		w.thumb = strings.ToUpper(hex.EncodeToString(sum[:]))
	}
	return w
}

// Public returns the public key of the wrapped signer.
func (w *Signer) Public() crypto.PublicKey { return w.s.Public() }

// Sign signs without a purpose; prefer SignContext (or Bind).
func (w *Signer) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return w.SignContext(context.Background(), rand, digest, opts)
}

// SignContext signs digest with the wrapped signer (passing ctx on when it is a ContextSigner) and
// records the operation with the purpose and requester carried by ctx. When the record cannot be
// written the signature is discarded and an error returned.
func (w *Signer) SignContext(ctx context.Context, rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	var sig []byte
	var err error
	if cs, ok := w.s.(purpose.ContextSigner); ok {
		sig, err = cs.SignContext(ctx, rand, digest, opts)
	} else {
		sig, err = w.s.Sign(rand, digest, opts)
	}
	op := OpSign
	if purpose.From(ctx).ServerName != "" {
		op = OpTLSHandshake
	}
	if rerr := w.record(ctx, op, err); rerr != nil {
		if err != nil {
			return nil, errors.Join(err, rerr)
		}
		return nil, fmt.Errorf("signature withheld: %w", rerr)
	}
	return sig, err
}

// record records an operation of the key with the purpose and requester carried by ctx.
func (w *Signer) record(ctx context.Context, op Operation, err error) error {
	ev := Event{
		Card:       w.key.Card,
		CardName:   w.key.CardName,
		Reader:     w.key.Reader,
		Slot:       w.key.Slot,
		CertSHA256: w.thumb,
		Operation:  op,
		Purpose:    purpose.From(ctx),
		Result:     w.classify(err),
	}
	if r, ok := RequesterFrom(ctx); ok {
		ev.Requester = &r
	}
	return w.rec.Record(ev)
}

// Decrypt decrypts without a purpose; prefer DecryptContext.
func (w *Signer) Decrypt(rand io.Reader, ciphertext []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	return w.DecryptContext(context.Background(), rand, ciphertext, opts)
}

// DecryptContext decrypts with the wrapped key (which must have a DecryptContext method, as the
// card signer has) and records the operation (OpDecrypt), refused ones included. When the record
// cannot be written the plaintext is wiped and an error returned.
func (w *Signer) DecryptContext(ctx context.Context, rand io.Reader, ciphertext []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	d, ok := w.s.(interface {
		DecryptContext(context.Context, io.Reader, []byte, crypto.DecrypterOpts) ([]byte, error)
	})
	if !ok {
		return nil, fmt.Errorf("audit: the %T key does not decrypt", w.s)
	}
	out, err := d.DecryptContext(ctx, rand, ciphertext, opts)
	return withheld(out, err, w.record(ctx, OpDecrypt, err), "plaintext")
}

// ECDH does key agreement without a purpose; prefer ECDHContext.
func (w *Signer) ECDH(peer *ecdh.PublicKey) ([]byte, error) {
	return w.ECDHContext(context.Background(), peer)
}

// ECDHContext does key agreement with the wrapped key (which must have an ECDHContext method, as
// the card signer has) and records the operation (OpECDH), refused ones included. When the record
// cannot be written the shared secret is wiped and an error returned.
func (w *Signer) ECDHContext(ctx context.Context, peer *ecdh.PublicKey) ([]byte, error) {
	k, ok := w.s.(interface {
		ECDHContext(context.Context, *ecdh.PublicKey) ([]byte, error)
	})
	if !ok {
		return nil, fmt.Errorf("audit: the %T key does not do key agreement", w.s)
	}
	out, err := k.ECDHContext(ctx, peer)
	return withheld(out, err, w.record(ctx, OpECDH, err), "shared secret")
}

// withheld returns out and err, unless the record failed (rerr): then out, a secret, is wiped.
func withheld(out []byte, err, rerr error, what string) ([]byte, error) {
	if rerr == nil {
		return out, err
	}
	clear(out)
	if err != nil {
		return nil, errors.Join(err, rerr)
	}
	return nil, fmt.Errorf("%s withheld: %w", what, rerr)
}
