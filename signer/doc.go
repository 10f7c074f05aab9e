// Package signer makes a key on a PIV card (a YubiKey or a government
// PIV/CAC card) a crypto.Signer, with its certificate and a tls.Certificate.
//
//	s, err := signer.Open(ctx, signer.Options{Slot: piv.SlotAuthentication})
//	...
//	defer s.Close()
//	sig, err := s.Sign(rand.Reader, digest, crypto.SHA256)
//
// # PIN
//
// The PIN comes from a PINSource: the terminal, pinentry, a file, the
// PIVAUTH_PIN variable, or a Chain of them (DefaultPINSource). It is asked
// once per session, held in protected memory (internal/pinbuf) and wiped on
// Close. The card is never left verified between operations: every
// operation on a PIN-protected key runs in one PC/SC transaction as VERIFY,
// GENERAL AUTHENTICATE, VERIFY P1=FF (clear; a card without it is selected
// again and checked, or reset), so no other program sharing pcscd can use
// the card on the strength of our PIN.
//
// Lockout guard: before a PIN is presented on a connection where the card
// has not accepted it yet (the session's first operation, or after the card
// was out of the reader or reset), the tries left are read in the same
// transaction as the VERIFY (empty VERIFY); with one try left the signer
// refuses (ErrLastPINTry) and drops the PIN. The prompt shows the tries read
// before it. Options.AllowLastPINTry turns the guard off, and with it those
// reads. On a new connection a PIN held for the session is presented only to
// the card that accepted it (YubiKey serial, CHUID GUID); another card with
// the same key gets its PIN asked for. A wrong PIN is a *PINError carrying the tries
// left; a blocked PIN wraps piv.ErrPINBlocked, whose Remedy says how to
// unblock it (errors with a remedy implement Remedy() string; see
// piv.RemedyError). The guard's messages name no command-line flag: the program
// built on the signer tells its users how to allow the last try (for
// pivauth, --allow-last-try), recognising ErrLastPINTry and a *PINError with
// one try left.
//
// PIN policy: a card with Yubico's extensions (a YubiKey, or a PIV applet
// that answers them under any ATR) can give a key any policy. Under a
// YubiKey's ATR (no APDU to know) the first operation goes without PIN and a
// 6982 answer teaches the signer, for the session, that the key needs it;
// under another ATR, Open asks GET VERSION (and GET METADATA when answered)
// for a slot whose SP 800-73-4 default is the PIN. A key with policy "never"
// thus never causes a prompt, and "once" and "always" keys both get the PIN
// typed once. Cards without the extensions follow SP 800-73-4: 9E needs no
// PIN, the other slots need it (a 6982 from 9E is learned the same way).
// Options.CardCache remembers the policy and the card's identity per slot
// certificate, so that later processes spend no APDU on either (CardCache).
//
// # Card changes
//
// Every signature is verified on the host against the key's public key
// before it is returned; one that does not verify is refused with
// ErrKeyChanged ("the card in READER is not the one this signer was opened
// on (public key changed)"). The card engine reconnects on its own after the
// card was out of the reader or reset, even between two operations where no
// call fails; it then reports a new connection (piv.Tx.Connection), and the
// signer reads the slot's certificate again (one GET DATA) and compares its
// key before the card gets the PIN or an operation. A different key is
// refused with ErrKeyChanged, and the PIN never reaches that card.
//
// A key without a certificate yet (just generated) opens with
// Options.PublicKey; Certificate is nil then. On a YubiKey the key's
// metadata (GET METADATA) stands in for the missing certificate in that
// check; a card that cannot show its key that way is refused.
//
// # APDUs
//
// Steady state, one operation: 1 APDU for a key without PIN (GENERAL
// AUTHENTICATE, as one extended APDU where the card takes them), 3 with the
// PIN. A session adds, once: SELECT and the certificate's GET DATA (Open),
// the empty VERIFY that reads the tries in the first PIN's transaction (not
// with AllowLastPINTry; one more before asking a source that prompts a
// person), and without a CardCache record the policy (above) and, for a PIN
// a person typed, the card's identity the PIN is bound to. A cold process
// with a PIN from a file and a CardCache record thus costs 6 APDUs (5 with
// AllowLastPINTry) on any card; the first one, 8. A reconnection costs the
// SELECT and the GET DATA of the check. BENCHMARKS.md at the root of the
// repository has the measured counts.
//
// X25519 keys (YubiKey 5.7) do ECDH, from the slot's certificate or, since
// Go's crypto/x509 cannot issue one for such a key, from Options.PublicKey.
package signer
