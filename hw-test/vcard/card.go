// Package vcard is a software model of a NIST SP 800-73-4 PIV card, in two
// flavours: a YubiKey 5.7 with Yubico's PIV extensions, and a government-style
// PIV card. It speaks command APDUs (Transmit) and keeps its state in a file,
// so the bench can attach it to pcscd through vpcd and every layer above is
// tested against the real PC/SC stack.
package vcard

import (
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"time"
)

// Profile selects what kind of card the model is.
type Profile string

// The two card profiles.
const (
	// ProfileYubiKey is a YubiKey 5.7: PIV plus Yubico's extensions
	// (version, serial, metadata, attestation, import, management).
	ProfileYubiKey Profile = "yubikey"
	// ProfilePIV is a government-style PIV card: card-issued keys and
	// certificates, CHUID, no Yubico instructions, no management access.
	ProfilePIV Profile = "piv"
)

// Card is one virtual PIV card. All methods are safe for concurrent use.
type Card struct {
	mu         sync.Mutex
	path       string
	st         *persistent
	saved      []byte // the state as last written to path
	touchDelay time.Duration
	genDelay   time.Duration  // how long GENERATE ASYMMETRIC KEY PAIR takes (SetGenerateDelay)
	opTimes    OperationTimes // SetOperationTimes

	vol    volatile
	panics int // recovered panics: a bug in the model, which the tests look for

	statsMu sync.Mutex
	stats   Stats
}

// volatile is the state a card loses on power-off or reset.
type volatile struct {
	app         application // the currently selected application
	pinVerified bool
	pinAlways   bool // the last command was a successful PIN VERIFY: one PIN-always use allowed
	mgmtAuth    bool
	challenge   *mgmtChallenge // outstanding management-key witness or challenge
	chain       *chain         // command chaining in progress
	pending     []byte         // response bytes waiting for GET RESPONSE
	lastTouch   time.Time      // for touch policy "cached"

	// The one-shot states above as they stood before the current command,
	// which used them up.
	cur struct {
		always    bool
		challenge *mgmtChallenge
	}
}

// application is what SELECT made current.
type application int

const (
	appNone       application = iota // after power-on: nothing selected
	appPIV                           // the PIV card application
	appManagement                    // Yubico's management application (yubikey profile)
	appOther                         // another application of the card (OTP, OpenPGP, CAC): it knows no PIV command
)

// chain accumulates the parts of a chained command (CLA bit 0x10).
type chain struct {
	ins, p1, p2 byte
	data        []byte
}

// maxChain bounds a chained command; the largest legitimate one is an
// RSA-4096 import or a certificate of a few kilobytes.
const maxChain = 16 * 1024

// Stats counts what the card has seen since it was opened or ResetStats.
type Stats struct {
	APDUs        int            `json:"apdus"`        // every command APDU received (chained parts and GET RESPONSE each count)
	Instructions map[string]int `json:"instructions"` // key: INS as two upper-case hex digits, e.g. "87"
	Signatures   int            `json:"signatures"`   // private-key operations completed (GA sign/decrypt/ECDH)
	PINVerifies  int            `json:"pin_verifies"` // VERIFY commands carrying a PIN (not the empty status form)
	BytesIn      int            `json:"bytes_in"`     // command APDU bytes received
	BytesOut     int            `json:"bytes_out"`    // response bytes sent, SW included
}

// Open loads the card state from path, or creates a factory-fresh card of the
// profile when the file does not exist. A new card's certificates are issued
// by the bench CA in DefaultCADir(path). State is saved atomically (temp file
// + rename, 0600) after every change.
func Open(path string, profile Profile) (*Card, error) {
	return open(path, profile, func() (*CA, error) { return BenchCA(DefaultCADir(path)) })
}

// OpenWithCA is Open with the bench CA given by the caller, so many cards can
// share one CA.
func OpenWithCA(path string, profile Profile, ca *CA) (*Card, error) {
	return open(path, profile, func() (*CA, error) { return ca, nil })
}

func open(path string, profile Profile, ca func() (*CA, error)) (*Card, error) {
	if profile != ProfileYubiKey && profile != ProfilePIV {
		return nil, fmt.Errorf("vcard: unknown profile %q (use %q or %q)", profile, ProfileYubiKey, ProfilePIV)
	}
	c := &Card{path: path}
	st, raw, err := loadState(path)
	switch {
	case err == nil:
		if st.Profile != profile {
			return nil, fmt.Errorf("vcard: %s holds a %s card, not %s: use another state file", path, st.Profile, profile)
		}
		c.st, c.saved = st, raw
	case errors.Is(err, fs.ErrNotExist):
		authority, err := ca()
		if err != nil {
			return nil, err
		}
		if c.st, err = factory(profile, authority); err != nil {
			return nil, err
		}
		if err := c.save(); err != nil {
			return nil, fmt.Errorf("vcard: writing new card state: %w", err)
		}
	default:
		return nil, err
	}
	c.stats.Instructions = map[string]int{}
	return c, nil
}

// Profile reports the kind of card.
func (c *Card) Profile() Profile { return c.st.Profile }

// ATR returns the answer-to-reset: a real YubiKey 5 ATR for the yubikey
// profile, a T=1 ATR of a generic PIV card for the piv profile, a Java
// Card's with QuirkYubicoCompatible; with QuirkATRBare, the same without
// card capabilities (bareATR). vpcd asks for it at every power-up, so a
// quirk change shows from the next one.
func (c *Card) ATR() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	atr := atrs[c.st.Profile]
	if c.has(QuirkYubicoCompatible) {
		atr = javaCardATR
	}
	if c.has(QuirkATRBare) {
		return bareATR(atr)
	}
	return append([]byte(nil), atr...)
}

// Reset is a power cycle or warm reset: no application selected, every
// security status cleared, outstanding chains and responses dropped.
func (c *Card) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.vol = volatile{lastTouch: c.vol.lastTouch}
}

// SetTouchDelay sets how long an operation with a touch-policy key waits for
// the simulated touch.
func (c *Card) SetTouchDelay(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.touchDelay = d
}

// SetGenerateDelay sets how long key generation takes before the card answers: a
// real card takes seconds to a minute for an RSA key, which a command shows progress
// for.
func (c *Card) SetGenerateDelay(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.genDelay = d
}

// Stats returns a copy of the counters.
func (c *Card) Stats() Stats {
	c.statsMu.Lock()
	defer c.statsMu.Unlock()
	s := c.stats
	s.Instructions = make(map[string]int, len(c.stats.Instructions))
	for k, v := range c.stats.Instructions {
		s.Instructions[k] = v
	}
	return s
}

// ResetStats sets every counter to zero.
func (c *Card) ResetStats() {
	c.statsMu.Lock()
	defer c.statsMu.Unlock()
	c.stats = Stats{Instructions: map[string]int{}}
}

func (c *Card) countIn(apdu []byte) {
	c.statsMu.Lock()
	defer c.statsMu.Unlock()
	c.stats.APDUs++
	c.stats.BytesIn += len(apdu)
	if len(apdu) >= 2 {
		c.stats.Instructions[fmt.Sprintf("%02X", apdu[1])]++
	}
}

func (c *Card) countOut(resp []byte) {
	c.statsMu.Lock()
	defer c.statsMu.Unlock()
	c.stats.BytesOut += len(resp)
}

func (c *Card) countSignature() {
	c.statsMu.Lock()
	defer c.statsMu.Unlock()
	c.stats.Signatures++
}

func (c *Card) countPINVerify() {
	c.statsMu.Lock()
	defer c.statsMu.Unlock()
	c.stats.PINVerifies++
}

// Transmit processes one command APDU and returns the response data followed
// by SW1 SW2. It never panics: a bug in the model answers 6F00 and drops the
// volatile state, the state file stays as it was last saved.
func (c *Card) Transmit(apdu []byte) (resp []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.countIn(apdu)
	defer func() {
		if r := recover(); r != nil {
			c.panics++
			c.restore()
			c.vol = volatile{}
			resp = sw(nil, swNoPreciseDiagnostic)
		}
		c.countOut(resp)
	}()
	return c.transmit(apdu)
}

func (c *Card) transmit(apdu []byte) []byte {
	cmd, ok := parseAPDU(apdu)
	if refuse := c.transportRefusal(cmd); ok && refuse != 0 {
		// Refused by the runtime: no application saw it, nothing changes.
		return sw(nil, refuse)
	}
	refuse := swWrongLength // fewer than 4 bytes
	if len(apdu) >= 4 {
		refuse = checkCLA(cmd.cla)
	}
	if refuse == 0 && cmd.ins == insGetResponse {
		if !ok {
			return sw(nil, swWrongLength)
		}
		return c.getResponse(cmd)
	}
	c.vol.pending = nil // any other command abandons an unread response
	var h handler
	if refuse == 0 {
		if h = c.handler(cmd.ins); h == nil {
			refuse = swInsNotSupported
		} else if !ok {
			refuse = swWrongLength
		}
	}
	if refuse != 0 || cmd.cla&0x10 == 0 {
		// Every command but a part of a chain uses up the one-shot
		// security states: a PIN VERIFY immediately before a PIN-always
		// key, a management-key challenge for the next GENERAL
		// AUTHENTICATE.
		c.vol.cur.always, c.vol.pinAlways = c.vol.pinAlways, false
		c.vol.cur.challenge, c.vol.challenge = c.vol.challenge, nil
	}
	if refuse != 0 {
		c.vol.chain = nil
		return sw(nil, refuse)
	}
	if ch := c.vol.chain; ch != nil && (ch.ins != cmd.ins || ch.p1 != cmd.p1 || ch.p2 != cmd.p2) {
		c.vol.chain = nil // a different command abandons the chain
	}
	if cmd.cla&0x10 != 0 {
		if c.vol.chain == nil {
			c.vol.chain = &chain{ins: cmd.ins, p1: cmd.p1, p2: cmd.p2}
		}
		if len(c.vol.chain.data)+len(cmd.data) > maxChain {
			c.vol.chain = nil
			return sw(nil, swWrongLength)
		}
		c.vol.chain.data = append(c.vol.chain.data, cmd.data...)
		return sw(nil, swOK)
	}
	if ch := c.vol.chain; ch != nil {
		if len(ch.data)+len(cmd.data) > maxChain {
			c.vol.chain = nil
			return sw(nil, swWrongLength)
		}
		cmd.data = append(ch.data, cmd.data...)
		c.vol.chain = nil
	}
	data, status := h(c, cmd)
	if status != swOK {
		return sw(nil, status)
	}
	return c.respond(data, cmd.responseLimit())
}

// checkCLA returns the status word for a class byte the card does not accept,
// or 0. Only the interindustry class without secure messaging on the basic
// channel is supported, with or without the chaining bit.
func checkCLA(cla byte) int {
	switch {
	case cla&^0x10 == 0:
		return 0
	case cla&0xE0 != 0 || cla == 0xFF:
		return swClassNotSupported
	case cla&0x0C != 0:
		return swSecureMessaging
	case cla&0x03 != 0:
		return swLogicalChannel
	}
	return swClassNotSupported
}

// respond sends up to limit bytes of data now and keeps the rest for GET
// RESPONSE, announced with 61xx.
func (c *Card) respond(data []byte, limit int) []byte {
	if len(data) <= limit {
		return sw(append([]byte(nil), data...), swOK)
	}
	c.vol.pending = data[limit:]
	rest := len(c.vol.pending)
	if rest > 0xFF {
		rest = 0
	}
	return sw(append([]byte(nil), data[:limit]...), swMoreData|rest)
}

// getResponse is GET RESPONSE (00 C0 00 00 Le): the next part of a long answer.
func (c *Card) getResponse(cmd command) []byte {
	if cmd.p1 != 0 || cmd.p2 != 0 {
		return sw(nil, swIncorrectP1P2)
	}
	if len(cmd.data) != 0 {
		return sw(nil, swWrongLength)
	}
	if c.vol.pending == nil {
		return sw(nil, swConditionsNotMet)
	}
	data := c.vol.pending
	c.vol.pending = nil
	return c.respond(data, cmd.responseLimit())
}

// handler processes one complete command and returns the response data and
// the status word.
type handler func(c *Card, cmd command) ([]byte, int)

// Instructions.
const (
	insVerify          = 0x20
	insChangeReference = 0x24
	insResetRetry      = 0x2C
	insGenerate        = 0x47
	insAuthenticate    = 0x87
	insSelect          = 0xA4
	insGetResponse     = 0xC0
	insGetData         = 0xCB
	insPutData         = 0xDB
	// Yubico extensions.
	insMoveKey       = 0xF6
	insGetMetadata   = 0xF7
	insGetSerial     = 0xF8
	insAttest        = 0xF9
	insSetPINRetries = 0xFA
	insReset         = 0xFB
	insGetVersion    = 0xFD
	insImportKey     = 0xFE
	insSetMgmtKey    = 0xFF
	insDeviceInfo    = 0x1D // in the management application
)

var pivHandlers = map[byte]handler{
	insGetData:         (*Card).cmdGetData,
	insPutData:         (*Card).cmdPutData,
	insVerify:          (*Card).cmdVerify,
	insChangeReference: (*Card).cmdChangeReference,
	insResetRetry:      (*Card).cmdResetRetry,
	insAuthenticate:    (*Card).cmdAuthenticate,
	insGenerate:        (*Card).cmdGenerate,
}

var yubicoHandlers = map[byte]handler{
	insGetVersion:    (*Card).cmdGetVersion,
	insGetSerial:     (*Card).cmdGetSerial,
	insGetMetadata:   (*Card).cmdGetMetadata,
	insAttest:        (*Card).cmdAttest,
	insImportKey:     (*Card).cmdImportKey,
	insSetMgmtKey:    (*Card).cmdSetMgmtKey,
	insSetPINRetries: (*Card).cmdSetPINRetries,
	insReset:         (*Card).cmdReset,
	insMoveKey:       (*Card).cmdMoveKey,
}

// handler returns the handler of an instruction in the current application,
// nil when the application (or, with none selected, the card) does not know
// it.
func (c *Card) handler(ins byte) handler {
	switch {
	case ins == insSelect:
		return (*Card).cmdSelect
	case c.vol.app == appPIV && pivHandlers[ins] != nil:
		return pivHandlers[ins]
	case c.vol.app == appPIV && c.st.Profile == ProfileYubiKey:
		return yubicoHandlers[ins]
	case c.vol.app == appManagement && ins == insDeviceInfo:
		return (*Card).cmdDeviceInfo
	}
	return nil
}

// save writes the state after a completed change. When the write fails the
// in-memory state goes back to what the file holds, so the card never acts on
// a change it could not keep; the caller answers 6581.
func (c *Card) save() error {
	b, err := c.st.encode()
	if err == nil {
		err = writeFileAtomic(c.path, b)
	}
	if err != nil {
		c.restore()
		return err
	}
	c.saved = b
	return nil
}

// commit is save for command handlers: the status word to answer.
func (c *Card) commit() int {
	if c.save() != nil {
		return swMemoryFailure
	}
	return swOK
}

// restore resets the in-memory state to the last saved one.
func (c *Card) restore() {
	if c.saved == nil {
		return
	}
	if st, err := decodeState(c.saved); err == nil {
		c.st = st
	}
}
