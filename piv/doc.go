// Package piv talks to PIV smart cards (NIST SP 800-73-4) through PC/SC:
// YubiKeys and government PIV/CAC cards alike.
//
// Every card goes through one engine on github.com/ebfe/scard:
//
//   - Open picks a card (Selector: reader, YubiKey serial or CHUID GUID),
//     connects in shared mode (T=0 or T=1) and selects the PIV application
//     once. WaitForCard waits for one to be inserted; Cards and Readers list.
//   - Each operation is one PC/SC transaction (Card.Transaction, ended with
//     SCARD_LEAVE_CARD); the card is never held exclusively between
//     operations. A card reset by another application is reconnected and
//     selected again; a card another application switched to a different
//     applet is selected again when the first command of a transaction is
//     answered as if PIV were not selected; a card pulled out is
//     ErrCardRemoved naming the reader, and is reconnected when it returns.
//     These reconnections are silent, so Tx.Connection tells a caller that
//     one happened (another card may be in the reader now) and what it knew
//     about the card needs checking again.
//   - Commands that do not fit a short APDU go as one extended APDU when the
//     card's ATR announces extended lengths (or, when the ATR is silent, the
//     first try is not refused with 6700); otherwise they are chained (CLA
//     0x10) and long answers fetched with GET RESPONSE. So a signature with
//     a key that needs no PIN is one APDU, with a PIN three (VERIFY, GENERAL
//     AUTHENTICATE, VERIFY P1=FF to clear the PIN).
//   - Data objects: certificates (plain or gzip), CHUID with a decoded
//     FASC-N, the discovery object and the key history object, parsed by
//     fuzzed parsers in their own files.
//   - YubiKey extensions (GET VERSION, GET SERIAL, GET METADATA, ATTEST) are
//     probed once per connection and only when asked for; other cards are
//     ErrNotYubiKey without another APDU.
//   - Certificates are written and deleted by the engine on every card
//     (Card.PutCertificate, Card.DeleteCertificate, Card.DeleteSlot) and the
//     management key (Card.SetManagementKey, optionally stored under the PIN
//     as ykman does: Card.ReadProtectedManagementKey): management-key
//     authentication (Tx.Authenticate, which finds the key's type in the
//     YubiKey metadata or by trying 3DES, then AES) and PUT DATA in one
//     transaction. DefaultManagementKey is the factory key.
//   - YubiKey management (GenerateKey with a verified attestation,
//     ImportKey, SetRetries, Reset) is lent to
//     github.com/go-piv/piv-go for one command, since piv-go holds the card
//     exclusively. PIN change and unblock use the engine, so they work on
//     every card.
//
// Errors: AuthError (wrong PIN or PUK, with the tries left), ErrPINBlocked,
// ErrPUKBlocked, ErrNotFound, ErrSecurityStatus, ErrCardRemoved,
// ErrNotYubiKey, ErrNotPIV (a present card whose SELECT failed; the
// *NotPIVError names the reader and status word), ErrNoCard (no card at
// all), *AmbiguousError (several cards match), ErrManagementKey, ErrNoService (pcscd not running), ErrNoPCSC, and
// *StatusError for any other status word.
//
// Platforms: scard and piv-go reach pcsc-lite through cgo on Linux, macOS
// and the BSDs, and WinSCard without cgo on Windows. Built without cgo
// elsewhere, the package still compiles (scard is reached only through
// internal/pcsc, piv-go only from yubikey_pivgo.go), and every card
// operation fails at once with ErrNoPCSC, which says how to rebuild.
//
// A trace hook (Card.SetTrace) sees every APDU for --verbose logs; PINs,
// PUKs, imported keys and decrypted secrets are redacted before it does.
//
// Notes against the team contract: RetiredSlot returns (Slot, bool);
// AuthError has a PUK field besides Retries; Tx.PINRetries returns -1 when
// the PIN is verified right now (the card gives no count then; Tx.PINStatus
// says so explicitly); PIN change and unblock go through the engine rather
// than piv-go, so they work on every card and take the PIN as []byte.
package piv
