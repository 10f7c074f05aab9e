package signer

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/pivauth/pivauth/internal/pinbuf"
	"github.com/pivauth/pivauth/piv"
)

// Options choose the card, the key and how the PIN is obtained.
type Options struct {
	// Card picks the card; the zero value picks the only PIV card present.
	Card piv.Selector
	// Slot is the key to use; the zero value means piv.SlotAuthentication (9A).
	Slot piv.Slot
	// PIN supplies the PIN when the key needs one; nil means
	// DefaultPINSource(), created (and PIVAUTH_PIN read) by Open.
	PIN PINSource
	// AllowLastPINTry lets the signer present a PIN it has not yet seen the
	// card accept when the card has only one try left. Off, it refuses with
	// ErrLastPINTry instead of risking a blocked PIN. On, the tries left are
	// not read before the session's first PIN (one APDU less per process).
	AllowLastPINTry bool
	// Touch, when set, is called (from another goroutine) when an operation
	// on a YubiKey has been running for about a second: the key is most
	// likely waiting for a touch. Print "touch your YubiKey" there.
	Touch func()
	// Intermediates are certificates that Chain and TLSCertificate send after
	// the card's certificate, leaf first. PIV cards hold no chain, so a
	// caller that needs one (a TLS server that does not know the issuing CA)
	// supplies it from a file.
	Intermediates []*x509.Certificate
	// PublicKey is the public key of the slot's key, for a key that has no
	// certificate yet (one just generated, about to be certified: a CSR or a
	// self-signed certificate). Without it Open takes the key from the
	// slot's certificate and fails when there is none. With it, Open still
	// reads the slot's certificate, and keeps it only when it holds this key
	// (a certificate left from the slot's previous key is ignored):
	// Certificate returns nil otherwise. Every signature is checked against
	// PublicKey, as it would be against a certificate's key.
	PublicKey crypto.PublicKey
	// AllowDecryptOnAnySlot lets Decrypt and ECDH use the key of any slot. Off, they work on the
	// key management slot (9D) and the retired key management slots (82-95) only, and fail with
	// ErrNotKeyManagementSlot elsewhere: whether an RSA decryption succeeds tells its caller
	// whether the padding was valid, which is Bleichenbacher's oracle, and run on the 9A or 9C key
	// it lets the caller forge that key's signatures.
	AllowDecryptOnAnySlot bool
	// Trace, when set, sees every APDU the signer exchanges with the card, redacted as
	// piv.Card.SetTrace says (no PIN, no decrypted data).
	Trace func(cmd, resp []byte)
	// CardCache, when set, remembers per slot certificate the card's
	// identity and the key's PIN and touch policies, so that the next cold
	// process with the same certificate spends no APDU learning them (see
	// CardCache). nil learns them from the card every time.
	CardCache *CardCache
}

// touchDelay is how long an operation runs before Options.Touch is called.
// A YubiKey signs in well under a second unless it waits for a touch.
const touchDelay = time.Second

// Signer is a private key on a PIV card, with its certificate. It implements
// crypto.Signer for every key the card holds, crypto.Decrypter for RSA keys,
// and key agreement (ECDH) for EC keys.
//
// A Signer is safe for concurrent use: operations are serialized, each in
// one PC/SC transaction. Between operations the card is free for other
// programs and is never left PIN-verified: the PIN, held in protected memory
// for the session, is presented inside each operation's transaction and the
// card's PIN status is cleared (tx.ClearVerify) before the transaction ends.
type Signer struct {
	sem  chan struct{} // held for one operation; a channel so waiting honours ctx
	card *piv.Card
	opts Options
	slot piv.Slot
	alg  piv.Algorithm
	cert *x509.Certificate // nil when opened with Options.PublicKey on a slot without its certificate
	pub  crypto.PublicKey
	// cardName names the card in prompts when the selector did ("YubiKey
	// serial N"); empty otherwise, to spare the APDUs of identifying it.
	cardName string
	// label names the card as CardName does, once the PIN's transaction
	// identified it; guarded by sem.
	label string
	// yubiKey: the ATR says YubiKey (for names in prompts).
	yubiKey bool
	// perKeyPolicy: the key may have any PIN and touch policy, not its
	// slot's default: the card answered Yubico's GET METADATA (or the cache
	// says it did), or its ATR names a YubiKey.
	perKeyPolicy bool
	// touch is the key's touch policy, TouchPolicyDefault when not known.
	touch piv.TouchPolicy
	// record is what the signer knows about the card and the key, for
	// opts.CardCache; fromCache: it was loaded from there, and its identity
	// has not been read from the card since.
	record    CardRecord
	fromCache bool
	// identified: record's identity is the card's (read from it, or from
	// the cache); dirty: record has news for the cache.
	identified, dirty bool

	// The fields below are guarded by sem.
	need pinNeed
	pin  *pinbuf.Buffer // nil until a PIN is needed
	// pinConn is the connection on which the card accepted pin (0: not
	// yet). On it the PIN is presented again without reading the tries
	// left; on any other the tries are read in the VERIFY's transaction.
	pinConn uint64
	// pinCard identifies the card that accepted pin (cardKey); on a new
	// connection the PIN goes only to that card.
	pinCard string
	// pinRefused: the last PIN the source gave was refused; the next
	// request says so.
	pinRefused bool
	// conn is the card connection (piv.Tx.Connection) on which the card was
	// last seen to hold the key; 0 after a signature failed to verify. On
	// any other connection the card is checked (confirmCard) before it gets
	// the PIN or an operation: the engine reconnects silently after the card
	// was out of the reader, and another card may be there now.
	conn   uint64
	closed bool

	ops atomic.Int64 // private-key operations completed
}

// pinNeed is what the signer knows about the key's PIN policy.
type pinNeed uint8

const (
	// pinUnknown: a YubiKey key, whose policy can be anything. The first
	// operation goes without PIN; a 6982 answer teaches pinRequired.
	pinUnknown pinNeed = iota
	pinRequired
	pinNotRequired
)

// Open opens the card that opts.Card selects, reads the certificate of
// opts.Slot once, and returns a Signer for that key. A slot without a
// certificate is an error matching piv.ErrNotFound, unless Options.PublicKey
// gives the key. Open costs the SELECT of the PIV application and the GET
// DATA of the certificate; no PIN is asked until an operation needs one.
func Open(ctx context.Context, opts Options) (*Signer, error) {
	if opts.Slot == (piv.Slot{}) {
		opts.Slot = piv.SlotAuthentication
	}
	card, err := piv.Open(ctx, opts.Card)
	if err != nil {
		return nil, fmt.Errorf("signer: opening %s: %w", opts.Card, err)
	}
	card.SetTrace(opts.Trace)
	s, err := newSigner(ctx, card, opts)
	if err != nil {
		card.Close()
		return nil, err
	}
	return s, nil
}

func newSigner(ctx context.Context, card *piv.Card, opts Options) (*Signer, error) {
	var (
		cert   *x509.Certificate
		conn   uint64
		record CardRecord
		cached bool
		meta   *piv.Metadata
	)
	atrYubiKey := card.ATRSaysYubiKey()
	err := card.Transaction(ctx, func(tx *piv.Tx) (err error) {
		conn = tx.Connection()
		cert, err = tx.Certificate(opts.Slot)
		if errors.Is(err, piv.ErrNotFound) && opts.PublicKey == nil || err != nil && !errors.Is(err, piv.ErrNotFound) {
			return err
		}
		if cert != nil && opts.CardCache != nil {
			if record, cached = opts.CardCache.Load(cert.Raw, opts.Slot); cached {
				return err
			}
		}
		if !atrYubiKey && piv.DefaultPINPolicy(opts.Slot) != piv.PINPolicyNever {
			// Whether the key needs the PIN, in the same transaction: GET
			// VERSION (and GET METADATA when answered). A card with
			// Yubico's extensions under any ATR (a Java Card applet) may
			// hold a key that needs none; on a card without them (6D00)
			// the slot's default holds, and GET VERSION's answer spares
			// the identification its own.
			// Where the first operation goes without PIN anyway (a
			// YubiKey's ATR, a slot whose default is "never") a 6982
			// teaches the PIN at the same cost, and the signature of a key
			// that needs none costs nothing more (do).
			m, err := tx.Metadata(opts.Slot.Key)
			switch {
			case err == nil:
				meta = m
			case errors.Is(err, piv.ErrCardRemoved):
				return err
			}
			// Otherwise (no extensions, firmware before 5.3, an answer the
			// card does not give) there is no policy to learn: the slot's
			// default holds.
		}
		if cert == nil {
			return piv.ErrNotFound
		}
		return nil
	})
	pub := opts.PublicKey
	switch {
	case errors.Is(err, piv.ErrNotFound) && pub != nil:
	case errors.Is(err, piv.ErrNotFound):
		return nil, &NoCertificateError{Reader: card.Reader(), Slot: opts.Slot}
	case err != nil:
		return nil, fmt.Errorf("signer: reading the certificate of slot %s: %w", opts.Slot, err)
	case pub == nil:
		pub = cert.PublicKey
	case !publicKeyEqual(cert.PublicKey, pub):
		cert = nil // the certificate of a key the slot held before
	}
	alg, err := piv.AlgorithmOf(pub)
	if err != nil {
		return nil, fmt.Errorf("signer: the key in slot %s: %w", opts.Slot, err)
	}
	if opts.PIN == nil {
		opts.PIN = DefaultPINSource()
	}
	s := &Signer{
		sem:        make(chan struct{}, 1),
		card:       card,
		opts:       opts,
		slot:       opts.Slot,
		alg:        alg,
		cert:       cert,
		pub:        pub,
		yubiKey:    atrYubiKey,
		conn:       conn,
		record:     record,
		fromCache:  cached,
		identified: cached,
		dirty:      !cached,
	}
	switch {
	case opts.Card.Serial != 0 && s.yubiKey:
		s.cardName = fmt.Sprintf("YubiKey serial %d", opts.Card.Serial)
	case opts.Card.Serial != 0:
		// Yubico's serial, answered by a card whose ATR names no YubiKey (piv.Identity).
		s.cardName = fmt.Sprintf("card serial %d", opts.Card.Serial)
	case opts.Card.GUID != "":
		s.cardName = "PIV card GUID " + opts.Card.GUID
	}
	if meta != nil {
		s.record.YubicoExtensions = true
		s.record.PINPolicy, s.record.TouchPolicy = meta.PINPolicy, meta.TouchPolicy
	}
	s.perKeyPolicy = atrYubiKey || s.record.YubicoExtensions
	s.touch = s.record.TouchPolicy
	s.need = s.pinNeed()
	return s, nil
}

// pinNeed is what the signer knows at open about the key's need for the
// PIN: its PIN policy (from GET METADATA or the cache), else on a card with
// per-key policies nothing (the first operation learns it), else the slot's
// SP 800-73-4 default.
func (s *Signer) pinNeed() pinNeed {
	policy := s.record.PINPolicy
	switch {
	case policy == piv.PINPolicyNever:
		return pinNotRequired
	case policy != piv.PINPolicyDefault:
		return pinRequired
	case s.perKeyPolicy:
		return pinUnknown
	case piv.DefaultPINPolicy(s.slot) == piv.PINPolicyNever:
		return pinNotRequired
	}
	return pinRequired
}

// Public returns the key's public key: the certificate's, or
// Options.PublicKey.
func (s *Signer) Public() crypto.PublicKey { return s.pub }

// Certificate returns the certificate read from the card's slot, or nil when
// the signer was opened with Options.PublicKey and the slot holds no
// certificate for that key.
func (s *Signer) Certificate() *x509.Certificate { return s.cert }

// Chain returns the certificate followed by Options.Intermediates. A PIV
// card holds no issuing certificates, so without Intermediates it is the
// certificate alone. Without a certificate (see Certificate) it is nil.
func (s *Signer) Chain() []*x509.Certificate {
	if s.cert == nil {
		return nil
	}
	return append([]*x509.Certificate{s.cert}, s.opts.Intermediates...)
}

// Reader returns the name of the card's reader.
func (s *Signer) Reader() string { return s.card.Reader() }

// Identity returns the identity of the signer's card, read from the card on
// the signer's own connection: the first call probes the card (one APDU, GET
// SERIAL, on a card that answered Yubico's GET METADATA; else 2 or 3, see
// piv.Tx.QuickIdentity; one transaction, no SELECT of its own), later calls
// answer from the engine's cache. On a connection the signer has not seen
// the card on (it was out of the reader, or reset) the card is first checked
// to hold the signer's key, as before an operation, so the identity is never
// another card's: that is ErrKeyChanged. The identity is stored in
// Options.CardCache.
func (s *Signer) Identity(ctx context.Context) (piv.Identity, error) {
	if err := s.lock(ctx); err != nil {
		return piv.Identity{}, err
	}
	defer s.unlock()
	return s.readIdentity(ctx)
}

// CardIdentity names the signer's card for a record (the audit log) at the
// least cost: the identity read from the card on this signer's connection
// when it has been, else the one Options.CardCache holds for the slot's
// certificate, without an APDU (cached is then true: the card was not asked,
// and a card with a copy of the certificate would be named the same), else
// what Identity reads.
func (s *Signer) CardIdentity(ctx context.Context) (id piv.Identity, cached bool, err error) {
	if err := s.lock(ctx); err != nil {
		return piv.Identity{}, false, err
	}
	defer s.unlock()
	if s.fromCache {
		return s.record.identity(s.card.Reader(), s.card.ATR(), s.yubiKey), true, nil
	}
	id, err = s.readIdentity(ctx)
	return id, false, err
}

// readIdentity is Identity with the signer held.
func (s *Signer) readIdentity(ctx context.Context) (piv.Identity, error) {
	var id piv.Identity
	err := s.card.Transaction(ctx, func(tx *piv.Tx) (err error) {
		if err := s.confirmCard(tx); err != nil {
			return err
		}
		id, err = tx.QuickIdentity()
		return err
	})
	if err != nil {
		return piv.Identity{}, fmt.Errorf("signer: identifying the card in %q: %w", s.card.Reader(), err)
	}
	s.learnIdentity(id)
	return id, nil
}

// learnIdentity takes the identity read from the card into the record, and
// writes the record to the cache when the key's PIN need is known and the
// cache did not already say so.
func (s *Signer) learnIdentity(id piv.Identity) {
	r := s.record.withIdentity(id)
	if s.fromCache && s.record.sameCard(r) && s.record.Version != "" {
		r.Version = s.record.Version // QuickIdentity does not read it
	}
	changed := !s.identified || !s.record.sameCard(r)
	s.record, s.identified, s.fromCache = r, true, false
	if changed {
		s.dirty = true
	}
	s.saveRecord()
}

// learnPINPolicy records what an operation taught about the key's PIN
// policy (policy is PINPolicyNever or, after a 6982, PINPolicyOnce: the
// signer presents the PIN in every operation either way).
func (s *Signer) learnPINPolicy(policy piv.PINPolicy) {
	if s.record.PINPolicy == policy {
		return
	}
	if s.fromCache {
		// The cache was wrong about the key: the card's identity is asked
		// again too (CardIdentity) before the record is rewritten.
		s.fromCache, s.identified = false, false
	}
	s.record.PINPolicy, s.dirty = policy, true
	s.saveRecord()
}

// saveRecord writes the record to Options.CardCache when it changed and
// holds both the card's identity and the key's PIN need. A failed write
// costs the next process APDUs, nothing else: it is not an error.
func (s *Signer) saveRecord() {
	if s.opts.CardCache == nil || s.cert == nil || !s.dirty || !s.identified || s.need == pinUnknown {
		return
	}
	if s.opts.CardCache.Store(s.cert.Raw, s.slot, s.record) == nil {
		s.dirty = false
	}
}

// Slot returns the slot of the key.
func (s *Signer) Slot() piv.Slot { return s.slot }

// Algorithm returns the algorithm of the key.
func (s *Signer) Algorithm() piv.Algorithm { return s.alg }

// Operations returns the number of private-key operations the card has
// completed for this signer.
func (s *Signer) Operations() int64 { return s.ops.Load() }

// Close wipes the PIN and releases the card. It waits for an operation in
// progress. Close is idempotent.
func (s *Signer) Close() error {
	s.sem <- struct{}{}
	defer func() { <-s.sem }()
	if s.closed {
		return nil
	}
	s.closed = true
	s.dropPIN()
	return s.card.Close()
}

// dropPIN wipes the PIN held for the session.
func (s *Signer) dropPIN() {
	if s.pin != nil {
		s.pin.Close()
		s.pin = nil
	}
	s.pinConn, s.pinCard = 0, ""
}
