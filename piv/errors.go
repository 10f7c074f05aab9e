package piv

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pivauth/pivauth/internal/pcsc"
)

// AuthError reports a wrong PIN (or PUK): the card refused the reference data
// and has Retries tries left before it blocks it.
type AuthError struct {
	// Retries is the number of tries left; 0 means the PIN (PUK) is now blocked.
	Retries int
	// PUK is true when the PUK, not the PIN, was wrong.
	PUK bool
}

// Error says what was wrong and how many tries are left, e.g. "PIN
// incorrect: 2 tries left".
func (e AuthError) Error() string {
	what := "PIN"
	if e.PUK {
		what = "PUK"
	}
	switch e.Retries {
	case 0:
		return what + " incorrect: no tries left: " + what + " blocked"
	case 1:
		return what + " incorrect: 1 try left"
	default:
		return fmt.Sprintf("%s incorrect: %d tries left", what, e.Retries)
	}
}

// Remedy says what to do once the PIN (PUK) is blocked, or "" while tries
// are left.
func (e AuthError) Remedy() string {
	switch {
	case e.Retries != 0:
		return ""
	case e.PUK:
		return ErrPUKBlocked.Remedy()
	}
	return ErrPINBlocked.Remedy()
}

// Is makes an AuthError with no tries left match ErrPINBlocked (or
// ErrPUKBlocked), so callers need one check for "blocked", however the card
// said it.
func (e AuthError) Is(target error) bool {
	if e.Retries != 0 {
		return false
	}
	if e.PUK {
		return target == ErrPUKBlocked
	}
	return target == ErrPINBlocked
}

// RemedyError is an error that knows what a person can do about it. The
// errors of piv, signer and flows that have a remedy implement Remedy (test
// with errors.As against an interface{ Remedy() string }); the remedy is in
// plain words that name no program, so that a command line can print it on
// a line of its own, or word it as one of its own commands. Error does not
// repeat it.
type RemedyError struct {
	msg, remedy string
}

// Error says what happened.
func (e *RemedyError) Error() string { return e.msg }

// Remedy says what to do about it.
func (e *RemedyError) Remedy() string { return e.remedy }

var (
	// ErrPINBlocked reports a PIN blocked after too many wrong tries (SW 6983).
	ErrPINBlocked = &RemedyError{"PIN blocked", "unblock it with the PUK (and set a new PIN)"}
	// ErrPUKBlocked reports a PUK blocked after too many wrong tries. Only a
	// reset of the PIV application (which erases every key on it) makes the
	// card usable again.
	ErrPUKBlocked = &RemedyError{"PUK blocked: the PIN can no longer be unblocked",
		"only a reset of the PIV application (erasing its keys and certificates) recovers the card"}
	// ErrNotFound reports a data object or key the card does not hold
	// (SW 6A82 or 6A88).
	ErrNotFound = errors.New("not found on the card")
	// ErrSecurityStatus reports an operation the card refused because the
	// PIN or the management key was not verified first (SW 6982).
	ErrSecurityStatus = errors.New("security status not satisfied: verify the PIN (or authenticate with the management key) first")
	// ErrCardRemoved reports a card taken out of its reader. Errors wrapping
	// it name the reader.
	ErrCardRemoved = errors.New("card removed")
	// ErrNotPIV reports a card that does not answer as a PIV card: SELECT of
	// the PIV application failed (*NotPIVError says with which status word).
	ErrNotPIV = errors.New("the card does not answer as a PIV card")
	// ErrNoCard reports that no card matched the selector.
	ErrNoCard = errors.New("no matching smart card found")
	// ErrNotYubiKey reports a Yubico extension asked of a card that does not
	// implement it (SW 6D00 to GET VERSION).
	ErrNotYubiKey = errors.New("not a YubiKey: the card does not implement the Yubico PIV extensions")
	// ErrManagementKey reports a management key the card rejected.
	ErrManagementKey = errors.New("management key incorrect")
	// ErrNoPCSC reports a build without cgo on a system whose PC/SC library
	// needs it (every one but Windows): every card operation fails with it at
	// once, and its message says how to rebuild.
	ErrNoPCSC = pcsc.ErrUnavailable
	// ErrNoService reports that the PC/SC service (pcscd; on Windows the
	// Smart Card service) is not running or stopped while in use, so no
	// reader can be reached. Errors wrapping it wrap the PC/SC error too.
	ErrNoService = errors.New("the PC/SC service is not running: start it (systemctl start pcscd.socket, or pcscd; on Windows the Smart Card service)")
)

// AmbiguousError reports a selector that more than one PIV card matches:
// Open does not guess. Cards identifies each match (a card that could not be
// identified has only its Reader and ATR set), so that a caller can offer a
// choice or say what picks each one.
type AmbiguousError struct {
	// Selector is what was asked for.
	Selector Selector
	// Cards are the matching cards, in the order PC/SC lists their readers.
	Cards []Identity
}

// Error names the readers of the matching cards.
func (e *AmbiguousError) Error() string {
	names := make([]string, len(e.Cards))
	for i, id := range e.Cards {
		names[i] = fmt.Sprintf("%q", id.Reader)
	}
	return fmt.Sprintf("piv: %d cards match %s (%s): choose one by reader, YubiKey serial or CHUID GUID",
		len(e.Cards), e.Selector, strings.Join(names, ", "))
}

// removedError names the reader whose card went away; it wraps ErrCardRemoved.
func removedError(reader string) error {
	return fmt.Errorf("reader %q: %w: insert the card again and retry", reader, ErrCardRemoved)
}

// StatusError is a status word other than 9000 that the card answered to a
// command. It unwraps to ErrNotFound (6A82, 6A88) or ErrSecurityStatus (6982)
// where one applies.
type StatusError struct {
	// Ins is the instruction byte of the command.
	Ins byte
	// SW is the status word, SW1 in the high byte.
	SW uint16
}

// Error names the command and the status word with its ISO 7816 meaning.
func (e *StatusError) Error() string {
	msg := fmt.Sprintf("piv: %s: card answered %04X", insName(e.Ins), e.SW)
	if d := swText(e.SW); d != "" {
		msg += " (" + d + ")"
	}
	return msg
}

// Unwrap maps the status words with a sentinel error to it.
func (e *StatusError) Unwrap() error {
	switch e.SW {
	case 0x6A82, 0x6A88:
		return ErrNotFound
	case 0x6982:
		return ErrSecurityStatus
	}
	return nil
}

func swText(sw uint16) string {
	switch {
	case sw&0xFFF0 == 0x63C0:
		return fmt.Sprintf("verification failed, %d tries left", sw&0x0F)
	case sw&0xFF00 == 0x6C00:
		return "wrong Le"
	}
	switch sw {
	case 0x6700:
		return "wrong length"
	case 0x6881:
		return "logical channel not supported"
	case 0x6882:
		return "secure messaging not supported"
	case 0x6884:
		return "command chaining not supported"
	case 0x6982:
		return "security status not satisfied"
	case 0x6983:
		return "authentication method blocked"
	case 0x6984:
		return "reference data not usable"
	case 0x6985:
		return "conditions of use not satisfied"
	case 0x6986:
		return "command not allowed"
	case 0x6A80:
		return "incorrect data"
	case 0x6A81:
		return "function not supported"
	case 0x6A82:
		return "file or application not found"
	case 0x6A84:
		return "not enough memory"
	case 0x6A86:
		return "incorrect P1 or P2"
	case 0x6A88:
		return "referenced data not found"
	case 0x6B00:
		return "wrong parameters"
	case 0x6D00:
		return "instruction not supported"
	case 0x6E00:
		return "class not supported"
	case 0x6F00:
		return "no precise diagnosis"
	}
	return ""
}

func insName(ins byte) string {
	switch ins {
	case insSelect:
		return "SELECT"
	case insGetData:
		return "GET DATA"
	case insPutData:
		return "PUT DATA"
	case insVerify:
		return "VERIFY"
	case insChangeReference:
		return "CHANGE REFERENCE DATA"
	case insResetRetry:
		return "RESET RETRY COUNTER"
	case insGeneralAuthenticate:
		return "GENERAL AUTHENTICATE"
	case insGenerateKeyPair:
		return "GENERATE ASYMMETRIC KEY PAIR"
	case insGetResponse:
		return "GET RESPONSE"
	case insYKGetVersion:
		return "GET VERSION"
	case insYKGetSerial:
		return "GET SERIAL"
	case insYKGetMetadata:
		return "GET METADATA"
	case insYKAttest:
		return "ATTEST"
	}
	return fmt.Sprintf("INS %02X", ins)
}
